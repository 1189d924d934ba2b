"""The cycle: wires providers, storage, aggregation, indicators, patterns and notifications."""

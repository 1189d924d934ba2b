"""Storage: typed models, the engine, bulk upserts and locks. Dialect differences live here."""

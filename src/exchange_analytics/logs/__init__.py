"""Logging (SPEC §10): structlog, JSON lines in files, readable key=value on a terminal."""

from exchange_analytics.logs.setup import LOG_FILES, configure_logging

__all__ = ["LOG_FILES", "configure_logging"]

"""Configuration: the one frozen settings object and secret redaction."""

from exchange_analytics.config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]

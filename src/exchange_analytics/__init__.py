"""Exchange Analytics: a cron-driven FX analytics pipeline.

The package folders follow the data flow of one cron cycle:
providers -> storage -> aggregation -> indicators -> patterns -> notifications,
with monitoring beside them and ``pipeline`` wiring them together.
"""

__version__ = "0.1.0"

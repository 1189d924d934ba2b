"""Technical indicators (SPEC §6): TA-Lib on closes, rows for ``technical_indicators``.

Pure functions: ``compute_indicators`` turns a bar frame into an indicator frame (same index),
``indicator_rows`` turns that into table rows, ``parse_indicator_extras`` reads the
``INDICATORS`` setting. ``TRAILING_WINDOW`` / ``trailing_window`` say how many bars of history
a per-cycle computation must load so that what it writes equals the full-history values.

Example::

    extras = parse_indicator_extras("SMA:20,ATR:14")
    frame = compute_indicators(bars.iloc[-(trailing_window(extras) + new_bars):], extras)
    rows = indicator_rows("USD/JPY", Timeframe.H1, frame, since=first_new_bar)
"""

from exchange_analytics.indicators.compute import (
    TRAILING_WINDOW,
    bars_needed,
    compute_indicators,
    trailing_window,
)
from exchange_analytics.indicators.rows import indicator_rows, specs_of
from exchange_analytics.indicators.specs import (
    DEFAULT_INDICATORS,
    INDICATORS_FORM,
    IndicatorSpec,
    parse_indicator_extras,
    spec_for_column,
)

__all__ = [
    "DEFAULT_INDICATORS",
    "INDICATORS_FORM",
    "TRAILING_WINDOW",
    "IndicatorSpec",
    "bars_needed",
    "compute_indicators",
    "indicator_rows",
    "parse_indicator_extras",
    "spec_for_column",
    "specs_of",
    "trailing_window",
]

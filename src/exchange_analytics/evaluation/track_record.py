"""Track-record rows (SPEC §17, table ``pattern_track_records``) from an evaluation.

A pattern message quotes how the same pair + pattern + direction did over the trailing
``TRACK_RECORD_DAYS``; computing that per message would be far too slow, so
``patterns evaluate --store`` computes it once (at most daily, from cron) and
``storage.track_records.upsert_track_records`` stores one row per pair, pattern, direction and
window. :func:`track_record_rows` is the pure mapping from ``evaluate_range`` rows to those
rows; :func:`track_record` runs the evaluation and maps it.

Patterns without levels (divergence, rsi_battle) get a row with their counts and null
figures; their move after the signal is in ``details``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from exchange_analytics.evaluation.evaluate import (
    DEFAULT_HORIZON,
    DEFAULT_SPREAD_PIPS,
    PATTERNS,
    RangeInputs,
    evaluate_range,
)
from exchange_analytics.patterns.thresholds import Thresholds

_DETAIL_KEYS = (
    "detections",
    "take_profit_pips",
    "stop_loss_pips",
    "median_bars_to_outcome",
    "mae_pips",
    "mfe_pips",
    "move_after",
)


def _pair(values: Sequence[float] | None) -> tuple[float | None, float | None]:
    return (values[0], values[1]) if values else (None, None)


def track_record_rows(
    rows: Sequence[dict[str, Any]],
    *,
    pair: str,
    window_days: int,
    period_from: datetime,
    period_to: datetime,
    computed_at: datetime,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """One ``pattern_track_records`` row per evaluated pattern and direction.

    ``settings``: what the figures depend on (horizon, spread, cooldown, day boundary…), kept
    in ``details`` so a reader knows what was measured.
    """
    out = []
    for row in rows:
        base = row.get("baseline") or {}
        low, high = _pair(row.get("hit_rate_ci"))
        edge_low, edge_high = _pair(row.get("edge_ci"))
        details = {key: row[key] for key in _DETAIL_KEYS if key in row}
        details["baseline"] = base
        details["settings"] = settings
        out.append(
            {
                "currency_pair": pair,
                "pattern_type": row["pattern"],
                "direction": row["direction"],
                "window_days": window_days,
                "period_from": period_from,
                "period_to": period_to,
                "computed_at": computed_at,
                "signals": row["signals"],
                "take_profit": row.get("take_profit", 0),
                "stop_loss": row.get("stop_loss", 0),
                "ambiguous": row.get("ambiguous", 0),
                "open": row.get("open", 0),
                "hit_rate": row.get("hit_rate"),
                "hit_rate_low": low,
                "hit_rate_high": high,
                "expectancy_r": row.get("expectancy_r"),
                "baseline_entries": base.get("entries"),
                "baseline_hit_rate": base.get("hit_rate"),
                "baseline_expectancy_r": base.get("expectancy_r"),
                "edge": row.get("edge"),
                "edge_low": edge_low,
                "edge_high": edge_high,
                "details": details,
            }
        )
    return out


def track_record(
    inputs: RangeInputs,
    thresholds: Thresholds,
    *,
    window_days: int,
    computed_at: datetime,
    cooldown_minutes: int,
    horizon: int = DEFAULT_HORIZON,
    spread_pips: float = DEFAULT_SPREAD_PIPS,
    patterns: Sequence[str] = PATTERNS,
) -> list[dict[str, Any]]:
    """Evaluate ``inputs`` and return its ``pattern_track_records`` rows."""
    rows = evaluate_range(
        inputs,
        thresholds,
        cooldown_minutes=cooldown_minutes,
        horizon=horizon,
        spread_pips=spread_pips,
        patterns=patterns,
    )
    settings = {
        "horizon": horizon,
        "spread_pips": spread_pips,
        "cooldown_minutes": cooldown_minutes,
        "day_boundary": inputs.day_boundary,
    }
    return track_record_rows(
        rows,
        pair=inputs.pair,
        window_days=window_days,
        period_from=inputs.start.to_pydatetime(),
        period_to=inputs.end.to_pydatetime(),
        computed_at=computed_at,
        settings=settings,
    )

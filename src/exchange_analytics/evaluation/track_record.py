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
from typing import TypedDict

from exchange_analytics.domain import DayBoundary
from exchange_analytics.evaluation.evaluate import (
    DEFAULT_HORIZON,
    DEFAULT_SPREAD_PIPS,
    PATTERNS,
    EvaluationRow,
    RangeInputs,
    evaluate_range,
)
from exchange_analytics.evaluation.scoring import BaselineFigures, MoveAfter
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.patterns.thresholds import Thresholds


class TrackRecordSettings(TypedDict):
    """What the figures depend on, kept in ``details`` so a reader knows what was measured."""

    horizon: int
    spread_pips: float
    cooldown_minutes: int
    day_boundary: DayBoundary


def _pair(values: Sequence[float] | None) -> tuple[float | None, float | None]:
    return (values[0], values[1]) if values else (None, None)


def _figures(row: EvaluationRow) -> dict[str, object]:
    """The outcome columns; counts of 0 and null figures for a pattern without levels."""
    if "move_after" in row:
        return {
            "take_profit": 0,
            "stop_loss": 0,
            "ambiguous": 0,
            "open": 0,
            "hit_rate": None,
            "hit_rate_low": None,
            "hit_rate_high": None,
            "expectancy_r": None,
            "baseline_entries": row["baseline"]["entries"],
            "baseline_hit_rate": None,
            "baseline_expectancy_r": None,
            "edge": None,
            "edge_low": None,
            "edge_high": None,
        }
    base = row["baseline"]
    low, high = _pair(row["hit_rate_ci"])
    edge_low, edge_high = _pair(row["edge_ci"])
    return {
        "take_profit": row["take_profit"],
        "stop_loss": row["stop_loss"],
        "ambiguous": row["ambiguous"],
        "open": row["open"],
        "hit_rate": row["hit_rate"],
        "hit_rate_low": low,
        "hit_rate_high": high,
        "expectancy_r": row["expectancy_r"],
        "baseline_entries": base["entries"],
        "baseline_hit_rate": base["hit_rate"],
        "baseline_expectancy_r": base["expectancy_r"],
        "edge": row["edge"],
        "edge_low": edge_low,
        "edge_high": edge_high,
    }


def _details(row: EvaluationRow, settings: TrackRecordSettings) -> JSONObject:
    """The ``details`` column: the figures with no column of their own, baseline, settings."""
    details: JSONObject = {"detections": row["detections"]}
    if "move_after" in row:
        details["move_after"] = _move_json(row["move_after"])
        details["baseline"] = {
            "entries": row["baseline"]["entries"],
            "move_after": _move_json(row["baseline"]["move_after"]),
        }
    else:
        details["take_profit_pips"] = row["take_profit_pips"]
        details["stop_loss_pips"] = row["stop_loss_pips"]
        details["median_bars_to_outcome"] = row["median_bars_to_outcome"]
        details["mae_pips"] = row["mae_pips"]
        details["mfe_pips"] = row["mfe_pips"]
        details["baseline"] = _baseline_json(row["baseline"])
    details["settings"] = {
        "horizon": settings["horizon"],
        "spread_pips": settings["spread_pips"],
        "cooldown_minutes": settings["cooldown_minutes"],
        "day_boundary": settings["day_boundary"],
    }
    return details


def _move_json(move: MoveAfter) -> JSONObject:
    """The move after, per horizon (median and quartiles), as the JSON column holds it."""
    out: JSONObject = {}
    for horizon, quartiles in move.items():
        figures: JSONObject = dict(quartiles)
        out[horizon] = figures
    return out


def _baseline_json(base: BaselineFigures) -> JSONObject:
    """The baseline's figures, in the order ``scoring.baseline_summary`` builds them."""
    return {
        "entries": base["entries"],
        "take_profit": base["take_profit"],
        "stop_loss": base["stop_loss"],
        "ambiguous": base["ambiguous"],
        "open": base["open"],
        "hit_rate": base["hit_rate"],
        "expectancy_r": base["expectancy_r"],
    }


def track_record_rows(
    rows: Sequence[EvaluationRow],
    *,
    pair: str,
    window_days: int,
    period_from: datetime,
    period_to: datetime,
    computed_at: datetime,
    settings: TrackRecordSettings,
) -> list[dict[str, object]]:
    """One ``pattern_track_records`` row per evaluated pattern and direction."""
    return [
        {
            "currency_pair": pair,
            "pattern_type": row["pattern"],
            "direction": row["direction"],
            "window_days": window_days,
            "period_from": period_from,
            "period_to": period_to,
            "computed_at": computed_at,
            "signals": row["signals"],
            **_figures(row),
            "details": _details(row, settings),
        }
        for row in rows
    ]


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
) -> list[dict[str, object]]:
    """Evaluate ``inputs`` and return its ``pattern_track_records`` rows."""
    rows = evaluate_range(
        inputs,
        thresholds,
        cooldown_minutes=cooldown_minutes,
        horizon=horizon,
        spread_pips=spread_pips,
        patterns=patterns,
    )
    settings: TrackRecordSettings = {
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

"""``patterns calibrate``: passes from the grid, choice on training only, the chosen settings file.

Choice (per pair, window, pattern and direction): among the grid's settings whose training part
produced at least ``min_signals`` signals and at least one decided outcome, the one with the
highest training expectancy in R; ties go to the earlier setting in grid order. It is then scored
on the test part only (out of sample). When no setting qualifies the window reports no choice.

Report rows put beside each choice: the seed (SPEC §7 defaults and the configured cooldown) on
the same training and test parts, and the baseline (every 5m close, same levels) of the test
part. The summary pools every window of a pair, pattern and direction: counts add up and the
expectancy is the total R over the total decided trades.

The chosen-settings file (``--out``) holds one setting per pattern, because ``PATTERN_THRESHOLDS``
has one set of thresholds per pattern (the mirror direction is derived from it): the setting
chosen most often over every pair, window and direction, ties going to the one chosen in the
latest window. It is written as one line of JSON with dotted keys, which ``PATTERN_THRESHOLDS``
accepts as it is. The cooldown is not a threshold (``NOTIFY_COOLDOWN_MINUTES`` is global), so it
and the required timeframes (the live cycle always requires all four) are reported, not
written.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

from exchange_analytics.evaluation.grid import PatternGrid, Trade, overrides_for_pass, passes
from exchange_analytics.evaluation.walkforward import (
    PartFigures,
    Pass,
    Setting,
    TaskRow,
    Variant,
    WindowDocument,
)
from exchange_analytics.jsontypes import JSONObject
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS

__all__ = [
    "CalibrationReport",
    "Choice",
    "ChosenSetting",
    "Pass",
    "Pooled",
    "SummaryRow",
    "choose",
    "chosen_settings",
    "grid_passes",
    "pool",
    "summary",
    "thresholds_file",
]


class Choice(TypedDict):
    """One pair, pattern, direction and window: the choice, in/out of sample, beside the seed."""

    pair: str
    pattern: str
    direction: str
    window: int
    chosen: Setting | None
    in_sample: PartFigures | None
    out_of_sample: PartFigures | None
    baseline_out_of_sample: PartFigures | None
    seed_in_sample: PartFigures | None
    seed_out_of_sample: PartFigures | None
    seed_baseline_out_of_sample: PartFigures | None


class Pooled(TypedDict):
    """Window figures added up (:func:`pool`)."""

    signals: int
    take_profit: int
    stop_loss: int
    windows: int
    hit_rate: float | None
    expectancy_r: float | None


class SummaryRow(TypedDict):
    """Per pair, pattern and direction: every window pooled (:func:`summary`)."""

    pair: str
    pattern: str
    direction: str
    windows: int
    windows_with_choice: int
    in_sample: Pooled | None
    out_of_sample: Pooled | None
    seed_in_sample: Pooled | None
    seed_out_of_sample: Pooled | None
    baseline_out_of_sample: Pooled | None


class ChosenSetting(TypedDict):
    """Per pattern: the setting chosen most often (read back from JSON) and in how many windows."""

    setting: JSONObject
    chosen_in: int


#: ``patterns calibrate --json`` (functional form because ``from`` is a keyword).
CalibrationReport = TypedDict(
    "CalibrationReport",
    {
        "pairs": list[str],
        "from": str,
        "to": str,
        "train_weeks": int,
        "test_weeks": int,
        "horizon": int,
        "spread_pips": float,
        "min_signals": int,
        "executor": str,
        "tasks": int,
        "windows": list[WindowDocument],
        "summary": list[SummaryRow],
        "chosen_settings": dict[str, ChosenSetting],
        "out": str | None,
        "per_window": list[Choice],
    },
)


def grid_passes(grid: Mapping[str, PatternGrid], cooldown_minutes: int) -> list[Pass]:
    """The seed pass (−1) and one pass per detection-setting index of the grid."""
    seed = tuple(
        Variant(
            pattern,
            -1,
            {},
            Trade(
                float(getattr(DEFAULT_THRESHOLDS, pattern).take_profit_pips),
                float(getattr(DEFAULT_THRESHOLDS, pattern).stop_loss_pips),
                cooldown_minutes,
            ),
        )
        for pattern in grid
    )
    out: list[Pass] = [(-1, {}, seed)]
    for k in range(passes(grid)):
        variants = []
        for pattern, pattern_grid in grid.items():
            if k >= len(pattern_grid.detection):
                continue
            overrides = pattern_grid.detection[k]
            for t, trade in enumerate(pattern_grid.trades):
                index = k * len(pattern_grid.trades) + t
                variants.append(Variant(pattern, index, overrides, trade))
        out.append((k, overrides_for_pass(grid, k), tuple(variants)))
    return out


def _expectancy(row: TaskRow) -> float | None:
    return row["train"]["expectancy_r"]


def _qualifies(row: TaskRow, min_signals: int) -> bool:
    return row["train"]["signals"] >= min_signals and _expectancy(row) is not None


def _best(qualified: Iterable[TaskRow]) -> TaskRow | None:
    """The highest training expectancy; the first one in grid order on a tie."""
    best: TaskRow | None = None
    best_r = 0.0
    for row in qualified:
        r = _expectancy(row)
        if r is not None and (best is None or r > best_r):
            best, best_r = row, r
    return best


def choose(rows: Iterable[TaskRow], min_signals: int) -> list[Choice]:
    """One entry per pair, pattern, direction and window: choice, in/out of sample, seed."""
    groups: dict[tuple[str, str, str, int], list[TaskRow]] = {}
    for row in rows:
        key = (row["pair"], row["pattern"], row["direction"], row["window"])
        groups.setdefault(key, []).append(row)
    out: list[Choice] = []
    for key in sorted(groups):
        candidates = sorted(groups[key], key=lambda r: (r["slot"] < 0, r["variant"]))
        seed = next((r for r in candidates if r["slot"] < 0), None)
        best = _best(r for r in candidates if r["slot"] >= 0 and _qualifies(r, min_signals))
        pair, pattern, direction, window = key
        out.append(
            {
                "pair": pair,
                "pattern": pattern,
                "direction": direction,
                "window": window,
                "chosen": None if best is None else best["setting"],
                "in_sample": None if best is None else best["train"],
                "out_of_sample": None if best is None else best["test"],
                "baseline_out_of_sample": _test_baseline(best or seed),
                "seed_in_sample": None if seed is None else seed["train"],
                "seed_out_of_sample": None if seed is None else seed["test"],
                "seed_baseline_out_of_sample": None if seed is None else seed["test_baseline"],
            }
        )
    return out


def _test_baseline(row: TaskRow | None) -> PartFigures | None:
    return None if row is None else row["test_baseline"]


def pool(parts: Sequence[PartFigures | None]) -> Pooled | None:
    """Add window figures up: counts, hit rate, expectancy = total R / decided trades."""
    present = [p for p in parts if p]
    if not present:
        return None
    signals = sum(int(p["signals"]) for p in present)
    take_profit = sum(int(p["take_profit"]) for p in present)
    stop_loss = sum(int(p["stop_loss"]) for p in present)
    decided = take_profit + stop_loss
    r_total = sum(float(p["r_total"]) for p in present)
    return {
        "signals": signals,
        "take_profit": take_profit,
        "stop_loss": stop_loss,
        "windows": len(present),
        "hit_rate": take_profit / decided if decided else None,
        "expectancy_r": r_total / decided if decided else None,
    }


def summary(choices: Sequence[Choice]) -> list[SummaryRow]:
    """Per pair, pattern and direction: pooled in-sample, out-of-sample, seed and baseline."""
    groups: dict[tuple[str, str, str], list[Choice]] = {}
    for entry in choices:
        groups.setdefault((entry["pair"], entry["pattern"], entry["direction"]), []).append(entry)
    out: list[SummaryRow] = []
    for (pair, pattern, direction), entries in groups.items():
        out.append(
            {
                "pair": pair,
                "pattern": pattern,
                "direction": direction,
                "windows": len(entries),
                "windows_with_choice": sum(1 for e in entries if e["chosen"] is not None),
                "in_sample": pool([e["in_sample"] for e in entries]),
                "out_of_sample": pool([e["out_of_sample"] for e in entries]),
                "seed_in_sample": pool([e["seed_in_sample"] for e in entries]),
                "seed_out_of_sample": pool([e["seed_out_of_sample"] for e in entries]),
                "baseline_out_of_sample": pool([e["baseline_out_of_sample"] for e in entries]),
            }
        )
    return out


def chosen_settings(choices: Sequence[Choice]) -> dict[str, ChosenSetting]:
    """Per pattern, the most frequent choice (ties: the one chosen in the latest window)."""
    counts: dict[str, Counter[str]] = {}
    latest: dict[str, dict[str, int]] = {}
    for entry in choices:
        if entry["chosen"] is None:
            continue
        text = json.dumps(entry["chosen"], sort_keys=True)
        counts.setdefault(entry["pattern"], Counter())[text] += 1
        seen = latest.setdefault(entry["pattern"], {})
        seen[text] = max(seen.get(text, -1), int(entry["window"]))
    out: dict[str, ChosenSetting] = {}
    for pattern, counter in counts.items():
        best = max(counter, key=lambda t: (counter[t], latest[pattern][t]))
        out[pattern] = {"setting": json.loads(best), "chosen_in": counter[best]}
    return out


def thresholds_file(chosen: Mapping[str, ChosenSetting]) -> str:
    """The chosen thresholds as one JSON line ``PATTERN_THRESHOLDS`` loads unchanged."""
    flat: JSONObject = {}
    for pattern in sorted(chosen):
        for name, value in sorted(chosen[pattern]["setting"].items()):
            if name not in ("cooldown_minutes", "timeframes"):
                flat[f"{pattern}.{name}"] = value
    return json.dumps(flat, sort_keys=True) + "\n"

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
from typing import Any

from exchange_analytics.evaluation.grid import PatternGrid, Trade, overrides_for_pass, passes
from exchange_analytics.evaluation.walkforward import Variant
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS

Pass = tuple[int, dict[str, dict[str, Any]], tuple[Variant, ...]]
_KEY = ("pair", "pattern", "direction", "window")


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


def _qualifies(row: Mapping[str, Any], min_signals: int) -> bool:
    train = row["train"]
    return bool(train["signals"] >= min_signals and train["expectancy_r"] is not None)


def choose(rows: Iterable[dict[str, Any]], min_signals: int) -> list[dict[str, Any]]:
    """One entry per pair, pattern, direction and window: choice, in/out of sample, seed."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in _KEY), []).append(row)
    out = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], k[3])):
        candidates = sorted(groups[key], key=lambda r: (r["slot"] < 0, r["variant"]))
        seed = next((r for r in candidates if r["slot"] < 0), None)
        qualified = [r for r in candidates if r["slot"] >= 0 and _qualifies(r, min_signals)]
        best = None
        for row in qualified:  # first maximum in grid order
            if best is None or row["train"]["expectancy_r"] > best["train"]["expectancy_r"]:
                best = row
        out.append(
            {
                **dict(zip(_KEY, key, strict=True)),
                "chosen": None if best is None else best["setting"],
                "in_sample": None if best is None else best["train"],
                "out_of_sample": None if best is None else best["test"],
                "baseline_out_of_sample": (best or seed or {}).get("test_baseline"),
                "seed_in_sample": None if seed is None else seed["train"],
                "seed_out_of_sample": None if seed is None else seed["test"],
                "seed_baseline_out_of_sample": None if seed is None else seed["test_baseline"],
            }
        )
    return out


def pool(parts: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """Add window figures up: counts, hit rate, expectancy = total R / decided trades."""
    present = [p for p in parts if p]
    if not present:
        return None
    total = {k: sum(int(p[k]) for p in present) for k in ("signals", "take_profit", "stop_loss")}
    decided = total["take_profit"] + total["stop_loss"]
    r_total = sum(float(p["r_total"]) for p in present)
    return {
        **total,
        "windows": len(present),
        "hit_rate": total["take_profit"] / decided if decided else None,
        "expectancy_r": r_total / decided if decided else None,
    }


def summary(choices: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per pair, pattern and direction: pooled in-sample, out-of-sample, seed and baseline."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for entry in choices:
        groups.setdefault((entry["pair"], entry["pattern"], entry["direction"]), []).append(entry)
    out = []
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


def chosen_settings(choices: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
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
    out = {}
    for pattern, counter in counts.items():
        best = max(counter, key=lambda t: (counter[t], latest[pattern][t]))
        out[pattern] = {"setting": json.loads(best), "chosen_in": counter[best]}
    return out


def thresholds_file(chosen: Mapping[str, Mapping[str, Any]]) -> str:
    """The chosen thresholds as one JSON line ``PATTERN_THRESHOLDS`` loads unchanged."""
    flat: dict[str, Any] = {}
    for pattern in sorted(chosen):
        for name, value in sorted(chosen[pattern]["setting"].items()):
            if name not in ("cooldown_minutes", "timeframes"):
                flat[f"{pattern}.{name}"] = value
    return json.dumps(flat, sort_keys=True) + "\n"

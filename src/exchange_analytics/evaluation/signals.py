"""Detections → signals: what ``replay`` over the same range would have notified.

``replay`` walks every stored 5m bar of the range in order with a fresh
:class:`~exchange_analytics.patterns.newness.NewnessTracker` (no state before the range: the
first bar has no "previous bar" and nothing was notified before it) and notifies the detections
decided ``new``: not also detected at the previous stored 5m bar, and not within the cooldown
of the same pattern + direction's last ``new``, measured between bar *closes*.

:func:`signals_from_detections` applies the same tracker, but steps only at bars with
detections (``detect_range`` returns only those): a bar without detections only resets the
tracker's "previous bar" to nothing, so when the previous stored bar had no detection the
tracker is told exactly that. The result is decision for decision what ``replay`` decides; an
integration test compares the two on real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd

from exchange_analytics.domain import Timeframe
from exchange_analytics.patterns.newness import Key, NewnessTracker, decide


class FiredPattern(Protocol):
    """What deciding needs of a detection (a ``PatternResult`` or the engine's lean form)."""

    @property
    def pattern_type(self) -> str: ...

    @property
    def direction(self) -> str: ...


Detections = Sequence[tuple[pd.Timestamp, Sequence[FiredPattern]]]


@dataclass(frozen=True, slots=True)
class Signal:
    """One notified detection: where it is in the bar arrays and the trade it implies."""

    pattern: str
    direction: str
    bar: pd.Timestamp
    position: int
    entry: float


@dataclass(frozen=True, slots=True)
class Decided:
    """Every detection in the range per (pattern, direction) and the signals among them."""

    detections: dict[tuple[str, str], int]
    signals: list[Signal]


def bar_positions(index: pd.DatetimeIndex, stamps: Sequence[pd.Timestamp]) -> np.ndarray:
    """Position of each detection bar in the 5m index (every detection bar is a stored bar)."""
    positions = index.get_indexer(pd.DatetimeIndex(list(stamps)))
    if (positions < 0).any():
        raise ValueError("a detection bar is not among the stored 5m bars")
    return np.asarray(positions, dtype=np.int64)


def signals_from_detections(
    detections: Detections,
    m5_index: pd.DatetimeIndex,
    closes: np.ndarray,
    first_position: int,
    cooldown_minutes: int,
) -> Decided:
    """Replay's newness and cooldown decisions over detections in bar order.

    ``first_position``: index in ``m5_index`` of the range's first bar (the tracker starts
    fresh there, as ``replay`` does). ``closes``: the 5m closes (the entry of each signal).
    """
    tracker = NewnessTracker(cooldown_minutes)
    counts: dict[tuple[str, str], int] = {}
    signals: list[Signal] = []
    positions = bar_positions(m5_index, [stamp for stamp, _ in detections])
    previous = first_position - 1
    for (stamp, results), position in zip(detections, positions, strict=True):
        if position < first_position:
            raise ValueError(f"detection at {stamp} is before the range's first bar")
        if position != previous + 1:
            tracker.previous_bar_keys = frozenset()
        keys = [(r.pattern_type, r.direction) for r in results]
        close_time = (stamp + Timeframe.M5.duration).to_pydatetime()
        decisions = tracker.step(keys, close_time)
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        for key, decision in decisions.items():
            if decision == "new":
                signals.append(
                    Signal(key[0], key[1], stamp, int(position), float(closes[position]))
                )
        previous = int(position)
    return Decided(counts, signals)


def signal_positions(
    positions: np.ndarray,
    m5_index: pd.DatetimeIndex,
    first_position: int,
    last_position: int,
    key: Key,
    cooldown_minutes: int,
) -> np.ndarray:
    """The same decisions for one pattern + direction given as bar positions (sorted).

    For the columnar engine output (``patterns.engine.detect_columns``), where a detection is
    a set of condition masks rather than a list of results. Keys never interact in
    :func:`~exchange_analytics.patterns.newness.decide`, so deciding one key alone is
    deciding it among all the others. Only positions in [first, last] count.
    """
    inside = positions[(positions >= first_position) & (positions <= last_position)]
    chosen: list[int] = []
    previous = -2
    last_new: datetime | None = None
    for position in inside.tolist():
        previous_keys = (key,) if position == previous + 1 else ()
        now = (m5_index[position] + Timeframe.M5.duration).to_pydatetime()
        if decide(key, previous_keys, last_new, now, cooldown_minutes) == "new":
            chosen.append(position)
            last_new = now
        previous = position
    return np.asarray(chosen, dtype=np.int64)

"""The cycle's data-quality steps told what they used to read (issue 17): the jump guard
with the newest stored bar known, the feed watch with the newest bar and its state known.
Each must decide what the reading version decided."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.health.feed_watch import STUCK_RUNS, FeedState, observe
from exchange_analytics.pipeline import data_quality
from exchange_analytics.pipeline.data_quality import FeedWatch, StoredBar

T0 = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)  # a Thursday: the market is open
BAR = timedelta(minutes=5)


def _candle(at: datetime, close: float) -> Candle:
    return Candle(at, close, close, close, close)


class NoConnection:
    """A connection the code under test must not use."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"read the database ({name}) although the bar was known")


async def test_known_newest_bar_is_the_previous_close_without_a_read() -> None:
    candles = [_candle(T0 + BAR, 100.0), _candle(T0 + 2 * BAR, 150.0)]
    kept, held = await data_quality.guard_jumps(
        NoConnection(),  # a stand-in that fails on any use
        "USD/JPY",
        Timeframe.M5,
        candles,
        10.0,
        "test",
        StoredBar(T0, 100.5),
    )
    assert [c.timestamp for c in kept] == [T0 + BAR]
    assert [h.timestamp for h in held] == [T0 + 2 * BAR]


async def test_a_known_bar_not_before_the_candles_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[datetime] = []

    async def previous_close(_conn: object, _pair: str, _tf: Timeframe, before: datetime) -> float:
        asked.append(before)
        return 100.0

    monkeypatch.setattr(data_quality.bar_checks, "previous_close", previous_close)
    candles = [_candle(T0, 200.0)]
    kept, held = await data_quality.guard_jumps(
        NoConnection(),  # previous_close is replaced
        "USD/JPY",
        Timeframe.M5,
        candles,
        10.0,
        "test",
        StoredBar(T0, 200.0),
    )
    assert asked == [T0]
    assert kept == [] and len(held) == 1


def test_newest_of_follows_the_stored_candles() -> None:
    before = StoredBar(T0, 1.0)
    assert StoredBar.newest_of([], before) is before
    assert StoredBar.newest_of([_candle(T0 - BAR, 2.0)], before) is before
    assert StoredBar.newest_of([_candle(T0 + 2 * BAR, 3.0), _candle(T0 + BAR, 2.0)], before) == (
        StoredBar(T0 + 2 * BAR, 3.0)
    )


@pytest.mark.parametrize("stale", [0, STUCK_RUNS - 1, STUCK_RUNS])
@pytest.mark.parametrize("stored", [[], [T0 - BAR], [T0 + BAR, T0 + 2 * BAR]])
def test_the_watch_sees_the_newest_stored_bar_the_read_would_return(
    stale: int, stored: list[datetime]
) -> None:
    """What ``watch_feed`` read after the fetch (the newest stored 5m bar) is the newest of
    the bar known at the start and the bars the fetch stored."""
    now = T0 + 3 * BAR + timedelta(seconds=30)
    previous = FeedState(T0, stale)
    watch = FeedWatch("USD/JPY", previous, T0, now)
    watch.stored(stored)
    read = max([T0, *stored])
    assert watch.latest == read
    assert observe(watch.previous, watch.latest, now) == observe(previous, read, now)

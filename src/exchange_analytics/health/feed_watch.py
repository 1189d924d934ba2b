"""A stuck feed is an alarm, not a success (SPEC §3.5). Pure: the clock is passed in.

A provider that keeps answering 200 with nothing new looks like a quiet market to every other
check: the run succeeds, only the data ages. So each run notes, per pair, whether a new closed
5m bar arrived. While the market is open, ``STUCK_RUNS`` (3) runs in a row without one make
the pair *stuck*: the run is ``partial`` with "provider returned no new bars since T" and the
health check marks the pair degraded. Runs while the market is closed (the weekend, and the
two days a year when the FX market is formally open but no provider sends bars: 25 December
and 1 January) neither count nor break the streak's reset: they reset it, because a feed that
is quiet while nothing trades is not stuck.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from exchange_analytics.health import market_hours

STUCK_RUNS = 3
#: (month, day) in New York on which FX providers send no bars although the week is open.
HOLIDAYS = ((12, 25), (1, 1))
_BAR = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the previous runs saw for one pair."""

    #: Open time of the newest stored 5m bar the last run saw.
    latest: datetime | None = None
    #: Consecutive open-market runs without a new closed bar.
    stale_runs: int = 0

    @property
    def stuck(self) -> bool:
        return self.stale_runs >= STUCK_RUNS

    @property
    def since(self) -> datetime | None:
        """When the newest bar closed: "no new bars since" this."""
        return None if self.latest is None else self.latest + _BAR


def is_trading(now: datetime) -> bool:
    """Whether a closed 5m bar could be expected at ``now``: the market is open now and was
    open for the last full bar, and it is not a no-bar holiday."""
    if not (market_hours.is_market_open(now) and market_hours.is_market_open(now - 2 * _BAR)):
        return False
    local = now.astimezone(market_hours.NEW_YORK)
    return (local.month, local.day) not in HOLIDAYS


def newest_due(now: datetime) -> datetime:
    """Open time of the newest 5m bar that has closed by ``now``."""
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % 300, tz=now.tzinfo) - _BAR


def observe(previous: FeedState, latest: datetime | None, now: datetime) -> FeedState:
    """The state after a run that found ``latest`` as the newest stored 5m bar at ``now``.

    A run counts as stale only when a newer bar was due: two runs within one 5-minute
    interval (a manual run beside cron, a replay repeating one ``--as-of``) have nothing new
    to fetch and are not a stuck feed.
    """
    advanced = latest is not None and (previous.latest is None or latest > previous.latest)
    caught_up = latest is not None and latest >= newest_due(now)
    if advanced or caught_up or not is_trading(now):
        return FeedState(latest, 0)
    return FeedState(latest, previous.stale_runs + 1)


def stuck_message(state: FeedState) -> str:
    since = "the first run" if state.since is None else state.since.isoformat()
    return f"provider returned no new bars since {since} ({state.stale_runs} runs in a row)"

"""The shared retry schedule (``exchange_analytics.retry``) and the three users of it."""

from __future__ import annotations

import random

import pytest

from exchange_analytics.errors import ConfigurationError
from exchange_analytics.notifications.discord import RetryPolicy as DiscordPolicy
from exchange_analytics.providers.http import RetryPolicy as HttpPolicy
from exchange_analytics.retry import Backoff


@pytest.mark.parametrize(
    ("retry", "ceiling"),
    [
        pytest.param(0, 0.5, id="first"),
        pytest.param(3, 4.0, id="doubling"),
        pytest.param(9, 8.0, id="capped"),
    ],
)
def test_ceiling_doubles_up_to_the_cap(retry: int, ceiling: float) -> None:
    assert Backoff(5, 0.5, 8.0).ceiling(retry) == ceiling


def test_a_huge_retry_number_stays_at_the_cap() -> None:
    assert Backoff(5, 0.5, 8.0).ceiling(5000) == 8.0


@pytest.mark.parametrize(
    ("jitter", "low", "high"),
    [
        pytest.param("full", 0.0, 4.0, id="full"),
        pytest.param("equal", 2.0, 4.0, id="equal"),
        pytest.param("none", 4.0, 4.0, id="none"),
    ],
)
def test_jitter_bounds(jitter: str, low: float, high: float) -> None:
    schedule = Backoff(5, 1.0, 60.0, jitter)  # type: ignore[arg-type]
    rng = random.Random(7)
    waits = [schedule.delay(2, rng.random) for _ in range(500)]
    assert min(waits) >= low and max(waits) <= high
    assert schedule.delay(2, lambda: 0.0) == low


def test_delays_one_per_retry_and_retry_after_wins() -> None:
    schedule = Backoff(4, 1.0, 60.0, "none")
    assert list(schedule.delays()) == [1.0, 2.0, 4.0]
    assert schedule.sleep_for(2, retry_after=0.25) == 0.25
    assert schedule.sleep_for(2) == 4.0
    assert not schedule.exhausted(3) and schedule.exhausted(4)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Backoff(0, 1.0, 1.0), id="no-attempt"),
        pytest.param(lambda: Backoff(1, -1.0, 1.0), id="negative-base"),
        pytest.param(lambda: HttpPolicy(max_retries=2, base_delay_s=-1.0), id="http"),
    ],
)
def test_bad_schedules_fail_when_built(build: object) -> None:
    with pytest.raises(ConfigurationError):
        build()  # type: ignore[operator]


def test_http_and_discord_policies_use_the_shared_schedule() -> None:
    http = HttpPolicy(max_retries=3, base_delay_s=0.5, max_delay_s=20.0)
    assert http.schedule == Backoff(4, 0.5, 20.0, "full")
    assert http.backoff(2, lambda: 1.0) == http.schedule.ceiling(2) == 2.0
    discord = DiscordPolicy(max_attempts=4, backoff_base_s=0.5, backoff_max_s=8.0)
    waits = [discord.backoff(3) for _ in range(200)]  # after 3 failures: ceiling 2 s
    assert all(1.0 <= w <= 2.0 for w in waits)

"""How hard and how fast the Discord transport may post: its retry policy and the rate-limit
state Discord's headers describe (SPEC §8).

Split out of ``discord`` by meaning: this module only decides *when* the next request may go
(the bucket a route belongs to, how long a 429 or an exhausted bucket asks us to wait, the
backoff after a failure); ``discord`` sends the requests and reads the answers.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import httpx

from exchange_analytics.errors import ConfigurationError
from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.retry import Backoff

_random = secrets.SystemRandom()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying within one run; checked when built, like ``httpx.Timeout``.

    ``max_attempts`` bounds 5xx/network failures (exponential backoff from ``backoff_base_s``
    up to ``backoff_max_s``, with jitter); ``max_rate_limited`` bounds 429 answers; no single
    wait longer than ``max_wait_s`` is slept (a global ban would otherwise stall cron);
    ``margin_s`` is added to every rate-limit wait so our clock never runs ahead of Discord's.
    """

    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_wait_s: float = 60.0
    max_rate_limited: int = 8
    margin_s: float = 0.05

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_rate_limited < 0:
            raise ConfigurationError("RetryPolicy: max_attempts >= 1, max_rate_limited >= 0")
        if min(self.backoff_base_s, self.backoff_max_s, self.max_wait_s, self.margin_s) < 0:
            raise ConfigurationError("RetryPolicy: times must not be negative")

    def backoff(self, failures: int) -> float:
        """Wait after ``failures`` failures: the shared schedule, equal jitter (never ~0 s)."""
        schedule = Backoff(self.max_attempts, self.backoff_base_s, self.backoff_max_s, "equal")
        return schedule.delay(failures - 1, _random.random)


class RateLimits:
    """What Discord's headers said about each bucket, as monotonic times (SPEC §8).

    A route ("POST webhook:1") maps to its ``X-RateLimit-Bucket`` once an answer names it, so
    routes sharing a bucket share its state; a global 429 blocks every route.
    """

    def __init__(self, destination: str, margin_s: float) -> None:
        self._destination = destination
        self._margin_s = margin_s
        self._bucket_of: dict[str, str] = {}
        self._reset_at: dict[str, float] = {}  # only for buckets with nothing remaining
        self._global_until = 0.0

    def bucket(self, route: str) -> str:
        return self._bucket_of.get(route, route)

    def wait(self, route: str) -> float:
        """Seconds before ``route`` may be used again (0 when it may go now)."""
        until = max(self._global_until, self._reset_at.get(self.bucket(route), 0.0))
        return max(until - time.monotonic(), 0.0)

    def learn(self, route: str, headers: httpx.Headers) -> None:
        if "x-ratelimit-bucket" in headers:
            self._bucket_of[route] = f"{headers['x-ratelimit-bucket']} {self._destination}"
        remaining = as_float(headers.get("x-ratelimit-remaining"))
        reset_after = as_float(headers.get("x-ratelimit-reset-after"))
        if remaining is not None and reset_after is not None:
            if remaining <= 0:
                self._block(route, reset_after)
            else:
                self._reset_at.pop(self.bucket(route), None)

    def limited(self, route: str, headers: httpx.Headers, body: JSONObject) -> float:
        """Seconds a 429 asks for: body ``retry_after``, else ``Retry-After``, else 1 s."""
        wait = as_float(body.get("retry_after"))
        for header in ("retry-after", "x-ratelimit-reset-after"):
            wait = wait if wait is not None else as_float(headers.get(header))
        wait = max(wait if wait is not None else 1.0, 0.0)
        if body.get("global") is True or headers.get("x-ratelimit-global") == "true":
            self._global_until = max(self._global_until, time.monotonic() + wait + self._margin_s)
        else:
            self._block(route, wait)
        return wait + self._margin_s

    def _block(self, route: str, seconds: float) -> None:
        self._reset_at[self.bucket(route)] = time.monotonic() + seconds + self._margin_s


def as_float(value: JSONValue) -> float | None:
    """A header's or JSON field's number, or None when absent or not a number."""
    if not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def as_int(value: JSONValue) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None

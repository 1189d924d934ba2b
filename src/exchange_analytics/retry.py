"""The one retry policy: how many tries, and how long to wait before each retry.

Three places retry: the providers' HTTP loop (``providers.http``), the Discord transport
(``notifications.discord``) and the outbox, which defers a message to a later run
(``notifications.outbox``). Each keeps its own rules about *which* failures are worth a retry
and about deadlines and ``Retry-After``; *how long* to wait is this one exponential schedule:
before retry ``n`` (0-based) the ceiling is ``min(cap, base * 2**n)``, and the jitter decides
how much of it is slept:

``full``   ``uniform(0, ceiling)`` (AWS architecture blog, 2015): spreads the retries of many
           pairs fetched at once instead of sending them back in lock-step;
``equal``  ``uniform(ceiling / 2, ceiling)``: never retries almost at once (Discord);
``none``   the ceiling itself, for waits that are recorded, not slept (the outbox).

A server's ``Retry-After`` always wins over the schedule (:meth:`Backoff.sleep_for`).
A shared leaf: standard library and ``errors`` only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from exchange_analytics.errors import ConfigurationError

Jitter = Literal["full", "equal", "none"]
Random = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Backoff:
    """``attempts`` tries in all (the first one included), waits from ``base`` up to ``cap``
    seconds, doubling; checked when built so a bad setting fails at start-up, not mid-run."""

    attempts: int
    base: float
    cap: float
    jitter: Jitter = "full"

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigurationError(f"retry: attempts must be 1 or more, got {self.attempts}")
        if self.base < 0 or self.cap < 0:
            raise ConfigurationError("retry delays must be 0 or more seconds")

    def ceiling(self, retry: int) -> float:
        """The longest wait before retry ``retry`` (0 for the first retry)."""
        return min(self.cap, self.base * (2.0 ** min(retry, 64)))  # 2.0**1024 overflows

    def delay(self, retry: int, rng: Random = random.random) -> float:
        """The wait before retry ``retry`` (0-based), jittered; ``rng`` returns [0, 1)."""
        ceiling = self.ceiling(retry)
        if self.jitter == "full":
            return ceiling * rng()
        if self.jitter == "equal":
            return ceiling * (0.5 + 0.5 * rng())
        return ceiling

    def delays(self, rng: Random = random.random) -> Iterator[float]:
        """The waits between all ``attempts`` tries, in order (``attempts - 1`` of them)."""
        return (self.delay(retry, rng) for retry in range(self.attempts - 1))

    def sleep_for(
        self, retry: int, retry_after: float | None = None, rng: Random = random.random
    ) -> float:
        """What to wait before retry ``retry``: the server's ``Retry-After`` if it sent one,
        else the schedule's jittered delay."""
        return retry_after if retry_after is not None else self.delay(retry, rng)

    def exhausted(self, tries: int) -> bool:
        """True once ``tries`` attempts were made and no retry is left."""
        return tries >= self.attempts

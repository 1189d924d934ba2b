"""Shared HTTP plumbing for the providers: one client recipe, one retry loop, URL redaction.

Why our own retry loop instead of a library: the behaviour is part of the product contract
(SPEC §3.2) and small enough to read in one screen, and it must know things a generic library
does not: which failures are temporary (timeouts, connection errors, 408/429/5xx) and which
need a person (every other 4xx, returned to the caller to interpret), that ``Retry-After``
wins over our own backoff, and that the whole cycle has a time budget (``deadline``) that no
wait may overrun.

Backoff is the shared schedule (``exchange_analytics.retry``) with "full jitter" (AWS
architecture blog, 2015): before retry ``n`` (0-based) we sleep
``uniform(0, min(max_delay_s, base_delay_s * 2**n))``. Full jitter spreads the retries of many
pairs fetched concurrently instead of sending them back in lock-step. A ``Retry-After``
header (delta-seconds, fractional accepted, or an HTTP-date) is obeyed exactly; when the
server asks for more than ``max_retry_after_s`` or more than is left before the deadline we
stop at once and say so, because retrying sooner than asked only earns another 429.

Every URL that reaches a message or a log line goes through ``redact_url`` first.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog

from exchange_analytics.errors import ConfigurationError, ProviderUnavailable, TemporaryError
from exchange_analytics.retry import Backoff

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 15.0
#: SPEC §3.2: connect 5 s, read 15 s (write and pool waits get the read budget).
DEFAULT_TIMEOUT = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
#: Retries after the first attempt (the MAX_RETRIES setting).
MAX_RETRIES = 3
#: Statuses worth another try: request timeout, rate limit, server errors.
RETRYABLE_STATUSES = frozenset({408, 429, *range(500, 600)})
MASK = "***"


def build_client(
    *,
    timeout: httpx.Timeout | None = None,
    headers: Mapping[str, str] | None = None,
    max_connections: int = 10,
) -> httpx.AsyncClient:
    """The one way providers make a client: SPEC timeouts, bounded pool, no redirects.

    Redirects are not followed because a data API that redirects (Yahoo's EU consent page
    is the known case) is answering something other than data; the caller reports it.
    """
    return httpx.AsyncClient(
        timeout=timeout or DEFAULT_TIMEOUT,
        headers=dict(headers or {}),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Validated here so a bad MAX_RETRIES fails at start-up, not mid-run."""

    max_retries: int = MAX_RETRIES
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigurationError(f"MAX_RETRIES must be 0 or more, got {self.max_retries}")
        if self.max_retry_after_s < 0:
            raise ConfigurationError("retry delays must be 0 or more seconds")
        _ = self.schedule  # validates the delays now, not at the first retry

    @property
    def schedule(self) -> Backoff:
        """The shared retry schedule (``exchange_analytics.retry``) with full jitter."""
        return Backoff(self.max_retries + 1, self.base_delay_s, self.max_delay_s, "full")

    def backoff(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter wait before retry number ``retry`` (0 for the first retry)."""
        return self.schedule.delay(retry, rng)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or None when absent or unreadable.

    Accepts delta-seconds (``120``, and ``0.1`` although RFC 9110 says integer, because some
    servers and our tests send fractions) and HTTP-dates. A date in the past means "now" (0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


_SECRET_PARAM = re.compile(
    r"(token|key|secret|passw|pwd|auth|signature|sig|credential|session|crumb)", re.IGNORECASE
)
_WEBHOOK_PATH = re.compile(r"(/api(?:/v\d+)?/webhooks/\d+/)[^/?#]+")


def redact_url(url: str | httpx.URL) -> str:
    """The URL with secrets masked: query values whose name looks secret (token, key, ...),
    the password (or a bare token) in the userinfo, and Discord webhook tokens in the path.

    Everything else is kept byte for byte, so the result still tells an operator which
    endpoint, symbol and time range failed.
    """
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0] if ":" in userinfo else MASK
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    path = _WEBHOOK_PATH.sub(lambda m: m.group(1) + MASK, parts.path)
    pieces = []
    for piece in parts.query.split("&") if parts.query else []:
        name, sep, _value = piece.partition("=")
        pieces.append(f"{name}={MASK}" if sep and _SECRET_PARAM.search(name) else piece)
    return urlunsplit((parts.scheme, netloc, path, "&".join(pieces), parts.fragment))


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of the given secrets (4+ characters) in ``text`` with ***."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@dataclass(frozen=True, slots=True)
class Sent:
    """A final response (2xx, or a 4xx for the caller to interpret) and how many tries it took."""

    response: httpx.Response
    attempts: int


def _attempt_timeout(base: httpx.Timeout, remaining: float | None) -> httpx.Timeout:
    """Shrink each phase's timeout so that one attempt cannot outlive the deadline."""
    if remaining is None:
        return base

    def cap(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cap(base.connect), read=cap(base.read), write=cap(base.write), pool=cap(base.pool)
    )


async def send_with_retry(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    policy: RetryPolicy | None = None,
    deadline: float | None = None,
    context: str = "request",
    log_fields: Mapping[str, object] | None = None,
    event_prefix: str = "provider",
    unavailable: type[TemporaryError] = ProviderUnavailable,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    monotonic: Callable[[], float] = time.monotonic,
) -> Sent:
    """Send a request, retrying temporary failures; return the first non-retryable response.

    ``deadline`` is a ``time.monotonic()`` value: no attempt and no wait goes past it.
    ``context`` (e.g. ``"yahoo USD/JPY 5m"``) opens every error message. Raises ``unavailable``
    (ProviderUnavailable by default) when the retries or the deadline run out, with the number
    of attempts and the redacted URL; ConfigurationError for a URL httpx cannot use at all.
    Headers are never logged (they carry tokens).
    """
    policy = policy or RetryPolicy()
    fields = dict(log_fields or {})
    request = client.build_request(method, url, params=params, headers=headers)
    budget = _Budget(policy, deadline, context, redact_url(request.url), unavailable, monotonic)
    attempt = 0
    while True:
        attempt += 1
        remaining = budget.remaining(attempt)
        request.extensions["timeout"] = _attempt_timeout(client.timeout, remaining).as_dict()
        log.debug(f"{event_prefix}.request", url=budget.shown, attempt=attempt, **fields)
        answer = await _attempt(client, request, context, budget.shown)
        if isinstance(answer, httpx.Response):
            return Sent(answer, attempt)
        wait = budget.wait_before_retry(answer, attempt, rng)
        log.warning(
            f"{event_prefix}.retry",
            url=budget.shown,
            attempt=attempt,
            status=answer.status,
            error=answer.text,
            wait_s=round(wait, 3),
            retry_after=answer.retry_after,
            **fields,
        )
        await sleep(wait)


@dataclass(frozen=True, slots=True)
class _Failure:
    """One attempt's temporary failure: what to say, the exception behind it (None for a
    status), the status, and the server's ``Retry-After`` in seconds."""

    text: str
    cause: Exception | None = None
    status: int | None = None
    retry_after: float | None = None


async def _attempt(
    client: httpx.AsyncClient, request: httpx.Request, context: str, shown: str
) -> httpx.Response | _Failure:
    """Send once: the response to hand back (2xx, or a 4xx for the caller), or the temporary
    failure (timeout, connection, 408/429/5xx) worth a retry. A URL httpx cannot use at all is
    a ConfigurationError: no retry can mend it."""
    try:
        response = await client.send(request)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise ConfigurationError(
            f"{context}: cannot request {shown}: {exc}; check the base URL setting"
        ) from exc
    except httpx.TimeoutException as exc:
        return _Failure(f"timed out ({type(exc).__name__})", exc)
    except httpx.TransportError as exc:
        return _Failure(f"connection failed ({type(exc).__name__}: {exc})", exc)
    status = response.status_code
    if status not in RETRYABLE_STATUSES:
        return response
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return _Failure(f"HTTP {status}", None, status, retry_after)


@dataclass(frozen=True, slots=True)
class _Budget:
    """What one ``send_with_retry`` call may spend (retries, waits, time) and how it says it
    gave up: ``unavailable`` with the context, the attempts and the redacted URL."""

    policy: RetryPolicy
    deadline: float | None
    context: str
    shown: str
    unavailable: type[TemporaryError]
    monotonic: Callable[[], float]

    def remaining(self, attempt: int) -> float | None:
        """Seconds left before the deadline (None without one); raises when none are left."""
        remaining = None if self.deadline is None else self.deadline - self.monotonic()
        if remaining is not None and remaining <= 0:
            raise self.unavailable(
                f"{self.context}: gave up, time budget used up after {attempt - 1} attempt(s) "
                f"({self.shown})"
            )
        return remaining

    def wait_before_retry(self, failure: _Failure, attempt: int, rng: Callable[[], float]) -> float:
        """The wait before the next attempt (``Retry-After`` wins over the schedule); raises
        when the retries are used up, or the server asks for longer than this run waits, or
        the wait would pass the deadline."""
        policy, cause = self.policy, failure.cause
        if attempt > policy.max_retries:
            raise self.unavailable(
                f"{self.context}: {failure.text} after {attempt} attempt(s) "
                f"(MAX_RETRIES={policy.max_retries}) ({self.shown})"
            ) from cause
        retry_after = failure.retry_after
        if retry_after is not None and retry_after > policy.max_retry_after_s:
            raise self.unavailable(
                f"{self.context}: {failure.text}, server asked to retry after {retry_after:.0f} s, "
                f"longer than the {policy.max_retry_after_s:.0f} s this run waits ({self.shown})"
            ) from cause
        wait = policy.schedule.sleep_for(attempt - 1, retry_after, rng)
        if self.deadline is not None and self.monotonic() + wait > self.deadline:
            raise self.unavailable(
                f"{self.context}: {failure.text} after {attempt} attempt(s); the next retry "
                f"(in {wait:.1f} s) would pass the time budget ({self.shown})"
            ) from cause
        return wait

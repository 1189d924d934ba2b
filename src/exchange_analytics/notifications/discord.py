"""Posting to Discord over httpx: webhook or bot API, paced by Discord's rate-limit headers.

What each outcome means for the caller (the outbox):

    SentMessage          posted; ``message_id`` is Discord's id for it
    NotifierRejected     400/401/403/404: retrying cannot help -> mark failed, tell a person
    ├── DiscordRejected  (this module) carries ``status_code`` and Discord's ``discord_code``
    NotifierUnavailable  5xx / network after the bounded retries -> leave pending, retry later
    ├── RateLimited      the wait Discord asks for would pass ``deadline`` (``retry_after_s``)
    └── DeliveryUnknown  the request may have reached Discord but no answer came back

Duplicates: a webhook cannot be asked "did you post this?", so after an answer-less failure
(read timeout, dropped connection) a webhook post is not retried: the caller gets
``DeliveryUnknown`` and decides (re-send marked as a possible repeat). A bot post carries
``nonce`` + ``enforce_nonce``, so Discord returns the existing message for a repeated nonce
within a few minutes and an in-process retry is safe; later, ``find_recent_message`` looks for
the dedupe marker every message carries in its first footer (listings omit nonces). A 5xx
answer is taken to mean "not posted" and is retried, as every Discord client does.

Secrets: the webhook and bot tokens never appear in exceptions or logs (``webhook:<id>``,
``channel:<id>`` name the destination); httpx's own INFO line, which prints the request URL,
passes a redacting filter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from exchange_analytics import __version__
from exchange_analytics.config.redact import MASK, redact
from exchange_analytics.errors import ConfigurationError, NotifierRejected, NotifierUnavailable
from exchange_analytics.notifications.formatting import dedupe_marker, marker_text, with_marker
from exchange_analytics.notifications.limits import fit_message, truncate
from exchange_analytics.retry import Backoff

log = structlog.get_logger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
_WEBHOOK_PATH = re.compile(r"/webhooks/(\d+)/([^/?#\s]+)/?$")
_random = secrets.SystemRandom()


class _RedactingFilter(logging.Filter):
    """Rewrites httpx's "HTTP Request: POST <url>" log line without the webhook token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/webhooks/" in message:
            record.msg, record.args = redact(message), ()
        return True


def _install_httpx_redaction() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactingFilter) for f in logger.filters):
        logger.addFilter(_RedactingFilter())


class DiscordRejected(NotifierRejected):
    """Discord refused for good; ``status_code`` and Discord's JSON ``code`` say why."""

    def __init__(self, message: str, status_code: int, discord_code: int | None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.discord_code = discord_code


class RateLimited(NotifierUnavailable):
    """Posting must wait ``retry_after_s`` seconds, which is beyond the caller's deadline."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeliveryUnknown(NotifierUnavailable):
    """No answer after the request was sent: the message may or may not be in the channel."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A post Discord accepted. ``attempts`` counts HTTP requests, ``waited_s`` the sleeps."""

    message_id: str | None
    status_code: int
    attempts: int
    waited_s: float
    marker: str


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


class _RateLimits:
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
        remaining = _float(headers.get("x-ratelimit-remaining"))
        reset_after = _float(headers.get("x-ratelimit-reset-after"))
        if remaining is not None and reset_after is not None:
            if remaining <= 0:
                self._block(route, reset_after)
            else:
                self._reset_at.pop(self.bucket(route), None)

    def limited(self, route: str, response: httpx.Response) -> float:
        """Seconds a 429 asks for: body ``retry_after``, else ``Retry-After``, else 1 s."""
        body = _json(response)
        wait = _float(body.get("retry_after"))
        for header in ("retry-after", "x-ratelimit-reset-after"):
            wait = wait if wait is not None else _float(response.headers.get(header))
        wait = max(wait if wait is not None else 1.0, 0.0)
        if body.get("global") is True or response.headers.get("x-ratelimit-global") == "true":
            self._global_until = max(self._global_until, time.monotonic() + wait + self._margin_s)
        else:
            self._block(route, wait)
        return wait + self._margin_s

    def _block(self, route: str, seconds: float) -> None:
        self._reset_at[self.bucket(route)] = time.monotonic() + seconds + self._margin_s


class DiscordTransport:
    """One Discord destination: a webhook URL, or a channel through the bot API.

    Requests are serialised (one at a time per transport), so messages arrive in the order
    ``send`` was called and the rate-limit headers of one answer govern the next request.
    ``client`` may be shared; the transport then leaves closing it to the owner.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        bot_token: str | None = None,
        channel_id: str | None = None,
        api_base: str = DEFAULT_API_BASE,
        client: httpx.AsyncClient | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if (webhook_url is None) == (bot_token is None):
            raise ConfigurationError(
                "Discord: configure exactly one destination, DISCORD_WEBHOOK_URL or "
                "DISCORD_BOT_TOKEN with DISCORD_CHANNEL_ID"
            )
        self._secrets = (bot_token,)
        self._headers = {"User-Agent": f"DiscordBot (exchange-analytics, {__version__})"}
        if webhook_url is not None:
            match = _WEBHOOK_PATH.search(httpx.URL(webhook_url).path)
            if not match or not webhook_url.startswith(("https://", "http://")):
                raise ConfigurationError(
                    "DISCORD_WEBHOOK_URL must look like https://discord.com/api/webhooks/<id>/<token>"
                )
            self._secrets = (match.group(2),)
            self._target = httpx.URL(webhook_url)
            self._post_url = self._target.copy_merge_params({"wait": "true"})
            self.destination = f"webhook:{match.group(1)}"
        else:
            if not (channel_id or "").isdigit():
                raise ConfigurationError("DISCORD_CHANNEL_ID must be a numeric channel id")
            channel_url = f"{api_base.rstrip('/')}/channels/{channel_id}"
            self._target = httpx.URL(channel_url)
            self._post_url = httpx.URL(f"{channel_url}/messages")
            self._headers["Authorization"] = f"Bot {bot_token}"
            self.destination = f"channel:{channel_id}"
        self.is_bot = bot_token is not None
        self.policy = policy or RetryPolicy()
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
        self._limits = _RateLimits(self.destination, self.policy.margin_s)
        self._lock = asyncio.Lock()
        self._log = log.bind(destination=self.destination)
        _install_httpx_redaction()

    def __repr__(self) -> str:
        return f"DiscordTransport({self.destination})"

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> DiscordTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- public API --------------------------------------------------------------------

    async def send(
        self,
        payload: Mapping[str, Any],
        *,
        dedupe_key: str,
        png: bytes | None = None,
        png_filename: str = "chart.png",
        deadline: float | None = None,
    ) -> SentMessage:
        """Post ``payload`` once; ``deadline`` is a ``time.monotonic()`` value or None.

        The payload is cut to Discord's limits, gets ``allowed_mentions: {"parse": []}``
        unless it names its own, and carries the dedupe marker (footer; plus ``nonce`` on the
        bot API). Raises as listed in the module docstring; never sleeps past ``deadline``.
        """
        marker = dedupe_marker(dedupe_key)
        body = with_marker(fit_message(payload), marker)
        body.setdefault("allowed_mentions", {"parse": []})
        if self.is_bot:
            body.update(nonce=marker, enforce_nonce=True)
        request: dict[str, Any] = {"json": body}
        if png is not None:
            body["attachments"] = [{"id": 0, "filename": png_filename}]
            request = {
                "data": {"payload_json": json.dumps(body)},
                "files": {"files[0]": (png_filename, png, "image/png")},
            }
        async with self._lock:
            response, attempts, waited = await self._request(
                "POST", self._post_url, request, deadline, repeatable=self.is_bot
            )
        message_id = _json(response).get("id")
        self._log.info(
            "discord.post",
            status=response.status_code,
            attempt=attempts,
            waited_s=round(waited, 3),
            message_id=message_id,
            marker=marker,
        )
        message_id = str(message_id) if message_id else None
        return SentMessage(message_id, response.status_code, attempts, waited, marker)

    async def find_recent_message(
        self, marker: str, *, limit: int = 50, deadline: float | None = None
    ) -> str | None:
        """The id of a recent channel message carrying ``marker`` (bot API only), else None.

        Used after ``DeliveryUnknown`` or a crash mid-send, before posting again. Discord
        does not return nonces when listing, so the footer marker is what is matched.
        """
        if not self.is_bot:
            raise ConfigurationError(
                "finding sent messages needs the bot API (DISCORD_BOT_TOKEN and "
                "DISCORD_CHANNEL_ID); a webhook cannot list channel messages"
            )
        url = self._post_url.copy_merge_params({"limit": str(limit)})
        async with self._lock:
            response, _, _ = await self._request("GET", url, {}, deadline, repeatable=True)
        try:
            messages = response.json()
        except ValueError:
            messages = []
        needle = marker_text(marker)
        for message in messages if isinstance(messages, list) else []:
            embeds = message.get("embeds") or []
            texts = [message.get("content") or ""]
            texts += [((e or {}).get("footer") or {}).get("text") or "" for e in embeds]
            if message.get("nonce") == marker or any(needle in t for t in texts):
                return str(message.get("id"))
        return None

    async def validate_webhook(self, *, deadline: float | None = None) -> dict[str, Any]:
        """Check the destination without posting anything (``api_connection_test``).

        Webhook: ``GET`` of the webhook URL (Discord answers with the webhook object). Bot:
        ``GET /channels/{id}``. Returns the non-secret facts (id, name, channel/guild id).
        """
        async with self._lock:
            response, _, _ = await self._request("GET", self._target, {}, deadline, True)
        info = _json(response)
        keep = ("id", "name", "type", "channel_id", "guild_id", "application_id")
        return {k: info[k] for k in keep if k in info}

    # --- the request loop ----------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: httpx.URL,
        request: dict[str, Any],
        deadline: float | None,
        repeatable: bool,
    ) -> tuple[httpx.Response, int, float]:
        """One request with pacing and retries; ``repeatable`` = safe to resend after an
        answer-less failure (GETs, and bot posts thanks to ``enforce_nonce``)."""
        route = f"{method} {self.destination}"
        attempts = failures = limited = 0
        waited = 0.0
        while True:
            pause = self._limits.wait(route)
            if pause > 0:
                await self._wait(pause, deadline, route, reason="rate limited")
                waited += pause
            if deadline is not None and time.monotonic() >= deadline:
                raise NotifierUnavailable(f"Discord {self.destination}: deadline passed")
            attempts += 1
            try:
                response = await self._client.request(method, url, headers=self._headers, **request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                problem = self._redact(f"{type(e).__name__}: {e}")  # never reached Discord
            except httpx.TransportError as e:
                problem = self._redact(f"{type(e).__name__}: {e}")
                if not repeatable:
                    self._log.warning("discord.delivery_unknown", error=problem, attempt=attempts)
                    raise DeliveryUnknown(
                        f"no answer from Discord {self.destination} ({problem}); the message "
                        "may or may not have been posted"
                    ) from e
            else:
                status = response.status_code
                self._limits.learn(route, response.headers)
                if status == 429:
                    limited += 1
                    pause = self._limits.limited(route, response)
                    self._log.warning(
                        "discord.rate_limited",
                        status=status,
                        bucket=self._limits.bucket(route),
                        wait_s=round(pause, 3),
                        attempt=attempts,
                    )
                    if limited > self.policy.max_rate_limited:
                        raise RateLimited(
                            f"Discord {self.destination}: still rate limited after {limited} "
                            "answers of 429",
                            pause,
                        )
                    continue
                if status < 400:
                    return response, attempts, waited
                if status < 500:
                    raise self._rejected(response)
                problem = f"HTTP {status}"
            failures += 1
            if failures >= self.policy.max_attempts:
                raise NotifierUnavailable(
                    f"Discord {self.destination} unavailable after {attempts} attempts: {problem}"
                )
            pause = self.policy.backoff(failures)
            self._log.warning(
                "discord.retry", error=problem, attempt=attempts, wait_s=round(pause, 3)
            )
            await self._wait(pause, deadline, route, reason=problem)
            waited += pause

    async def _wait(self, seconds: float, deadline: float | None, route: str, reason: str) -> None:
        """Sleep, unless the sleep would pass the deadline or exceed ``max_wait_s``."""
        late = deadline is not None and time.monotonic() + seconds > deadline
        if late or seconds > self.policy.max_wait_s:
            until = datetime.now(UTC) + timedelta(seconds=seconds)
            limit = "deadline" if late else f"{self.policy.max_wait_s:g} s wait limit"
            message = (
                f"Discord {self.destination} {reason} until {until:%H:%M:%S} UTC "
                f"({seconds:.1f} s), beyond this run's {limit}"
            )
            self._log.warning(
                "discord.gave_up_waiting",
                wait_s=round(seconds, 3),
                bucket=self._limits.bucket(route),
                reason=reason,
            )
            if reason == "rate limited":
                raise RateLimited(message, seconds)
            raise NotifierUnavailable(message)
        await asyncio.sleep(seconds)

    def _rejected(self, response: httpx.Response) -> DiscordRejected:
        status = response.status_code
        body = _json(response)
        code = _int(body.get("code"))
        if status == 404 and not self.is_bot:
            fix = "webhook was deleted or the URL is wrong — update DISCORD_WEBHOOK_URL"
        elif status == 404:
            fix = "channel not found — check DISCORD_CHANNEL_ID"
        elif status in (401, 403):
            what = (
                "the webhook token — update DISCORD_WEBHOOK_URL"
                if not self.is_bot
                else (
                    "DISCORD_BOT_TOKEN and the bot's permissions in the channel "
                    "(View Channel, Send Messages, Embed Links, Attach Files)"
                )
            )
            fix = f"{'unauthorized' if status == 401 else 'forbidden'}: check {what}"
        else:
            fix = f"{body.get('message') or response.reason_phrase} (code {code})"
            details = "; ".join(_flatten_errors(body.get("errors")))
            fix += f": {truncate(details, 500)}" if details else ""
        message = self._redact(f"Discord {self.destination} refused (HTTP {status}): {fix}")
        self._log.error("discord.rejected", status=status, discord_code=code, reason=message)
        return DiscordRejected(message, status, code)

    def _redact(self, text: str) -> str:
        """Shapes (webhook URLs, ``Bot`` headers) and this transport's own secret values."""
        text = redact(text)
        for value in self._secrets:
            if value:
                text = text.replace(value, MASK)
        return text


def _flatten_errors(errors: Any, path: str = "") -> list[str]:
    """Discord's nested ``errors`` object as ``embeds.0.title: Must be 256 or fewer…``."""
    if not isinstance(errors, dict):
        return []
    found: list[str] = []
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            found += [f"{path or 'body'}: {(e or {}).get('message', e)}" for e in value]
        else:
            found += _flatten_errors(value, f"{path}.{key}" if path else str(key))
    return found


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None

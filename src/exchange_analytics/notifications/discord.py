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

This module sends, paces and retries; ``discord_pacing`` holds the retry policy and the
rate-limit buckets, ``discord_wire`` builds the requests and reads the answers (both pure of
I/O). Every name above is importable from here.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from exchange_analytics import __version__
from exchange_analytics.config.redact import MASK, redact
from exchange_analytics.errors import ConfigurationError, NotifierUnavailable
from exchange_analytics.jsontypes import JSONMapping, JSONObject, JSONValue
from exchange_analytics.notifications.discord_pacing import RateLimits, RetryPolicy
from exchange_analytics.notifications.discord_wire import (
    NO_BODY,
    DeliveryUnknown,
    DiscordRejected,
    DiscordRequest,
    RateLimited,
    SentMessage,
    marked_message_id,
    post_request,
    refusal_reason,
    response_json,
)
from exchange_analytics.notifications.formatting import dedupe_marker

__all__ = [
    "DEFAULT_API_BASE",
    "DeliveryUnknown",
    "DiscordRejected",
    "DiscordTransport",
    "RateLimited",
    "RetryPolicy",
    "SentMessage",
]

log = structlog.get_logger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
_WEBHOOK_PATH = re.compile(r"/webhooks/(\d+)/([^/?#\s]+)/?$")


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


@dataclass(slots=True)
class _Tally:
    """One request's counts across its retries: HTTP requests made, 5xx/network failures,
    429 answers, and the seconds slept."""

    attempts: int = 0
    failures: int = 0
    limited: int = 0
    waited: float = 0.0


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
        self._limits = RateLimits(self.destination, self.policy.margin_s)
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
        payload: JSONMapping,
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
        request = post_request(
            payload, marker, is_bot=self.is_bot, png=png, png_filename=png_filename
        )
        async with self._lock:
            response, tally = await self._request(
                "POST", self._post_url, request, deadline, repeatable=self.is_bot
            )
        message_id = response_json(response).get("id")
        self._log.info(
            "discord.post",
            status=response.status_code,
            attempt=tally.attempts,
            waited_s=round(tally.waited, 3),
            message_id=message_id,
            marker=marker,
        )
        message_id = str(message_id) if message_id else None
        return SentMessage(message_id, response.status_code, tally.attempts, tally.waited, marker)

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
            response, _ = await self._request("GET", url, NO_BODY, deadline, repeatable=True)
        try:
            listing: JSONValue = response.json()
        except ValueError:
            listing = []
        return marked_message_id(listing, marker)

    async def validate_webhook(self, *, deadline: float | None = None) -> JSONObject:
        """Check the destination without posting anything (``api_connection_test``).

        Webhook: ``GET`` of the webhook URL (Discord answers with the webhook object). Bot:
        ``GET /channels/{id}``. Returns the non-secret facts (id, name, channel/guild id).
        """
        async with self._lock:
            response, _ = await self._request("GET", self._target, NO_BODY, deadline, True)
        info = response_json(response)
        keep = ("id", "name", "type", "channel_id", "guild_id", "application_id")
        return {k: info[k] for k in keep if k in info}

    # --- the request loop ----------------------------------------------------------------

    async def _request(
        self,
        method: str,
        url: httpx.URL,
        request: DiscordRequest,
        deadline: float | None,
        repeatable: bool,
    ) -> tuple[httpx.Response, _Tally]:
        """One request with pacing and retries; ``repeatable`` = safe to resend after an
        answer-less failure (GETs, and bot posts thanks to ``enforce_nonce``).

        Each turn: wait for the route's bucket, send, then either return a 2xx, raise for a
        4xx, go round again after a 429 (the bucket's wait is slept at the top), or back off
        after a 5xx or a network failure.
        """
        route = f"{method} {self.destination}"
        tally = _Tally()
        while True:
            await self._pace(route, deadline, tally)
            tally.attempts += 1
            answer = await self._attempt(method, url, request, repeatable, tally.attempts)
            if isinstance(answer, str):
                problem = answer
            else:
                status = answer.status_code
                self._limits.learn(route, answer.headers)
                if status == 429:
                    self._note_rate_limited(route, answer, tally)
                    continue
                if status < 400:
                    return answer, tally
                if status < 500:
                    raise self._rejected(answer)
                problem = f"HTTP {status}"
            await self._back_off(route, problem, deadline, tally)

    async def _pace(self, route: str, deadline: float | None, tally: _Tally) -> None:
        """Sleep until the route's bucket (or a global limit) allows the next request; raise
        once the deadline has passed."""
        pause = self._limits.wait(route)
        if pause > 0:
            await self._wait(pause, deadline, route, reason="rate limited")
            tally.waited += pause
        if deadline is not None and time.monotonic() >= deadline:
            raise NotifierUnavailable(f"Discord {self.destination}: deadline passed")

    async def _attempt(
        self,
        method: str,
        url: httpx.URL,
        request: DiscordRequest,
        repeatable: bool,
        attempt: int,
    ) -> httpx.Response | str:
        """Send once: Discord's answer, or the (redacted) network failure worth a retry.

        A failure after the request may have reached Discord is only retried when the request
        is ``repeatable``; otherwise it is ``DeliveryUnknown`` for the caller to decide.
        """
        try:
            return await self._client.request(
                method,
                url,
                headers=self._headers,
                json=request.json,
                data=request.data,
                files=request.files,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
            return self._redact(f"{type(e).__name__}: {e}")  # never reached Discord
        except httpx.TransportError as e:
            problem = self._redact(f"{type(e).__name__}: {e}")
            if repeatable:
                return problem
            self._log.warning("discord.delivery_unknown", error=problem, attempt=attempt)
            raise DeliveryUnknown(
                f"no answer from Discord {self.destination} ({problem}); the message "
                "may or may not have been posted"
            ) from e

    def _note_rate_limited(self, route: str, response: httpx.Response, tally: _Tally) -> None:
        """Record a 429's wait on its bucket (slept before the next attempt); raise once
        Discord said 429 more often than the policy allows."""
        tally.limited += 1
        pause = self._limits.limited(route, response.headers, response_json(response))
        self._log.warning(
            "discord.rate_limited",
            status=response.status_code,
            bucket=self._limits.bucket(route),
            wait_s=round(pause, 3),
            attempt=tally.attempts,
        )
        if tally.limited > self.policy.max_rate_limited:
            raise RateLimited(
                f"Discord {self.destination}: still rate limited after {tally.limited} "
                "answers of 429",
                pause,
            )

    async def _back_off(
        self, route: str, problem: str, deadline: float | None, tally: _Tally
    ) -> None:
        """After a 5xx or a network failure: give up once ``max_attempts`` failed, else sleep
        the policy's backoff."""
        tally.failures += 1
        if tally.failures >= self.policy.max_attempts:
            raise NotifierUnavailable(
                f"Discord {self.destination} unavailable after {tally.attempts} attempts: {problem}"
            )
        pause = self.policy.backoff(tally.failures)
        self._log.warning(
            "discord.retry", error=problem, attempt=tally.attempts, wait_s=round(pause, 3)
        )
        await self._wait(pause, deadline, route, reason=problem)
        tally.waited += pause

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
        fix, code = refusal_reason(response, is_bot=self.is_bot)
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

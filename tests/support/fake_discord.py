"""A stand-in for Discord's HTTP API, served by ``LocalServer`` over a real socket.

It behaves like the parts of Discord the pipeline uses, as documented:

- webhook ``/api/webhooks/{id}/{token}``: POST (``?wait=true`` -> 200 with the message, else
  204), GET -> 200 webhook object; unknown or deleted webhook -> 404 (code 10015), wrong
  token -> 401 (code 50027)
- bot API ``/api/v10/channels/{id}`` (GET) and ``/api/v10/channels/{id}/messages`` (POST, GET
  ``?limit=``, newest first, nonces not echoed) behind ``Authorization: Bot <token>``;
  ``nonce`` + ``enforce_nonce`` return the earlier message instead of posting again
- the documented limits, answered with 400 ``{"code": 50035, "message": "Invalid Form Body",
  "errors": {...}}`` exactly as Discord nests them
- a fixed-window rate limit per webhook / channel (default 5 posts per 2 s) with the
  ``X-RateLimit-*`` headers on every post and a 429 body with a fractional ``retry_after``
- multipart bodies (``payload_json`` + ``files[n]``)

Scripting: ``fail_next`` (5xx), ``rate_limit_next`` (forced 429), ``delete_webhook``,
``go_down``/``come_back`` (connection closed without an answer), ``slow``. Every accepted
message is recorded, in arrival order, in ``messages``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from tests.support.http_server import Request, Response

WEBHOOK_ID = "1200000000000000001"
WEBHOOK_TOKEN = "wh-SECRET-token-do-not-log-0123456789abcdef"
CHANNEL_ID = "1300000000000000001"
BOT_TOKEN = "bot-SECRET-token-do-not-log-abcdef"

_WEBHOOK = re.compile(r"^/api(?:/v\d+)?/webhooks/(\d+)/([^/]+)/?$")
_CHANNEL = re.compile(r"^/api/v\d+/channels/(\d+)(/messages)?/?$")
_LENGTH = "BASE_TYPE_MAX_LENGTH"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    data: bytes


@dataclass
class ReceivedMessage:
    """One message Discord accepted and would show in the channel."""

    id: str
    via: str  # "webhook" or "bot"
    channel_id: str
    payload: dict[str, Any]
    attachments: list[Attachment]
    nonce: str | None
    created_at: float

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.payload.get("embeds") or [])

    def as_discord(self, *, with_nonce: bool) -> dict[str, Any]:
        created = datetime.fromtimestamp(time.time(), UTC).isoformat()
        message = {
            "id": self.id,
            "type": 0,
            "channel_id": self.channel_id,
            "content": self.payload.get("content") or "",
            "embeds": self.embeds,
            "attachments": [
                {
                    "id": str(i),
                    "filename": a.filename,
                    "size": a.size,
                    "content_type": a.content_type,
                }
                for i, a in enumerate(self.attachments)
            ],
            "timestamp": created,
            "mention_everyone": False,
        }
        if self.via == "webhook":
            message["webhook_id"] = WEBHOOK_ID
        if with_nonce and self.nonce is not None:
            message["nonce"] = self.nonce
        return message


@dataclass
class _Window:
    started: float = 0.0
    count: int = 0
    blocked_until: float = 0.0


@dataclass
class FakeDiscord:
    """The stand-in app; pass an instance to ``serve(...)``. Thread-safe."""

    rate_limit: int = 5
    window_s: float = 2.0
    nonce_window_s: float = 300.0
    webhooks: dict[str, str] = field(default_factory=lambda: {WEBHOOK_ID: WEBHOOK_TOKEN})
    channels: tuple[str, ...] = (CHANNEL_ID,)
    bot_token: str = BOT_TOKEN
    messages: list[ReceivedMessage] = field(default_factory=list)
    #: (method, path, status) of every answer, in order.
    answers: list[tuple[str, str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _windows: dict[str, _Window] = field(default_factory=dict, repr=False)
    _fail: list[int] = field(default_factory=list, repr=False)
    _forced_429: list[tuple[float, bool]] = field(default_factory=list, repr=False)
    _deleted: set[str] = field(default_factory=set, repr=False)
    _down: bool = False
    _slow: list[float] = field(default_factory=list, repr=False)
    _slow_all: float = 0.0

    # --- scripting -----------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 502) -> None:
        """Answer the next ``count`` posts with ``status`` (a gateway error by default)."""
        with self._lock:
            self._fail.extend([status] * count)

    def rate_limit_next(
        self, count: int = 1, retry_after: float = 0.3, *, is_global: bool = False
    ) -> None:
        """Answer the next ``count`` posts with 429 and block the route for ``retry_after``."""
        with self._lock:
            self._forced_429.extend([(retry_after, is_global)] * count)

    def delete_webhook(self, webhook_id: str = WEBHOOK_ID) -> None:
        with self._lock:
            self._deleted.add(webhook_id)

    def go_down(self) -> None:
        """Close every connection without an answer until ``come_back``."""
        self._down = True

    def come_back(self) -> None:
        self._down = False

    def slow(self, seconds: float, count: int | None = None) -> None:
        """Delay the next ``count`` answers (all answers when None) by ``seconds``."""
        with self._lock:
            if count is None:
                self._slow_all = seconds
            else:
                self._slow.extend([seconds] * count)

    # --- observations --------------------------------------------------------------------

    def statuses(self, method: str = "POST") -> list[int]:
        return [status for m, _, status in self.answers if m == method]

    @staticmethod
    def webhook_url(base_url: str, webhook_id: str = WEBHOOK_ID, token: str = WEBHOOK_TOKEN) -> str:
        return f"{base_url}/api/webhooks/{webhook_id}/{token}"

    @staticmethod
    def api_base(base_url: str) -> str:
        return f"{base_url}/api/v10"

    # --- the app -------------------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        if self._down:
            return Response(drop=True)
        with self._lock:
            delay = self._slow.pop(0) if self._slow else self._slow_all
            response = self._route(request)
            self.answers.append((request.method, request.path, response.status))
        response.delay = delay
        return response

    def _route(self, request: Request) -> Response:
        if match := _WEBHOOK.match(request.path):
            webhook_id, token = match.groups()
            if webhook_id not in self.webhooks or webhook_id in self._deleted:
                return _error(404, "Unknown Webhook", 10015)
            if token != self.webhooks[webhook_id]:
                return _error(401, "Invalid Webhook Token", 50027)
            if request.method == "GET":
                return Response(200, self._webhook_object(webhook_id, token))
            if request.method == "POST":
                return self._post(request, f"webhook:{webhook_id}", CHANNEL_ID, "webhook")
        elif match := _CHANNEL.match(request.path):
            channel_id, messages = match.groups()
            if request.headers.get("authorization") != f"Bot {self.bot_token}":
                return _error(401, "401: Unauthorized", 0)
            if channel_id not in self.channels:
                return _error(404, "Unknown Channel", 10003)
            if not messages and request.method == "GET":
                return Response(
                    200, {"id": channel_id, "type": 0, "name": "fx-alerts", "guild_id": "9"}
                )
            if messages and request.method == "GET":
                return self._list(channel_id, request)
            if messages and request.method == "POST":
                return self._post(request, f"channel:{channel_id}", channel_id, "bot")
        return _error(404, "404: Not Found", 0)

    def _webhook_object(self, webhook_id: str, token: str) -> dict[str, Any]:
        return {
            "type": 1,
            "id": webhook_id,
            "name": "FX alerts",
            "channel_id": CHANNEL_ID,
            "guild_id": "9",
            "application_id": None,
            "avatar": None,
            "token": token,
        }

    def _list(self, channel_id: str, request: Request) -> Response:
        limit = max(1, min(100, int(request.param("limit", "50") or 50)))
        mine = [m for m in self.messages if m.channel_id == channel_id]
        newest_first = list(reversed(mine))[:limit]
        return Response(200, [m.as_discord(with_nonce=False) for m in newest_first])

    def _post(self, request: Request, key: str, channel_id: str, via: str) -> Response:
        if self._fail:
            status = self._fail.pop(0)
            return Response(status, {"message": "upstream error", "code": 0})
        limited, headers = self._count(key)
        if limited is not None:
            return limited
        try:
            payload, attachments = _parse_body(request)
        except ValueError as e:
            return _error(400, f"Cannot parse body: {e}", 50109, headers=headers)
        errors = validate(payload)
        if errors:
            body = {"code": 50035, "message": "Invalid Form Body", "errors": errors}
            return Response(400, body, headers=headers)
        if not (payload.get("content") or payload.get("embeds") or attachments):
            return _error(400, "Cannot send an empty message", 50006, headers=headers)
        nonce = payload.get("nonce") if via == "bot" else None
        now = time.monotonic()
        if nonce is not None and payload.get("enforce_nonce") is True:
            for earlier in self.messages:
                if earlier.nonce == nonce and now - earlier.created_at <= self.nonce_window_s:
                    return Response(200, earlier.as_discord(with_nonce=True), headers=headers)
        message = ReceivedMessage(
            id=str(1_250_000_000_000_000_000 + next(self._ids)),
            via=via,
            channel_id=channel_id,
            payload=payload,
            attachments=attachments,
            nonce=str(nonce) if nonce is not None else None,
            created_at=now,
        )
        self.messages.append(message)
        if via == "webhook" and request.param("wait") != "true":
            return Response(204, b"", headers=headers)
        return Response(200, message.as_discord(with_nonce=True), headers=headers)

    def _count(self, key: str) -> tuple[Response | None, dict[str, str]]:
        """Fixed-window accounting; a 429 when the window is used up or a 429 was scripted."""
        now = time.monotonic()
        window = self._windows.setdefault(key, _Window())
        if self._forced_429:
            retry_after, is_global = self._forced_429.pop(0)
            window.blocked_until = now + retry_after
            return self._too_many(key, retry_after, is_global), {}
        if now < window.blocked_until:
            return self._too_many(key, window.blocked_until - now, False), {}
        if window.count == 0 or now >= window.started + self.window_s:
            window.started, window.count = now, 0
        reset_after = window.started + self.window_s - now
        if window.count >= self.rate_limit:
            return self._too_many(key, reset_after, False), {}
        window.count += 1
        return None, self._headers(key, self.rate_limit - window.count, reset_after)

    def _headers(self, key: str, remaining: int, reset_after: float) -> dict[str, str]:
        reset_after = math.ceil(reset_after * 1000) / 1000  # never earlier than the truth
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(key.encode()).hexdigest()[:16],  # noqa: S324
        }

    def _too_many(self, key: str, retry_after: float, is_global: bool) -> Response:
        retry_after = math.ceil(retry_after * 1000) / 1000
        headers = self._headers(key, 0, retry_after)
        headers["Retry-After"] = str(math.ceil(retry_after))
        headers["X-RateLimit-Scope"] = "global" if is_global else "user"
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        return Response(429, body, headers=headers)


def _error(status: int, message: str, code: int, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"message": message, "code": code}, headers=dict(headers or {}))


def _parse_body(request: Request) -> tuple[dict[str, Any], list[Attachment]]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        form = BytesParser(policy=HTTP).parsebytes(head + request.body)
        payload: dict[str, Any] = {}
        attachments: list[Attachment] = []
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if name == "payload_json":
                payload = json.loads(data)
            elif isinstance(name, str) and name.startswith("files["):
                filename = part.get_filename() or name
                attachments.append(Attachment(filename, part.get_content_type(), len(data), data))
        return payload, attachments
    if not request.body:
        raise ValueError("empty body")
    payload = json.loads(request.body)
    if not isinstance(payload, dict):
        raise ValueError("body is not a JSON object")
    return payload, []


def _too_long(limit: int) -> dict[str, Any]:
    return {"_errors": [{"code": _LENGTH, "message": f"Must be {limit} or fewer in length."}]}


def _required() -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}


def validate(payload: dict[str, Any]) -> dict[str, Any]:
    """Discord's ``errors`` object for ``payload`` (empty when Discord would accept it).

    Written from Discord's documented limits, independently of the code under test, and
    counting characters the way Python does (code points).
    """
    errors: dict[str, Any] = {}
    content = payload.get("content")
    if isinstance(content, str) and len(content) > 2000:
        errors["content"] = _too_long(2000)
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > 25:
        errors["nonce"] = _too_long(25)
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        errors["embeds"] = _too_long(10)
        return errors
    total = 0
    for i, embed in enumerate(embeds):
        problems: dict[str, Any] = {}
        color = embed.get("color")
        if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
            message = "int value should be less than or equal to 16777215."
            problems["color"] = {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": message}]}
        for key, limit in (("title", 256), ("description", 4096)):
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                problems[key] = _too_long(limit)
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            text = (embed.get(key) or {}).get(sub) or ""
            total += len(text)
            if len(text) > limit:
                problems[key] = {sub: _too_long(limit)}
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems["fields"] = _too_long(25)
        field_problems: dict[str, Any] = {}
        for j, item in enumerate(fields):
            one: dict[str, Any] = {}
            for key, limit in (("name", 256), ("value", 1024)):
                text = item.get(key)
                if not text:
                    one[key] = _required()
                    continue
                total += len(text)
                if len(text) > limit:
                    one[key] = _too_long(limit)
            if one:
                field_problems[str(j)] = one
        if field_problems:
            problems.setdefault("fields", {}).update(field_problems)
        if problems:
            errors.setdefault("embeds", {})[str(i)] = problems
    if total > 6000:
        errors.setdefault("embeds", {})["_errors"] = [
            {
                "code": "MAX_EMBED_SIZE_EXCEEDED",
                "message": "Embed size exceeds maximum size of 6000",
            }
        ]
    return errors

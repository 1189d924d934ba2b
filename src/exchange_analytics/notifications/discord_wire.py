"""What the Discord transport puts on the wire and what it reads back, without any I/O.

Split out of ``discord`` by meaning: building a post (the dedupe marker, ``allowed_mentions``,
the bot's ``nonce``, the PNG as a multipart attachment), reading Discord's JSON answers (a
message id, a refusal's reason, the channel listing searched for a marker), and the outcomes
the caller sees (``SentMessage`` and the exceptions). ``discord`` sends, paces and retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from exchange_analytics.errors import NotifierRejected, NotifierUnavailable
from exchange_analytics.jsontypes import JSONMapping, JSONObject, JSONValue
from exchange_analytics.notifications.discord_json import json_contains, json_get, json_items
from exchange_analytics.notifications.discord_pacing import as_int
from exchange_analytics.notifications.formatting import marker_text, with_marker
from exchange_analytics.notifications.limits import fit_message, truncate


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


#: A multipart file: (file name, content, media type), as httpx takes it.
Upload = tuple[str, bytes, str]


@dataclass(frozen=True, slots=True)
class DiscordRequest:
    """The body of one request: JSON, or a multipart form (``payload_json`` + files); a GET
    has neither."""

    json: JSONObject | None = None
    data: dict[str, str] | None = None
    files: dict[str, Upload] | None = None


NO_BODY = DiscordRequest()


def post_request(
    payload: JSONMapping, marker: str, *, is_bot: bool, png: bytes | None, png_filename: str
) -> DiscordRequest:
    """The post of ``payload``: cut to Discord's limits, ``allowed_mentions: {"parse": []}``
    unless it names its own, the dedupe marker in its footer (plus ``nonce`` on the bot API),
    and the PNG, when there is one, as ``files[0]`` of a multipart form."""
    body = with_marker(fit_message(payload), marker)
    body.setdefault("allowed_mentions", {"parse": []})
    if is_bot:
        body.update(nonce=marker, enforce_nonce=True)
    if png is None:
        return DiscordRequest(json=body)
    body["attachments"] = [{"id": 0, "filename": png_filename}]
    return DiscordRequest(
        data={"payload_json": json.dumps(body)},
        files={"files[0]": (png_filename, png, "image/png")},
    )


def response_json(response: httpx.Response) -> JSONObject:
    """The answer's JSON object, or ``{}`` when it is not one."""
    try:
        data: JSONValue = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def marked_message_id(listing: JSONValue, marker: str) -> str | None:
    """The id of the message in a channel listing that carries ``marker`` (nonce, or the
    ``ref <marker>`` text in its content or an embed's footer), else None."""
    needle = marker_text(marker)
    for message in listing if isinstance(listing, list) else []:
        embeds = json_items(json_get(message, "embeds"))
        texts = [json_get(message, "content") or ""]
        texts += [json_get(json_get(e or {}, "footer") or {}, "text") or "" for e in embeds]
        if json_get(message, "nonce") == marker or any(json_contains(t, needle) for t in texts):
            return str(json_get(message, "id"))
    return None


def refusal_reason(response: httpx.Response, *, is_bot: bool) -> tuple[str, int | None]:
    """What a 4xx answer means for the operator (which setting to fix), and Discord's code."""
    status = response.status_code
    body = response_json(response)
    code = as_int(body.get("code"))
    if status == 404 and not is_bot:
        fix = "webhook was deleted or the URL is wrong — update DISCORD_WEBHOOK_URL"
    elif status == 404:
        fix = "channel not found — check DISCORD_CHANNEL_ID"
    elif status in (401, 403):
        what = (
            "the webhook token — update DISCORD_WEBHOOK_URL"
            if not is_bot
            else (
                "DISCORD_BOT_TOKEN and the bot's permissions in the channel "
                "(View Channel, Send Messages, Embed Links, Attach Files)"
            )
        )
        fix = f"{'unauthorized' if status == 401 else 'forbidden'}: check {what}"
    else:
        fix = f"{body.get('message') or response.reason_phrase} (code {code})"
        details = "; ".join(flatten_errors(body.get("errors")))
        fix += f": {truncate(details, 500)}" if details else ""
    return fix, code


def flatten_errors(errors: JSONValue, path: str = "") -> list[str]:
    """Discord's nested ``errors`` object as ``embeds.0.title: Must be 256 or fewer…``."""
    if not isinstance(errors, dict):
        return []
    found: list[str] = []
    for key, value in errors.items():
        if key == "_errors" and isinstance(value, list):
            found += [f"{path or 'body'}: {json_get(e or {}, 'message', e)}" for e in value]
        else:
            found += flatten_errors(value, f"{path}.{key}" if path else str(key))
    return found

"""Pure builders for the Discord messages: a pattern detection, an alert, a test message.

Data in, a Discord JSON payload out: no clock (times are passed in), no I/O, no settings.
A formatter runs after the detection was committed, so it must never crash on odd data: a
missing or malformed value is left out (or shown as "n/a"), never an exception. Every payload
carries ``allowed_mentions`` so that text from data can never ping ``@everyone``; only a
CRITICAL alert may mention the one configured admin. Every payload passes ``fit_message``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from exchange_analytics.jsontypes import JSONObject, JSONValue, as_list, as_object, as_str
from exchange_analytics.notifications.formatting_fields import (
    clean_text,
    format_times,
    level_field,
    mapping,
    number,
    percent,
    price_decimals,
    timeframe_fields,
    when_utc,
)
from exchange_analytics.notifications.limits import (
    CONTENT_MAX,
    FOOTER_MAX,
    fit_message,
    text_length,
    truncate,
)

#: Display name and embed colour per pattern (SPEC §7); six colours a reader tells apart.
PATTERN_STYLES: dict[str, tuple[str, int]] = {
    "trend_reversal": ("Trend reversal", 0xE74C3C),  # red
    "pullback": ("Pullback", 0x3498DB),  # blue
    "divergence": ("Divergence", 0x9B59B6),  # purple
    "breakout": ("Breakout", 0xE67E22),  # orange
    "rsi_battle": ("RSI battle", 0x95A5A6),  # grey
    "composite_signal": ("Composite signal", 0xF1C40F),  # gold
}
DEFAULT_COLOUR = 0x5865F2
SEVERITY_COLOURS = {"CRITICAL": 0xC0392B, "WARNING": 0xF39C12, "INFO": 0x3498DB}
SEVERITY_ICONS = {"CRITICAL": "🚨", "WARNING": "⚠️", "INFO": "ℹ️"}
RESOLVED_COLOUR = 0x2ECC71
DEMO_MARK = "[DEMO DATA]"
REPEAT_MARK = "🔁 Possible repeat: this alert may already have been posted."
FOOTER_TEXT = "Exchange Analytics"
NO_MENTIONS: JSONObject = {"parse": []}
#: ``bar_timestamp`` is the open time of the 5m bar that completed the pattern.
BAR_SPAN = timedelta(minutes=5)


# --- public builders ----------------------------------------------------------------------


def pattern_title(pair: str, pattern_type: str, direction: str, *, is_demo: bool) -> str:
    """``USD/JPY · Trend reversal · SELL`` (prefixed ``[DEMO DATA]`` for simulated data)."""
    name = PATTERN_STYLES.get(pattern_type, (pattern_type.replace("_", " ").capitalize(), 0))[0]
    title = " · ".join(part for part in (pair, name, direction) if part)
    return f"{DEMO_MARK} {title}" if is_demo else title


def _headline_fields(
    detection: Mapping[str, object],
    data: Mapping[str, object],
    pair: str | None,
    entry: float | None,
) -> list[JSONObject]:
    """Pair, price, confidence, take-profit and stop-loss: the inline fields on top."""
    fields: list[JSONObject] = []
    if pair:
        fields.append({"name": "Pair", "value": pair, "inline": True})
    if entry is not None:
        fields.append(
            {"name": "Price", "value": f"{entry:.{price_decimals(pair)}f}", "inline": True}
        )
    confidence = number(detection.get("confidence_score"))
    if confidence is not None:
        fields.append({"name": "Confidence", "value": percent(confidence), "inline": True})
    for name, price_key, pips_key in (
        ("Take profit", "take_profit", "take_profit_pips"),
        ("Stop loss", "stop_loss", "stop_loss_pips"),
    ):
        level = level_field(name, number(detection.get(price_key)), data.get(pips_key), entry, pair)
        if level:
            fields.append(level)
    return fields


def pattern_message(
    detection: Mapping[str, object], *, chart_filename: str | None = None
) -> JSONObject:
    """One embed announcing a detection (SPEC §8): what, where, at which price, and why.

    ``chart_filename`` names the PNG the caller attaches (``files[0]``); the embed then shows
    it as its image via ``attachment://``.
    """
    pair = clean_text(detection.get("currency_pair"))
    pattern_type = clean_text(detection.get("pattern_type")) or "pattern"
    direction = (clean_text(detection.get("direction")) or "").upper()
    is_demo = detection.get("is_demo") is True
    data = mapping(detection.get("detection_data"))
    entry = number(detection.get("entry_price"))
    priority = clean_text(detection.get("priority"))
    bar_time = when_utc(detection.get("bar_timestamp"))

    description: list[str] = []
    if is_demo:
        description.append(f"**{DEMO_MARK}** Simulated market, not real prices.")
    if detection.get("possible_repeat") is True:
        description.append(REPEAT_MARK)
    if priority:
        description.append(f"Priority **{priority}**")

    fields: list[JSONValue] = [*_headline_fields(detection, data, pair, entry)]
    record = clean_text(detection.get("track_record"))
    if record:
        fields.append({"name": "Track record", "value": record, "inline": False})
    fields += timeframe_fields(data)
    for name, key in (("Advice", "advice"), ("Risk", "risk")):
        text = clean_text(data.get(key))
        if text:
            fields.append({"name": name, "value": text, "inline": True})
    if bar_time is not None:
        times = format_times(bar_time, BAR_SPAN)
        fields.append({"name": "Time (5m bar)", "value": times, "inline": False})

    footer = " · ".join(p for p in (FOOTER_TEXT, pattern_type, priority) if p)
    embed: JSONObject = {
        "title": pattern_title(pair or "", pattern_type, direction, is_demo=is_demo),
        "color": PATTERN_STYLES.get(pattern_type, ("", DEFAULT_COLOUR))[1],
        "fields": fields,
        "footer": {"text": footer},
    }
    if description:
        embed["description"] = "\n".join(description)
    if bar_time is not None:
        embed["timestamp"] = bar_time.isoformat()
    if chart_filename:
        embed["image"] = {"url": f"attachment://{chart_filename}"}
    return fit_message({"embeds": [embed], "allowed_mentions": dict(NO_MENTIONS)})


def mark_possible_repeat(payload: Mapping[str, JSONValue]) -> JSONObject:
    """``payload`` with the possible-repeat line added to its first embed (once).

    For the outbox: a message whose earlier delivery could not be confirmed is re-sent with
    this marker, so a reader who sees it twice knows why.
    """
    message = fit_message(payload)
    first = _first_embed(message)
    if first is None:
        content = as_str(message.get("content")) or ""
        if REPEAT_MARK not in content:
            message["content"] = f"{REPEAT_MARK}\n{content}".strip()
        return fit_message(message)
    description = as_str(first.get("description")) or ""
    if REPEAT_MARK not in description:
        first["description"] = f"{REPEAT_MARK}\n{description}".strip()
    return fit_message(message)


def _first_embed(message: JSONObject) -> JSONObject | None:
    """The first embed of a ``fit_message`` result (which leaves only objects in ``embeds``
    and only text in ``content``, ``description`` and the footer's ``text``), if any."""
    embeds = as_list(message.get("embeds")) or []
    return as_object(embeds[0]) if embeds else None


def dedupe_marker(dedupe_key: str) -> str:
    """20 hex characters derived from the outbox ``dedupe_key`` (Discord nonces hold 25)."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()[:20]


def marker_text(marker: str) -> str:
    """How the marker appears in a message: ``ref <marker>``."""
    return f"ref {marker}"


def with_marker(payload: Mapping[str, JSONValue], marker: str) -> JSONObject:
    """``payload`` with ``ref <marker>`` at the end of its first embed's footer (or content).

    The marker lets a person, and ``DiscordTransport.find_recent_message``, tell which outbox
    row a message came from. The footer is cut before the marker is added, never the marker.
    """
    message = fit_message(payload)
    tag = marker_text(marker)
    first = _first_embed(message)
    if first is not None:
        footer = dict(as_object(first.get("footer")) or {})
        text = as_str(footer.get("text")) or ""
        suffix = f" · {tag}" if text else tag
        footer["text"] = truncate(text, FOOTER_MAX - text_length(suffix)) + suffix
        first["footer"] = footer
    else:
        suffix = f"\n-# {tag}"
        content = as_str(message.get("content")) or ""
        message["content"] = truncate(content, CONTENT_MAX - text_length(suffix)) + suffix
    return fit_message(message)


def alert_message(
    severity: str,
    title: str,
    text: str,
    admin_user_id: str | None,
    resolved: bool = False,
    *,
    at: datetime | None = None,
) -> JSONObject:
    """An operations alert (SPEC §9.1); ``resolved=True`` builds the green all-clear.

    Only an active CRITICAL alert mentions the admin, and ``allowed_mentions`` then names that
    one user id: nothing in ``title`` or ``text`` can ping anyone else. An id that is not a
    Discord snowflake (digits) is not mentioned at all.
    """
    level = (severity or "INFO").upper()
    body = clean_text(text) or "(no details)"
    heading = clean_text(title) or "alert"
    payload: JSONObject = {"allowed_mentions": dict(NO_MENTIONS)}
    if resolved:
        embed: JSONObject = {
            "title": f"✅ RESOLVED: {heading}",
            "description": body,
            "color": RESOLVED_COLOUR,
        }
    else:
        embed = {
            "title": f"{SEVERITY_ICONS.get(level, '')} {level}: {heading}".strip(),
            "description": body,
            "color": SEVERITY_COLOURS.get(level, DEFAULT_COLOUR),
        }
        if level == "CRITICAL":
            admin = (admin_user_id or "").strip()
            if admin.isdigit():
                payload["content"] = f"<@{admin}> CRITICAL: {heading}"
                payload["allowed_mentions"] = {"parse": [], "users": [admin]}
            else:
                payload["content"] = f"CRITICAL: {heading}"
    when = when_utc(at)
    if when is not None:
        embed["fields"] = [{"name": "Time", "value": format_times(when), "inline": False}]
        embed["timestamp"] = when.isoformat()
    embed["footer"] = {"text": f"{FOOTER_TEXT} · {'resolved' if resolved else level.lower()}"}
    payload["embeds"] = [embed]
    return fit_message(payload)


def test_message(now: datetime) -> JSONObject:
    """What ``exchange-analytics notify test`` posts: proof the channel is wired up."""
    when = when_utc(now) or datetime.fromtimestamp(0, UTC)
    embed: JSONObject = {
        "title": "Exchange Analytics · test message",
        "description": "Notifications reach this channel. No action needed.",
        "color": DEFAULT_COLOUR,
        "fields": [{"name": "Sent", "value": format_times(when), "inline": False}],
        "timestamp": when.isoformat(),
        "footer": {"text": f"{FOOTER_TEXT} · test"},
    }
    return fit_message({"embeds": [embed], "allowed_mentions": dict(NO_MENTIONS)})


test_message.__test__ = False  # type: ignore[attr-defined]  # not a pytest test function

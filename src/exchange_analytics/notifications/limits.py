"""Discord's message limits, and ``fit_message`` which cuts a payload to fit them.

Discord answers a payload over any limit with ``400 Invalid Form Body``: the whole message is
refused, and a refused alert is worse than a shortened one. So every payload passes through
``fit_message`` before it is stored in the outbox or sent: it never rejects, it cuts, and a cut
ends in "…" at a line or word boundary when one is near.

Lengths are counted in UTF-16 code units (an emoji outside the BMP counts twice). Discord's own
count is at most that, so a payload that fits here fits there whichever way Discord counts.

The total embed budget (6000, over every embed of the message) is met by cutting, in this
order: descriptions, field values, field names, author names, footers, titles, each from the
last embed backwards. That order removes prose before labels, and it keeps the first embed's
footer (where the transport writes the dedupe marker) intact: by the time footers are reached
every other text is at its minimum, which leaves far more than 2048 characters for it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

from exchange_analytics.jsontypes import JSONMapping, JSONObject, JSONValue
from exchange_analytics.notifications.discord_json import json_get, json_items

CONTENT_MAX = 2000
EMBEDS_MAX = 10
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_NAME_MAX = 256
EMBED_TOTAL_MAX = 6000

ELLIPSIS = "…"
#: Discord refuses empty field names and values; a zero-width space is the usual filler.
BLANK = "\u200b"

#: A boundary this close to the cut point (as a share of the limit) is preferred to a hard cut.
_BOUNDARY_WINDOW = 0.25


def text_length(text: str) -> int:
    """Length in UTF-16 code units: the conservative measure (see the module docstring)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` units, ending in "…" at a line or word boundary.

    A boundary (newline first, then a space) is used when it lies within the last quarter of
    the allowed length; otherwise the cut is hard, mid-word, so that little text is lost.
    """
    if limit <= 0:
        return ""
    if text_length(text) <= limit:
        return text
    budget = limit - text_length(ELLIPSIS)
    if budget <= 0:
        return ELLIPSIS[:limit]
    used = 0
    end = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > budget:
            break
        used += width
        end += 1
    head = text[:end]
    floor = int(end * (1 - _BOUNDARY_WINDOW))
    for sep in ("\n", " "):
        at = head.rfind(sep)
        if at >= floor and at > 0:
            head = head[:at]
            break
    return head.rstrip(" \t\n,;:·-–—") + ELLIPSIS


def _as_text(value: JSONValue) -> str:
    return value if isinstance(value, str) else str(value)


def _fit_embed(raw: JSONMapping) -> JSONObject:
    """Per-item limits of one embed; unknown keys pass through untouched."""
    embed = dict(raw)
    for key, limit in (("title", TITLE_MAX), ("description", DESCRIPTION_MAX)):
        if key in embed:
            if embed[key] is None or embed[key] == "":
                del embed[key]
            else:
                embed[key] = truncate(_as_text(embed[key]), limit)
    for key, limit in (("footer", FOOTER_MAX), ("author", AUTHOR_NAME_MAX)):
        sub_key = "text" if key == "footer" else "name"
        part = embed.get(key)
        if part is None:
            continue
        if not isinstance(part, Mapping) or not part.get(sub_key):
            del embed[key]
            continue
        part = dict(part)
        part[sub_key] = truncate(_as_text(part[sub_key]), limit)
        embed[key] = part
    if "fields" in embed:
        raw_fields = [f for f in json_items(embed["fields"]) if isinstance(f, Mapping)]
        if len(raw_fields) > FIELDS_MAX:
            omitted = len(raw_fields) - (FIELDS_MAX - 1)
            raw_fields = [
                *raw_fields[: FIELDS_MAX - 1],
                {"name": ELLIPSIS, "value": f"{omitted} more fields omitted"},
            ]
        fields: list[JSONValue] = []
        for raw_field in raw_fields:
            field = dict(raw_field)
            name = _as_text(field.get("name") if field.get("name") is not None else "").strip()
            value = _as_text(field.get("value") if field.get("value") is not None else "")
            field["name"] = truncate(name, FIELD_NAME_MAX) or BLANK
            field["value"] = truncate(value, FIELD_VALUE_MAX) if value.strip() else BLANK
            fields.append(field)
        if fields:
            embed["fields"] = fields
        else:
            del embed["fields"]
    return embed


def _len(value: JSONValue) -> int:
    return 0 if value is None else text_length(_as_text(value))


def embed_total(embeds: Sequence[JSONMapping]) -> int:
    """The characters Discord counts against the 6000 budget, over all embeds of a message."""
    total = 0
    for embed in embeds:
        total += _len(embed.get("title")) + _len(embed.get("description"))
        for field in json_items(embed.get("fields")):
            total += _len(json_get(field, "name")) + _len(json_get(field, "value"))
        total += _len(json_get(embed.get("footer") or {}, "text"))
        total += _len(json_get(embed.get("author") or {}, "name"))
    return total


def _parts(embed: JSONObject, key: str) -> list[JSONObject]:
    """The objects under ``key`` of a fitted embed: its fields (an array of objects, last
    first), or its author or footer (one object); none when the key is absent.

    ``_fit_embed`` leaves only objects there, or a null author or footer: no text to cut.
    """
    value = embed.get(key)
    items = value[::-1] if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _slots(embeds: list[JSONObject]) -> list[tuple[JSONObject, str, int]]:
    """(container, key, minimum length) for every text, in the order they are cut."""
    last_first = list(reversed(embeds))
    slots: list[tuple[JSONObject, str, int]] = []
    slots += [(e, "description", 0) for e in last_first if "description" in e]
    slots += [(f, "value", 1) for e in last_first for f in _parts(e, "fields")]
    slots += [(f, "name", 1) for e in last_first for f in _parts(e, "fields")]
    slots += [(a, "name", 0) for e in last_first for a in _parts(e, "author")]
    slots += [(f, "text", 0) for e in last_first for f in _parts(e, "footer")]
    slots += [(e, "title", 0) for e in last_first if "title" in e]
    return slots


def _fit_total(embeds: list[JSONObject]) -> None:
    excess = embed_total(embeds) - EMBED_TOTAL_MAX
    for container, key, minimum in _slots(embeds):
        if excess <= 0:
            break
        text = container[key]
        if not isinstance(text, str):  # every slot holds a text after ``_fit_embed``
            continue
        length = text_length(text)
        target = max(minimum, length - excess)
        if target >= length:
            continue
        cut = truncate(text, target) or (BLANK if minimum else "")
        container[key] = cut
        excess -= length - text_length(cut)
    # Empty texts left by the cuts are removed: Discord treats "" as a missing value at best.
    for embed in embeds:
        for key in ("description", "title"):
            if key in embed and not embed[key]:
                del embed[key]
        for key, sub_key in (("author", "name"), ("footer", "text")):
            if key in embed and not json_get(embed[key], sub_key):
                del embed[key]


def fit_message(payload: JSONMapping) -> JSONObject:
    """A copy of ``payload`` that satisfies every Discord limit; the input is not changed.

    Content is cut to 2000, embeds beyond the tenth are dropped (one message holds ten), more
    than 25 fields become 24 plus a "N more fields omitted" field, every text is cut to its
    own limit, and then the total is cut to 6000. Keys this function does not know (colour,
    timestamp, allowed_mentions, nonce, …) pass through. Applying it twice changes nothing.
    """
    message = copy.deepcopy(dict(payload))
    if message.get("content") is not None:
        message["content"] = truncate(_as_text(message["content"]), CONTENT_MAX)
    if "embeds" in message:
        raw_embeds = [e for e in json_items(message["embeds"]) if isinstance(e, Mapping)]
        embeds = [_fit_embed(e) for e in raw_embeds[:EMBEDS_MAX]]
        _fit_total(embeds)
        message["embeds"] = [*embeds]
    return message


def violations(payload: JSONMapping) -> list[str]:
    """Every limit ``payload`` breaks, as readable strings (empty when it fits).

    Used by tests and by the ``--dry-run`` view; ``fit_message`` output always returns [].
    """
    problems: list[str] = []
    content = payload.get("content")
    if content is not None and text_length(_as_text(content)) > CONTENT_MAX:
        problems.append(f"content longer than {CONTENT_MAX}")
    embeds = [e for e in json_items(payload.get("embeds")) if isinstance(e, Mapping)]
    if len(embeds) > EMBEDS_MAX:
        problems.append(f"more than {EMBEDS_MAX} embeds")
    for i, embed in enumerate(embeds):
        checks = [
            ("title", embed.get("title"), TITLE_MAX),
            ("description", embed.get("description"), DESCRIPTION_MAX),
            ("footer.text", json_get(embed.get("footer") or {}, "text"), FOOTER_MAX),
            ("author.name", json_get(embed.get("author") or {}, "name"), AUTHOR_NAME_MAX),
        ]
        fields = json_items(embed.get("fields"))
        if len(fields) > FIELDS_MAX:
            problems.append(f"embeds[{i}] has more than {FIELDS_MAX} fields")
        for j, field in enumerate(fields):
            field_name, field_value = json_get(field, "name"), json_get(field, "value")
            checks.append((f"fields[{j}].name", field_name, FIELD_NAME_MAX))
            checks.append((f"fields[{j}].value", field_value, FIELD_VALUE_MAX))
            if field_name in (None, "") or field_value in (None, ""):
                problems.append(f"embeds[{i}].fields[{j}] has an empty name or value")
        for name, text, limit in checks:
            if text is not None and text_length(_as_text(text)) > limit:
                problems.append(f"embeds[{i}].{name} longer than {limit}")
    if embeds and embed_total(embeds) > EMBED_TOTAL_MAX:
        problems.append(f"embeds total longer than {EMBED_TOTAL_MAX}")
    return problems

"""Reading Discord-shaped JSON (payloads, answers, channel listings) the way the transport
always has, with types.

``limits`` and ``discord_wire`` read embeds, fields and messages that may be malformed: a
payload built by a caller, or an answer from Discord. They used to read them duck-typed
(``x.get(key)``, ``for f in x or []``, ``needle in text``), which tolerates some shapes and
fails on others. These readers keep exactly that: the same values where it worked, the same
exception (class and message, as Python words them) where it failed, so typing the readers
changed no outcome.
"""

from __future__ import annotations

from collections.abc import Mapping

from exchange_analytics.jsontypes import JSONSequence, JSONValue


def json_get(value: JSONValue, key: str, default: JSONValue = None) -> JSONValue:
    """``value.get(key, default)``: an object's member; anything else has no ``get``
    (AttributeError, as on the untyped read)."""
    if isinstance(value, Mapping):
        return value.get(key, default)
    raise AttributeError(f"'{type(value).__name__}' object has no attribute 'get'")


def json_items(value: JSONValue) -> JSONSequence:
    """What ``for item in value or []`` visits: nothing for an empty or null value, an
    array's items, a string's characters, an object's keys; a number is not iterable
    (TypeError, as on the untyped read)."""
    if not value:
        return []
    if isinstance(value, bool | int | float):
        raise TypeError(f"'{type(value).__name__}' object is not iterable")
    return [item for item in value]


def json_contains(value: JSONValue, needle: str) -> bool:
    """``needle in value``: a substring of a string, an item of an array, a key of an
    object; null, a boolean or a number contains nothing (TypeError, as Python says)."""
    if value is None or isinstance(value, bool | int | float):
        raise TypeError(f"argument of type '{type(value).__name__}' is not iterable")
    return needle in value

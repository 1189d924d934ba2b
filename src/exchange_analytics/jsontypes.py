"""JSON as a type: what goes over the wire or into a JSON column, checked where it is read.

Discord payloads and responses, Yahoo's and OANDA's bodies, the JSON columns
(``detection_data``, ``details``, ``meta``) and the ``--json`` / dashboard documents have the
shape of an external format. They are typed as JSON (not ``Any``), so every read says what it
expects: a malformed payload is a value the code narrows and refuses, never an attribute
error three calls later. ``bench/house_figures.py`` counts the uses of these aliases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

#: Any JSON value (object, array, string, number, boolean or null), as ``json.loads`` gives it.
JSONValue: TypeAlias = str | int | float | bool | list["JSONValue"] | dict[str, "JSONValue"] | None
#: A JSON object: what ``json.loads`` returns for ``{...}`` and what ``json.dumps`` takes.
JSONObject: TypeAlias = dict[str, JSONValue]
#: A JSON object only read: a parameter that also takes ``dict[str, str]`` and the like.
JSONMapping: TypeAlias = Mapping[str, JSONValue]
#: A JSON array only read.
JSONSequence: TypeAlias = Sequence[JSONValue]


def as_object(value: JSONValue) -> JSONObject | None:
    """``value`` if it is a JSON object, else ``None``."""
    return value if isinstance(value, dict) else None


def as_list(value: JSONValue) -> list[JSONValue] | None:
    """``value`` if it is a JSON array, else ``None``."""
    return value if isinstance(value, list) else None


def as_str(value: JSONValue) -> str | None:
    """``value`` if it is a JSON string, else ``None``."""
    return value if isinstance(value, str) else None


def as_number(value: JSONValue) -> float | None:
    """``value`` as a float if it is a JSON number (``true``/``false`` are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def as_int(value: JSONValue) -> int | None:
    """``value`` if it is a JSON integer (``true``/``false`` are not integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value

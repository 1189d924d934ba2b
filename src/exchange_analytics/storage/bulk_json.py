"""JSON text for bulk writes: exactly what ``json.dumps`` writes, at about half its cost.

A backfill stores one JSON object per indicator row (hundreds of thousands). ``json.dumps``
builds a new C encoder for every call; here one encoder, with ``json.dumps``'s default
settings, is built once and reused, so the text is the same byte for byte (the tests compare
it with SQLAlchemy's JSON bind processor, which calls ``json.dumps``): rows written by either
path compare equal and a re-run writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _encoder

from sqlalchemy import JSON
from sqlalchemy.types import TypeEngine

#: CPython's C encoder factory (``json.encoder.c_make_encoder``; typeshed does not declare it).
_MAKE_ENCODER = getattr(_encoder, "c_make_encoder", None)
#: ``json.dumps(value)`` for a dict, through one reusable C encoder (None: no C accelerator,
#: and ``json.dumps`` itself is used).
_C_ENCODER: Callable[[object, int], list[str]] | None = (
    _MAKE_ENCODER(
        None,  # no circular-reference bookkeeping: rows are data we computed, never cyclic
        json.JSONEncoder().default,
        _encoder.encode_basestring_ascii,  # ensure_ascii=True
        None,  # indent
        ": ",  # key separator
        ", ",  # item separator
        False,  # sort_keys
        False,  # skipkeys
        True,  # allow_nan
    )
    if _MAKE_ENCODER is not None
    else None
)


def json_object_text(value: dict[str, object]) -> str:
    """``json.dumps(value)`` (default settings) of a JSON object."""
    if _C_ENCODER is None:
        return json.dumps(value)
    return "".join(_C_ENCODER(value, 0))


def is_json_type(column_type: TypeEngine[object]) -> bool:
    """A JSON column's type (``JSON`` itself, or a TypeDecorator over it: ``JSONDocument``)."""
    impl = getattr(column_type, "impl_instance", None)
    return isinstance(column_type, JSON) or isinstance(impl, JSON)

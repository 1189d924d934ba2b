"""``yahoo._index`` fails exactly as plain subscripting of the decoded body did.

The "malformed body" messages quote the exception (``indicators.quote[0] lacks 'quote'``), so
the narrowing reader must raise the same class with the same text for every JSON shape.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from exchange_analytics.jsontypes import JSONValue
from exchange_analytics.providers.oanda import _volume
from exchange_analytics.providers.yahoo import _index

SHAPES: list[JSONValue] = [
    None,
    True,
    0,
    3,
    1.5,
    "",
    "abc",
    [],
    [{"open": [1.0]}],
    {},
    {"quote": []},
    {"0": 1},
]


def _outcome(read: Callable[[], object]) -> tuple[str, object]:
    """What ``read`` returns, or the class and text of what it raises."""
    try:
        return ("ok", read())
    except Exception as exc:
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("value", SHAPES, ids=repr)
@pytest.mark.parametrize("key", ["quote", "0", 0, 1])
def test_index_fails_as_subscripting_did(value: JSONValue, key: str | int) -> None:
    plain = _outcome(lambda: value[key])
    assert _outcome(lambda: _index(value, key)) == plain


@pytest.mark.parametrize("value", SHAPES, ids=repr)
def test_volume_accepts_and_refuses_as_float_or_zero_did(value: JSONValue) -> None:
    plain = _outcome(lambda: float(value or 0))
    ours = _outcome(lambda: _volume(value))
    assert ours[0] == plain[0]
    if plain[0] == "ok":
        assert ours == plain

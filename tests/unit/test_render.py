"""The one table renderer and the one JSON renderer (``exchange_analytics.render``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from exchange_analytics.render import Column, cell, human_bytes, table, to_json, wrap_words


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(None, "-", id="none"),
        pytest.param(1234567, "1,234,567", id="int-grouped"),
        pytest.param(0.12345, "0.123", id="small-float"),
        pytest.param(12345.6, "12,346", id="large-float"),
        pytest.param(True, "True", id="bool-not-a-number"),
        pytest.param(datetime(2026, 7, 1, 12, 5, 59, tzinfo=UTC), "2026-07-01 12:05", id="time"),
        pytest.param("USD/JPY", "USD/JPY", id="text"),
    ],
)
def test_cell(value: object, shown: str) -> None:
    assert cell(value) == shown


def test_numbers_right_text_left_with_a_rule() -> None:
    out = table([["USD/JPY", 5, None], ["EUR/USD", 12345, 1.5]], ["pair", "rows", "x"])
    assert out.splitlines() == [
        "pair       rows      x",
        "-------  ------  -----",
        "USD/JPY       5      -",
        "EUR/USD  12,345  1.500",
    ]


def test_fixed_widths_indent_and_no_rule() -> None:
    columns = [Column("pair", min_width=8), Column("n", align="right", min_width=4)]
    out = table([["A", "7"]], columns, indent="  ", gap=" ", rule=False)
    assert out.splitlines() == ["  pair        n", "  A           7"]


def test_wrapped_last_column_continues_under_itself() -> None:
    columns = [Column("name"), Column("reason", wrap=12)]
    out = table([["db", "one two three four five"]], columns).splitlines()
    assert out[1] == "----  ------"
    assert out[2:] == ["db    one two", "      three four", "      five"]


def test_only_the_last_column_may_wrap() -> None:
    with pytest.raises(ValueError, match="last column"):
        table([["a", "b"]], [Column("x", wrap=3), Column("y")])


def test_without_header() -> None:
    assert table([["ok", "x"]], ["", ""], header=False) == "ok  x"


def test_wrap_words_keeps_long_words_whole() -> None:
    assert wrap_words("a verylongword b", 4) == ["a", "verylongword", "b"]


def test_human_bytes_and_json() -> None:
    assert [human_bytes(v) for v in (None, 512, 1536, 3 * 1024**3)] == [
        "-",
        "512 B",
        "1.5 kB",
        "3.0 GB",
    ]
    moment = datetime(2026, 7, 1, tzinfo=UTC)
    assert json.loads(to_json({"at": moment, "n": 1})) == {"at": str(moment), "n": 1}

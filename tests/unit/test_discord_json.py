"""discord_json: typed readers that read Discord JSON exactly as the duck-typed code did."""

from __future__ import annotations

import pytest

from exchange_analytics.notifications.discord_json import json_contains, json_get, json_items


def test_json_get_reads_an_object_and_refuses_anything_else_like_dict_get() -> None:
    assert json_get({"a": 1}, "a") == 1
    assert json_get({"a": 1}, "b") is None
    assert json_get({}, "b", "d") == "d"
    for value in ("s", 1, None, [1]):
        with pytest.raises(AttributeError, match="object has no attribute 'get'"):
            json_get(value, "a")


def test_json_items_iterates_like_value_or_empty_list() -> None:
    assert json_items(None) == [] and json_items(0) == [] and json_items("") == []
    assert json_items([1, {"a": 2}]) == [1, {"a": 2}]
    assert json_items("ab") == ["a", "b"]
    assert json_items({"k": 1}) == ["k"]
    for value in (5, 1.5, True):
        with pytest.raises(TypeError, match="object is not iterable"):
            json_items(value)


def test_json_contains_is_the_in_operator() -> None:
    assert json_contains("x ref m1", "ref m1")
    assert json_contains(["ref m1"], "ref m1") and not json_contains(["x"], "ref m1")
    assert json_contains({"ref m1": 1}, "ref m1")
    for value in (None, True, 3):
        with pytest.raises(TypeError, match="is not iterable"):
            json_contains(value, "m1")

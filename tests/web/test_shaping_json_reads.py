"""Malformed JSON columns are tolerated or refused by ``web.shaping`` as before issue 15's JSON
type: a string or object where ``checks`` belongs holds no check, a number there (or anything
but an object where ``timeframes`` belongs) is an error; ``additional_data`` numbers keep their
JSON type (an integer stays one) and a non-number is a TypeError."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.web import shaping

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("checks", [None, "", "abc", {"a": 1}, [], 0, False])
def test_checks_that_hold_no_object_give_no_check(checks: JSONValue) -> None:
    found = shaping.conditions({"timeframes": {"1h": {"met": False, "checks": checks}}})
    assert found == {"1h": {"met": False, "reason": None, "checks": []}}


@pytest.mark.parametrize("checks", [3, 1.5, True])
def test_numeric_checks_are_refused(checks: JSONValue) -> None:
    with pytest.raises(TypeError):
        shaping.conditions({"timeframes": {"1h": {"checks": checks}}})


@pytest.mark.parametrize("timeframes", [[1], "1h", 3, True])
def test_timeframes_that_are_not_an_object_are_refused(timeframes: JSONValue) -> None:
    with pytest.raises(AttributeError):
        shaping.conditions({"timeframes": timeframes})


def test_indicator_numbers_keep_their_json_type() -> None:
    extra: JSONObject = {"upper": 2, "lower": 1.25, "signal": 1, "histogram": 0}
    payload = shaping.chart_payload([], [(T0, "BB", 1.5, extra), (T0, "MACD", 1.5, {"signal": 1})])
    assert json.dumps(payload["bb"]) == (
        '[{"time": 1782907200, "upper": 2, "middle": 1.5, "lower": 1.25}]'
    )
    assert json.dumps(payload["macd"]) == (
        '[{"time": 1782907200, "macd": 1.5, "signal": 1, "histogram": 0.5}]'
    )


@pytest.mark.parametrize("bad", ["1.0", None, [1.0]])
def test_non_numeric_indicator_values_are_refused(bad: JSONValue) -> None:
    with pytest.raises(TypeError):
        shaping.chart_payload([], [(T0, "BB", 1.5, {"upper": bad, "lower": 1.0})])

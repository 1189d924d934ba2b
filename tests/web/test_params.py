"""Query parameters: accepted spellings and the one-line reasons for refusing the rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exchange_analytics.domain import Timeframe
from exchange_analytics.web import params


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-01T12:30:00Z", datetime(2026, 6, 1, 12, 30, tzinfo=UTC)),
        ("2026-06-01T14:30:00+02:00", datetime(2026, 6, 1, 12, 30, tzinfo=UTC)),
        ("1780316400", datetime(2026, 6, 1, 12, 20, tzinfo=UTC)),
    ],
    ids=["date", "zulu", "offset", "unix"],
)
def test_instants(text: str, expected: datetime) -> None:
    assert params.instant("from", text) == expected


def test_a_bare_date_as_to_means_the_whole_day() -> None:
    start, end = params.time_range({"from": "2026-06-01", "to": "2026-06-01"})
    assert start == datetime(2026, 6, 1, tzinfo=UTC)
    assert end == datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)
    _, exact = params.time_range({"to": "2026-06-01T00:00:00Z"})
    assert exact == datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: params.timeframe("15m"), "tf='15m' is not a timeframe: use one of 5m, 1h"),
        (lambda: params.instant("to", "2026-13-01"), "to='2026-13-01' is not a date"),
        (lambda: params.time_range({"from": "2026-06-02", "to": "2026-06-01"}), "is after"),
        (lambda: params.integer("limit", "-1", 5, 1, 10), "limit=-1 is out of range: use 1 to"),
        (lambda: params.choice("direction", "up", params.DIRECTIONS), "use one of BUY, SELL"),
        (lambda: params.pair(None, ["USD/JPY"]), "pair is missing"),
    ],
    ids=["timeframe", "date", "order", "limit", "direction", "no-pair"],
)
def test_bad_values_say_what_to_use(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(params.BadParameter, match=message.replace("(", r"\(")):
        call()


def test_pairs_in_any_spelling_but_only_known_ones() -> None:
    known = ["USD/JPY", "EUR/USD"]
    assert params.pair("usd_jpy", known) == params.pair("USDJPY", known) == "USD/JPY"
    with pytest.raises(params.NotFound, match="unknown pair GBP/USD: known pairs are USD/JPY"):
        params.pair("GBP/USD", known)
    with pytest.raises(params.NotFound, match="unknown pair 'not a pair'"):
        params.pair("not a pair", known)
    assert params.timeframe(None) is Timeframe.H1 and params.slug("EUR/USD") == "EUR_USD"

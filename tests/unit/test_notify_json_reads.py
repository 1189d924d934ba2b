"""How the outbox and the chart read their stored JSON (issue 15): narrowed, never guessed.

A well-formed row reads as before; an odd value is either tolerated (a summary, a chart's
levels, the formatter's view) or refused with the error the sender already handled.
"""

from __future__ import annotations

import pytest

from exchange_analytics.notifications.outbox import ClaimedMessage, detection_view, summary_line
from exchange_analytics.pipeline.notify import chart_marks, chart_title

CHART = {
    "pair": "USD/JPY",
    "bar_timestamp": "2024-05-01T12:35:00+00:00",
    "pattern_type": "breakout",
    "direction": "BUY",
    "entry_price": 155.123,
    "take_profit": 155.5,
    "stop_loss": None,
    "trend": "1d ↑ 4h ↑ 1h ↓",
}


def test_summary_line_reads_nested_and_whole_payloads() -> None:
    assert summary_line({"discord": {"embeds": [{"title": "T"}], "content": "c"}}) == "T"
    assert summary_line({"embeds": [], "content": "c"}) == "c"
    assert summary_line({"discord": {"content": "only"}}) == "only"


def test_summary_line_tolerates_odd_values() -> None:
    assert summary_line({"discord": "text"}) == "message"
    assert summary_line({"discord": {"embeds": ["x"], "content": "c"}}) == "c"
    assert summary_line({"discord": {"embeds": "x"}}) == "message"


def test_claimed_discord_is_a_copy_and_refuses_a_non_object() -> None:
    inner = {"content": "hi"}
    row = ClaimedMessage(
        id=7,
        kind="pattern",
        channel="patterns",
        dedupe_key="k",
        attempts=0,
        payload={"discord": inner},
    )
    assert row.discord == inner and row.discord is not inner
    legacy = ClaimedMessage(
        id=8, kind="alert", channel="alerts", dedupe_key="k", attempts=0, payload={"content": "x"}
    )
    assert legacy.discord == {"content": "x"}
    broken = ClaimedMessage(
        id=9, kind="alert", channel="alerts", dedupe_key="k", attempts=0, payload={"discord": 3}
    )
    with pytest.raises(TypeError, match="outbox row 9"):
        _ = broken.discord


def test_chart_title_and_marks_from_the_row() -> None:
    assert chart_title(CHART) == "USD/JPY 5m · Breakout BUY · 05-01 12:40 UTC · 1d ↑ 4h ↑ 1h ↓"
    marks = chart_marks({**CHART, "take_profit": 156, "stop_loss": "x"})
    assert (marks.entry, marks.take_profit, marks.stop_loss) == (155.123, 156.0, None)
    assert marks.decimals == 3 and marks.direction == "BUY"


def test_chart_title_refuses_a_missing_or_non_text_bar_time() -> None:
    with pytest.raises(KeyError):
        chart_title({"pair": "USD/JPY"})
    with pytest.raises(TypeError, match="bar_timestamp"):
        chart_title({**CHART, "bar_timestamp": 17})


def test_detection_view_reads_checks_and_ignores_odd_blocks() -> None:
    data = {
        "timeframes": {
            "1h": {"checks": [{"condition": "rsi", "met": True, "values": {"rsi": 71.0}}, "x"]},
            "4h": None,
            "1d": {"checks": "odd"},
        },
        "readings": {"1h": {"close": 1.0}},
        "advice": "wait",
    }
    view = detection_view(data)
    assert view["conditions"] == {
        "1h": [{"name": "rsi", "met": True, "values": {"rsi": 71.0}}],
        "4h": [],
        "1d": [],
    }
    assert view["readings"] == {"1h": {"close": 1.0}}
    assert view["advice"] == "wait" and view["risk"] is None

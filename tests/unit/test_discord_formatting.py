"""Message builders (SPEC §8, §9.1, §14): content, mentions, limits, and tolerance of odd data."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from exchange_analytics.notifications import formatting
from exchange_analytics.notifications.formatting import (
    PATTERN_STYLES,
    REPEAT_MARK,
    alert_message,
    dedupe_marker,
    mark_possible_repeat,
    marker_text,
    pattern_message,
    with_marker,
)
from exchange_analytics.notifications.limits import ELLIPSIS, violations
from tests.support.fake_discord import validate as discord_validate


def _conditions(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "met": True, "values": {}} for name in names]


def _reading(rsi: float, macd: float, signal: float, close: float, mid: float) -> dict[str, float]:
    return {
        "rsi": rsi,
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": macd - signal,
        "bb_upper": mid + 1.0,
        "bb_middle": mid,
        "bb_lower": mid - 1.0,
        "close": close,
    }


@pytest.fixture
def detection() -> dict[str, Any]:
    """A USD/JPY trend reversal as the patterns stage stores it."""
    return {
        "currency_pair": "USD/JPY",
        "pattern_type": "trend_reversal",
        "direction": "SELL",
        "bar_timestamp": datetime(2024, 5, 1, 12, 35, tzinfo=UTC),
        "confidence_score": 0.82,
        "priority": "high",
        "entry_price": 157.912,
        "take_profit": 157.412,
        "stop_loss": 158.212,
        "is_demo": False,
        "possible_repeat": False,
        "detection_data": {
            "conditions": {
                "1d": _conditions("RSI > 70", "MACD crossed below signal"),
                "4h": _conditions("RSI > 70", "high >= BB upper"),
                "1h": _conditions("RSI > 70", "high >= BB upper"),
                "5m": [
                    {"name": "RSI > 70", "met": True, "values": {"rsi": 72.9}},
                    {"name": "upper wick >= 2x body", "met": False, "values": {}},
                ],
            },
            "readings": {
                "5m": _reading(72.9, 0.0312, 0.0288, 157.912, 157.5),
                "1h": _reading(76.1, 0.121, 0.09, 157.92, 157.4),
                "4h": _reading(74.8, 0.231, 0.18, 157.95, 156.9),
                "1d": _reading(71.2, 0.412, 0.433, 157.9, 155.1),
            },
            "take_profit_pips": 50,
            "stop_loss_pips": 30,
            "advice": None,
            "risk": None,
        },
    }


def _fields(message: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


def test_pattern_message_title_fields_and_mentions(detection: dict[str, Any]) -> None:
    message = pattern_message(detection)
    (embed,) = message["embeds"]
    assert embed["title"] == "USD/JPY · Trend reversal · SELL"
    assert embed["color"] == PATTERN_STYLES["trend_reversal"][1]
    assert message["allowed_mentions"] == {"parse": []}
    assert "content" not in message
    fields = _fields(message)
    assert fields["Pair"] == "USD/JPY"
    assert fields["Price"] == "157.912"
    assert fields["Take profit"] == "157.412 (50 pips)"
    assert fields["Stop loss"] == "158.212 (30 pips)"
    assert fields["Confidence"] == "82%"
    assert embed["timestamp"] == "2024-05-01T12:35:00+00:00"
    assert discord_validate(message) == {}


def test_timeframe_readings_are_compact_and_higher_timeframes_come_first(
    detection: dict[str, Any],
) -> None:
    names = [f["name"] for f in pattern_message(detection)["embeds"][0]["fields"]]
    assert [n for n in names if n in ("1d", "4h", "1h", "5m")] == ["1d", "4h", "1h", "5m"]
    fields = _fields(pattern_message(detection))
    assert fields["1d"].splitlines() == [
        "RSI 71.2 · MACD 0.412 < sig 0.433 (hist −0.021) · BB 190% (above upper)",
        "✓ RSI > 70 · ✓ MACD crossed below signal",
    ]
    assert "BB 71% (inside)" in fields["5m"]
    assert "✗ upper wick >= 2x body" in fields["5m"]


def test_time_is_shown_in_utc_and_jst(detection: dict[str, Any]) -> None:
    fields = _fields(pattern_message(detection))
    assert fields["Time (5m bar)"] == "2024-05-01 12:35–12:40 UTC\n2024-05-01 21:35–21:40 JST"


def test_jst_crosses_midnight_and_the_year() -> None:
    when = datetime(2024, 12, 31, 18, 0, tzinfo=UTC)
    assert formatting.format_times(when) == "2024-12-31 18:00 UTC\n2025-01-01 03:00 JST"


def test_six_patterns_have_six_distinct_colours(detection: dict[str, Any]) -> None:
    colours = set()
    for pattern in PATTERN_STYLES:
        detection["pattern_type"] = pattern
        colours.add(pattern_message(detection)["embeds"][0]["color"])
    assert len(colours) == 6


def test_demo_data_is_marked_in_title_and_description(detection: dict[str, Any]) -> None:
    detection["is_demo"] = True
    embed = pattern_message(detection)["embeds"][0]
    assert embed["title"].startswith("[DEMO DATA] USD/JPY")
    assert "[DEMO DATA]" in embed["description"]


def test_a_possible_repeat_is_marked(detection: dict[str, Any]) -> None:
    assert REPEAT_MARK not in str(pattern_message(detection))
    detection["possible_repeat"] = True
    assert REPEAT_MARK in pattern_message(detection)["embeds"][0]["description"]


def test_mark_possible_repeat_adds_the_marker_once(detection: dict[str, Any]) -> None:
    stored = pattern_message(detection)
    marked = mark_possible_repeat(stored)
    assert marked["embeds"][0]["description"].startswith(REPEAT_MARK)
    assert mark_possible_repeat(marked) == marked
    assert REPEAT_MARK not in str(stored)  # the stored payload is not changed


def test_advice_and_risk_replace_missing_take_profit(detection: dict[str, Any]) -> None:
    detection.update(pattern_type="divergence", take_profit=None, stop_loss=None)
    detection["detection_data"].update(
        take_profit_pips=None, stop_loss_pips=None, advice="take profit", risk="sharp move possible"
    )
    fields = _fields(pattern_message(detection))
    assert "Take profit" not in fields
    assert "Stop loss" not in fields
    assert fields["Advice"] == "take profit"
    assert fields["Risk"] == "sharp move possible"


def test_pips_are_derived_from_prices_when_not_stored(detection: dict[str, Any]) -> None:
    detection.update(currency_pair="EUR/USD", entry_price=1.08512, take_profit=1.09512)
    detection["detection_data"].pop("take_profit_pips")
    assert _fields(pattern_message(detection))["Take profit"] == "1.09512 (100 pips)"


def test_a_chart_attachment_becomes_the_embed_image(detection: dict[str, Any]) -> None:
    embed = pattern_message(detection, chart_filename="chart.png")["embeds"][0]
    assert embed["image"] == {"url": "attachment://chart.png"}


def test_text_from_data_cannot_mention_anyone(detection: dict[str, Any]) -> None:
    detection["detection_data"]["advice"] = "@everyone <@&123> <@456> buy now"
    message = pattern_message(detection)
    assert message["allowed_mentions"] == {"parse": []}


def test_oversized_data_is_cut_to_discords_limits(detection: dict[str, Any]) -> None:
    data = detection["detection_data"]
    data["advice"] = "hold " * 3000
    for tf in ("1d", "4h", "1h", "5m", "15m", "30m", "1w", "2h"):
        data["conditions"][tf] = _conditions(*(f"condition number {i} " * 8 for i in range(40)))
    message = pattern_message(detection)
    assert violations(message) == []
    assert discord_validate(message) == {}
    assert _fields(message)["Advice"].endswith(ELLIPSIS)


FLAT_BANDS = {"bb_upper": 1.0, "bb_lower": 1.0, "close": 1.0}
ODD = [
    ("empty", {}),
    ("no-detection-data", {"currency_pair": "USD/JPY", "detection_data": None}),
    ("strings", {"entry_price": "n/a", "confidence_score": "high", "bar_timestamp": "x"}),
    ("nan-inf", {"entry_price": math.nan, "take_profit": math.inf, "confidence_score": math.nan}),
    ("naive-time", {"bar_timestamp": datetime(2024, 5, 1, 12, 35)}),
    ("iso-text-time", {"bar_timestamp": "2024-05-01T12:35:00Z"}),
    ("bad-pair", {"currency_pair": "not a pair", "entry_price": 1.5, "take_profit": 1.6}),
    ("unknown-pattern", {"pattern_type": "head_and_shoulders", "direction": None}),
    ("readings-not-dicts", {"detection_data": {"readings": {"1h": [1, 2]}, "conditions": "x"}}),
    ("conditions-junk", {"detection_data": {"conditions": {"5m": [None, "x", {"met": 1}]}}}),
    ("bb-degenerate", {"detection_data": {"readings": {"1h": FLAT_BANDS}}}),
    ("bools-as-numbers", {"entry_price": True, "confidence_score": False}),
]  # fmt: skip


@pytest.mark.parametrize("odd", [o[1] for o in ODD], ids=[o[0] for o in ODD])
def test_odd_detections_never_crash_and_still_fit(odd: dict[str, Any]) -> None:
    message = pattern_message(odd)
    assert message["allowed_mentions"] == {"parse": []}
    assert message["embeds"][0]["title"]
    assert violations(message) == []
    assert discord_validate(message) == {}


def test_naive_and_text_times_are_read_as_utc() -> None:
    naive = _fields(pattern_message({"bar_timestamp": datetime(2024, 5, 1, 12, 35)}))
    text = _fields(pattern_message({"bar_timestamp": "2024-05-01T12:35:00Z"}))
    assert naive["Time (5m bar)"] == text["Time (5m bar)"]
    assert naive["Time (5m bar)"].startswith("2024-05-01 12:35–12:40 UTC")


def test_the_formatter_does_not_change_its_input(detection: dict[str, Any]) -> None:
    before = copy.deepcopy(detection)
    pattern_message(detection)
    assert detection == before


# --- alerts ---------------------------------------------------------------------------------

ADMIN = "123456789012345678"


def test_critical_alert_mentions_only_the_admin() -> None:
    message = alert_message("CRITICAL", "5 failed runs in a row", "db down @everyone <@999>", ADMIN)
    assert message["content"] == f"<@{ADMIN}> CRITICAL: 5 failed runs in a row"
    assert message["allowed_mentions"] == {"parse": [], "users": [ADMIN]}
    assert message["embeds"][0]["title"] == "🚨 CRITICAL: 5 failed runs in a row"


@pytest.mark.parametrize("severity", ["WARNING", "INFO"])
def test_other_severities_mention_nobody(severity: str) -> None:
    message = alert_message(severity, "success rate 82%", "below 90% over 24 h", ADMIN)
    assert "content" not in message
    assert message["allowed_mentions"] == {"parse": []}
    assert message["embeds"][0]["title"].endswith(f"{severity}: success rate 82%")


@pytest.mark.parametrize(
    "admin", [None, "", "@everyone", "12ab"], ids=["none", "empty", "everyone", "not-digits"]
)
def test_critical_without_a_valid_admin_id_mentions_nobody(admin: str | None) -> None:
    message = alert_message("CRITICAL", "processing took 11 min", "limit 10 min", admin)
    assert message["allowed_mentions"] == {"parse": []}
    assert "<@" not in message["content"]


def test_resolved_alert_is_green_and_mentions_nobody() -> None:
    at = datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
    message = alert_message(
        "CRITICAL", "5 failed runs in a row", "runs succeed again", ADMIN, resolved=True, at=at
    )
    embed = message["embeds"][0]
    assert embed["title"] == "✅ RESOLVED: 5 failed runs in a row"
    assert embed["color"] == formatting.RESOLVED_COLOUR
    assert message["allowed_mentions"] == {"parse": []}
    assert "content" not in message
    assert _fields(message)["Time"] == "2024-05-01 13:00 UTC\n2024-05-01 22:00 JST"


def test_alert_severities_have_distinct_colours() -> None:
    colours = {
        alert_message(s, "t", "x", None)["embeds"][0]["color"]
        for s in ("CRITICAL", "WARNING", "INFO")
    }
    colours.add(alert_message("INFO", "t", "x", None, resolved=True)["embeds"][0]["color"])
    assert len(colours) == 4


def test_test_message_names_the_time() -> None:
    message = formatting.test_message(datetime(2024, 5, 1, 0, 0, tzinfo=UTC))
    assert message["allowed_mentions"] == {"parse": []}
    assert _fields(message)["Sent"] == "2024-05-01 00:00 UTC\n2024-05-01 09:00 JST"
    assert discord_validate(message) == {}


# --- dedupe marker --------------------------------------------------------------------------


def test_dedupe_marker_is_short_stable_and_distinct() -> None:
    first = dedupe_marker("pattern:USD/JPY:trend_reversal:SELL:2024-05-01T12:35")
    assert first == dedupe_marker("pattern:USD/JPY:trend_reversal:SELL:2024-05-01T12:35")
    assert len(first) == 20  # Discord nonces hold at most 25 characters
    assert first != dedupe_marker("pattern:USD/JPY:trend_reversal:SELL:2024-05-01T12:40")


def test_the_marker_survives_a_maximal_footer(detection: dict[str, Any]) -> None:
    message = pattern_message(detection)
    message["embeds"][0]["footer"] = {"text": "x " * 3000}
    marked = with_marker(message, "abc123")
    footer = marked["embeds"][0]["footer"]["text"]
    assert footer.endswith(f"… · {marker_text('abc123')}")
    assert violations(marked) == []


def test_the_marker_goes_into_content_when_there_is_no_embed() -> None:
    marked = with_marker({"content": "y" * 5000}, "abc123")
    assert marked["content"].endswith("\n-# ref abc123")
    assert violations(marked) == []

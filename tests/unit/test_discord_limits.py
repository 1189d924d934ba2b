"""fit_message: every Discord limit met by cutting cleanly, never by refusing (SPEC §8)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from exchange_analytics.notifications import limits
from exchange_analytics.notifications.limits import (
    BLANK,
    ELLIPSIS,
    embed_total,
    fit_message,
    text_length,
    truncate,
    violations,
)
from tests.support.fake_discord import validate as discord_validate

PROSE = "The pair rallied into resistance while momentum faded on every timeframe. " * 200


# --- truncate -------------------------------------------------------------------------------


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("USD/JPY", 256) == "USD/JPY"


def test_truncate_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    cut = truncate("alpha beta gamma delta epsilon", 20)
    assert cut == "alpha beta gamma…"
    assert text_length(cut) <= 20


def test_truncate_prefers_a_line_break_near_the_end() -> None:
    text = "RSI 72.1 · MACD below signal\nBB above upper band and still going"
    # the newline and the last space are both inside the window; the line break wins
    cut = truncate(text, 36)
    assert cut == "RSI 72.1 · MACD below signal…"


def test_truncate_cuts_mid_word_when_no_boundary_is_near() -> None:
    cut = truncate("x" * 50, 10)
    assert cut == "x" * 9 + ELLIPSIS


@pytest.mark.parametrize(("limit", "expected"), [(0, ""), (1, ELLIPSIS)], ids=["zero", "one"])
def test_truncate_tiny_limits(limit: int, expected: str) -> None:
    assert truncate("anything long", limit) == expected


def test_truncate_counts_astral_characters_twice_and_never_splits_them() -> None:
    text = "📈" * 10  # each is 2 UTF-16 units
    cut = truncate(text, 9)
    assert text_length(cut) <= 9
    assert cut == "📈" * 4 + ELLIPSIS


# --- fit_message: one limit at a time -------------------------------------------------------


def _embed(**overrides: Any) -> dict[str, Any]:
    embed: dict[str, Any] = {"title": "t", "description": "d", "color": 0x3498DB}
    embed.update(overrides)
    return embed


def _first(key: str, sub: str | None = None) -> Any:
    def pick(message: dict[str, Any]) -> str:
        value = message["embeds"][0][key]
        return value[sub] if sub else value

    return pick


def _field(key: str) -> Any:
    return lambda message: message["embeds"][0]["fields"][0][key]


CASES = [
    ("title", {"embeds": [_embed(title=PROSE)]}, _first("title"), 256),
    ("description", {"embeds": [_embed(description=PROSE)]}, _first("description"), 4096),
    ("footer", {"embeds": [_embed(footer={"text": PROSE})]}, _first("footer", "text"), 2048),
    ("author", {"embeds": [_embed(author={"name": PROSE})]}, _first("author", "name"), 256),
    ("field-name", {"embeds": [_embed(fields=[{"name": PROSE, "value": "v"}])]}, _field("name"), 256),  # noqa: E501
    ("field-value", {"embeds": [_embed(fields=[{"name": "n", "value": PROSE}])]}, _field("value"), 1024),  # noqa: E501
    ("content", {"content": PROSE}, lambda m: m["content"], 2000),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "pick", "limit"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_text_is_cut_to_its_limit_with_an_ellipsis(
    payload: dict[str, Any], pick: Any, limit: int
) -> None:
    fitted = fit_message(payload)
    text = pick(fitted)
    assert limit - 80 < text_length(text) <= limit
    assert text.endswith(ELLIPSIS)
    assert not text[:-1].endswith(" ")  # cut at a word, not after a dangling space
    assert violations(fitted) == []
    assert discord_validate(fitted) == {}


def test_more_than_25_fields_keep_24_and_say_how_many_were_left_out() -> None:
    fields = [{"name": f"f{i}", "value": str(i)} for i in range(40)]
    fitted = fit_message({"embeds": [_embed(fields=fields)]})
    kept = fitted["embeds"][0]["fields"]
    assert len(kept) == 25
    assert [f["name"] for f in kept[:24]] == [f"f{i}" for i in range(24)]
    assert kept[24]["value"] == "16 more fields omitted"


def test_more_than_ten_embeds_keep_the_first_ten() -> None:
    fitted = fit_message({"embeds": [_embed(title=f"e{i}") for i in range(12)]})
    assert [e["title"] for e in fitted["embeds"]] == [f"e{i}" for i in range(10)]


def test_total_over_6000_cuts_descriptions_first_and_keeps_titles() -> None:
    embeds = [_embed(title=f"Signal {i}", description=PROSE[:3000]) for i in range(3)]
    fitted = fit_message({"embeds": embeds})
    assert embed_total(fitted["embeds"]) <= limits.EMBED_TOTAL_MAX
    assert [e["title"] for e in fitted["embeds"]] == ["Signal 0", "Signal 1", "Signal 2"]
    # the last embed's description gives way first; the first one stays whole
    assert fitted["embeds"][0]["description"] == PROSE[:3000]
    assert "description" not in fitted["embeds"][2]
    assert discord_validate(fitted) == {}


def test_the_worst_case_message_fits_and_keeps_the_first_footer() -> None:
    embed = _embed(
        title=PROSE,
        description=PROSE,
        footer={"text": PROSE},
        author={"name": PROSE},
        fields=[{"name": PROSE, "value": PROSE} for _ in range(30)],
    )
    fitted = fit_message({"content": PROSE, "embeds": [copy.deepcopy(embed) for _ in range(12)]})
    assert violations(fitted) == []
    assert discord_validate(fitted) == {}
    assert text_length(fitted["embeds"][0]["footer"]["text"]) == text_length(truncate(PROSE, 2048))


def test_empty_field_names_and_values_are_filled_because_discord_refuses_them() -> None:
    fields = [{"name": "", "value": None}, {"name": 5, "value": 0}]
    fitted = fit_message({"embeds": [_embed(fields=fields)]})
    assert fitted["embeds"][0]["fields"] == [
        {"name": BLANK, "value": BLANK},
        {"name": "5", "value": "0"},
    ]
    assert discord_validate(fitted) == {}


def test_unknown_keys_pass_through_and_the_input_is_not_changed() -> None:
    payload = {
        "allowed_mentions": {"parse": []},
        "embeds": [_embed(title=PROSE, timestamp="2024-05-01T12:35:00+00:00", image={"url": "x"})],
        "nonce": "abc",
    }
    before = copy.deepcopy(payload)
    fitted = fit_message(payload)
    assert payload == before
    assert fitted["allowed_mentions"] == {"parse": []}
    assert fitted["nonce"] == "abc"
    assert fitted["embeds"][0]["timestamp"] == "2024-05-01T12:35:00+00:00"
    assert fitted["embeds"][0]["image"] == {"url": "x"}


def test_fit_message_is_idempotent() -> None:
    fields = [{"name": "a", "value": PROSE}] * 30
    payload = {"content": PROSE, "embeds": [_embed(description=PROSE, fields=fields)]}
    once = fit_message(payload)
    assert fit_message(once) == once


def test_malformed_embeds_are_dropped_not_fatal() -> None:
    broken = _embed(footer="bad", author={"name": ""})
    fitted = fit_message({"embeds": ["not an embed", None, broken]})
    assert fitted["embeds"] == [_embed()]


def test_violations_names_each_broken_limit() -> None:
    embed = _embed(title="t" * 257, fields=[{"name": "", "value": "v"}])
    payload = {"content": "x" * 2001, "embeds": [embed]}
    found = violations(payload)
    assert "content longer than 2000" in found
    assert "embeds[0].title longer than 256" in found
    assert "embeds[0].fields[0] has an empty name or value" in found

"""The Discord transport's pure parts: the post body, reading answers, the rate-limit buckets.

``tests/integration/test_discord_transport.py`` drives them over a real socket; these pin the
decisions one by one (which setting a refusal names, where the marker is looked for, which
wait a 429 asks for), with answers built as ``httpx.Response`` values, nothing mocked.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from exchange_analytics.notifications.discord_pacing import RateLimits, as_float, as_int
from exchange_analytics.notifications.discord_wire import (
    flatten_errors,
    marked_message_id,
    post_request,
    refusal_reason,
    response_json,
)
from exchange_analytics.notifications.formatting import marker_text

PAYLOAD = {"embeds": [{"title": "t", "footer": {"text": "Exchange Analytics"}}]}


def test_a_webhook_post_is_json_with_no_mentions_and_the_marker_in_the_footer() -> None:
    request = post_request(PAYLOAD, "abc", is_bot=False, png=None, png_filename="chart.png")
    assert request.data is None and request.files is None and request.json is not None
    assert request.json["allowed_mentions"] == {"parse": []}
    assert request.json["embeds"][0]["footer"]["text"].endswith(marker_text("abc"))
    assert "nonce" not in request.json


def test_a_bot_post_with_a_chart_is_multipart_with_the_nonce() -> None:
    request = post_request(PAYLOAD, "abc", is_bot=True, png=b"PNG", png_filename="c.png")
    assert request.json is None and request.data is not None and request.files is not None
    body = json.loads(request.data["payload_json"])
    assert body["nonce"] == "abc" and body["enforce_nonce"] is True
    assert body["attachments"] == [{"id": 0, "filename": "c.png"}]
    assert request.files == {"files[0]": ("c.png", b"PNG", "image/png")}


def test_a_listing_is_searched_by_nonce_footer_and_content() -> None:
    tag = marker_text("m1")
    listing = [
        {"id": 1, "content": "other"},
        {"id": 2, "embeds": [{"footer": {"text": f"x · {tag}"}}]},
    ]
    assert marked_message_id(listing, "m1") == "2"
    assert marked_message_id([{"id": 3, "nonce": "m1"}], "m1") == "3"
    assert marked_message_id([{"id": 4, "content": f"hi\n-# {tag}"}], "m1") == "4"
    assert marked_message_id(listing, "m2") is None
    assert marked_message_id({"not": "a list"}, "m1") is None


@pytest.mark.parametrize(
    ("status", "is_bot", "names"),
    [
        pytest.param(404, False, "DISCORD_WEBHOOK_URL", id="webhook-gone"),
        pytest.param(404, True, "DISCORD_CHANNEL_ID", id="channel-gone"),
        pytest.param(401, False, "unauthorized: check the webhook token", id="webhook-401"),
        pytest.param(403, True, "forbidden: check DISCORD_BOT_TOKEN", id="bot-403"),
    ],
)
def test_a_refusal_names_the_setting_to_fix(status: int, is_bot: bool, names: str) -> None:
    fix, code = refusal_reason(httpx.Response(status, json={"code": 10015}), is_bot=is_bot)
    assert names in fix
    assert code == 10015


def test_a_400_lists_discords_nested_errors() -> None:
    body = {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {"embeds": {"0": {"title": {"_errors": [{"message": "Too long"}]}}}},
    }
    fix, code = refusal_reason(httpx.Response(400, json=body), is_bot=False)
    assert fix == "Invalid Form Body (code 50035): embeds.0.title: Too long"
    assert code == 50035
    assert flatten_errors("not an object") == []


def test_an_answer_that_is_not_a_json_object_reads_as_empty() -> None:
    assert response_json(httpx.Response(200, text="<html>")) == {}
    assert response_json(httpx.Response(200, json=[1, 2])) == {}
    assert response_json(httpx.Response(200, json={"id": "9"})) == {"id": "9"}


def test_numbers_from_headers_and_bodies() -> None:
    assert as_float("0.35") == 0.35
    assert as_float(2) == 2.0
    assert as_float(None) is None
    assert as_float("soon") is None
    assert as_float([1]) is None
    assert as_int("50035") == 50035


def test_an_exhausted_bucket_blocks_its_route_and_a_global_429_blocks_all() -> None:
    limits = RateLimits("webhook:1", margin_s=0.0)
    headers = httpx.Headers(
        {"x-ratelimit-bucket": "b1", "x-ratelimit-remaining": "0", "x-ratelimit-reset-after": "5"}
    )
    limits.learn("POST webhook:1", headers)
    assert limits.bucket("POST webhook:1") == "b1 webhook:1"
    assert 4.5 < limits.wait("POST webhook:1") <= 5.0
    assert limits.wait("GET webhook:1") == 0.0
    started = time.monotonic()
    wait = limits.limited("GET webhook:1", httpx.Headers({"retry-after": "3"}), {"global": True})
    assert wait == 3.0
    assert limits.wait("GET webhook:1") <= 3.0 + (time.monotonic() - started)
    assert limits.wait("GET webhook:1") > 2.5


def test_a_429_prefers_the_bodys_fractional_retry_after() -> None:
    limits = RateLimits("webhook:1", margin_s=0.05)
    wait = limits.limited(
        "POST webhook:1", httpx.Headers({"retry-after": "1"}), {"retry_after": 0.3}
    )
    assert wait == pytest.approx(0.35)
    assert limits.limited("POST webhook:1", httpx.Headers(), {}) == pytest.approx(1.05)

"""OandaProvider against the OANDA v20 stand-in serving real USD_JPY candles (M1 -> M5/H1)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import pytest
from structlog.testing import capture_logs

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe
from exchange_analytics.errors import ConfigurationError, ProviderRequestError, ProviderUnavailable
from exchange_analytics.providers.http import RetryPolicy
from exchange_analytics.providers.oanda import HOSTS, OandaProvider, format_time, parse_time
from exchange_analytics.providers.registry import build_provider
from tests.support.fake_oanda import OANDA_M1_CSV, FakeOanda, oanda_error
from tests.support.fake_yahoo import garbage, rate_limited, server_error, slow
from tests.support.http_server import LocalServer, Response, serve

NOW = datetime(2026, 2, 10, 12, 2, 30, tzinfo=UTC)  # a Tuesday inside the real data
TOKEN = "0123abcd-SECRET-TOKEN-4567efgh"
USDJPY = CurrencyPair.parse("USD/JPY")
FAST = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.02)


@pytest.fixture(scope="module")
def m1() -> pd.DataFrame:
    frame = pd.read_csv(OANDA_M1_CSV)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.set_index("time")


def expected(
    m1: pd.DataFrame, start: datetime, end: datetime, timeframe: Timeframe = Timeframe.M5
) -> list[Candle]:
    """Closed candles in [start, end) by pandas resampling of the real M1 file: an
    independent check of the stand-in's aggregation and of the provider's window logic."""
    rule = {Timeframe.M5: "5min", Timeframe.H1: "1h"}[timeframe]
    agg = m1.resample(rule, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last"}
    )
    agg["volume"] = m1["close"].resample(rule, label="left", closed="left").count()
    agg = agg[agg["volume"] > 0]
    agg = agg[(agg.index >= start) & (agg.index + timeframe.duration <= end)]
    columns = [agg[k].tolist() for k in ("open", "high", "low", "close", "volume")]
    return [
        Candle(t.to_pydatetime(), *(float(f"{p:.3f}") for p in (o, h, low, c)), float(v))
        for t, o, h, low, c, v in zip(agg.index, *columns, strict=True)
    ]


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LocalServer]:
    with serve(lambda r: Response(500, "no stand-in set")) as server:
        yield server


@pytest.fixture
def fake(shared_server: LocalServer) -> FakeOanda:
    stand_in = FakeOanda(NOW, token=TOKEN)
    shared_server.handler = stand_in
    return stand_in


@pytest.fixture
async def make(shared_server: LocalServer) -> AsyncIterator[Callable[..., OandaProvider]]:
    made: list[OandaProvider] = []

    def factory(**options: Any) -> OandaProvider:
        options.setdefault("retry_policy", FAST)
        options.setdefault("token", TOKEN)
        provider = OandaProvider(base_url=shared_server.base_url, **options)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


def slots(request: Any) -> float:
    start, end = parse_time(request.param("from")), parse_time(request.param("to"))
    return float((end - start) / timedelta(minutes=5))


# --- real candles, closed only -------------------------------------------------------------


@pytest.mark.parametrize("to_inclusive", [False, True], ids=["to-exclusive", "to-inclusive"])
async def test_real_candles_exactly_the_closed_ones_in_the_window(
    fake: FakeOanda, make: Callable[..., OandaProvider], m1: pd.DataFrame, to_inclusive: bool
) -> None:
    fake.to_inclusive = to_inclusive
    start = NOW - timedelta(days=3)
    result = await make().fetch_candles(USDJPY, Timeframe.M5, start, NOW)

    assert result.candles == expected(m1, start, NOW)
    assert len(result.candles) > 400  # the window holds a weekend
    assert all(
        c.timestamp >= start and c.timestamp + timedelta(minutes=5) <= NOW for c in result.candles
    )
    assert result.candles[-1].timestamp == datetime(2026, 2, 10, 11, 55, tzinfo=UTC)
    # `to` is the end floored to the grid; a server that includes the candle at `to` sends
    # the forming 12:00 candle with complete=false, and it is dropped.
    assert result.forming_dropped == (1 if to_inclusive else 0)
    assert (result.rejected, result.requests) == ([], 1)
    (request,) = fake.requests
    assert request.path == "/v3/instruments/USD_JPY/candles"
    assert request.param("granularity") == "M5"
    assert request.param("price") == "M"
    assert request.param("from") == "2026-02-07T12:05:00.000000000Z"
    assert request.param("to") == "2026-02-10T12:00:00.000000000Z"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_hourly_candles(
    fake: FakeOanda, make: Callable[..., OandaProvider], m1: pd.DataFrame
) -> None:
    start = NOW - timedelta(days=10)
    result = await make().fetch_candles(USDJPY, Timeframe.H1, start, NOW)
    assert fake.requests[0].param("granularity") == "H1"
    assert result.candles == expected(m1, start, NOW, Timeframe.H1)
    assert all(c.timestamp.minute == 0 for c in result.candles)


async def test_a_replay_end_in_the_past_asks_for_nothing_later(
    fake: FakeOanda, make: Callable[..., OandaProvider], m1: pd.DataFrame
) -> None:
    as_of = datetime(2026, 1, 20, 9, 33, 10, tzinfo=UTC)
    result = await make().fetch_candles(USDJPY, Timeframe.M5, as_of - timedelta(hours=5), as_of)
    assert parse_time(fake.requests[-1].param("to")) <= as_of
    assert result.candles == expected(m1, as_of - timedelta(hours=5), as_of)


async def test_ping_returns_the_latest_closed_candle(
    fake: FakeOanda, make: Callable[..., OandaProvider], m1: pd.DataFrame
) -> None:
    latest = await make().ping(USDJPY, NOW)
    assert latest == expected(m1, NOW - timedelta(minutes=30), NOW)[-1]


# --- paging --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_max", "provider_max", "pages"),
    [
        pytest.param(5000, 5000, 2, id="default-5000"),
        pytest.param(700, 700, 13, id="700-per-page"),
    ],
)
async def test_more_than_one_page_is_fetched_with_no_gap_or_duplicate(
    fake: FakeOanda,
    make: Callable[..., OandaProvider],
    m1: pd.DataFrame,
    server_max: int,
    provider_max: int,
    pages: int,
) -> None:
    fake.max_count = server_max
    fake.to_inclusive = True  # counts both ends and repeats the candle at `to`
    start = datetime(2026, 1, 12, 0, 0, tzinfo=UTC)  # 29.5 days: about 8,500 M5 slots
    result = await make(max_candles=provider_max).fetch_candles(USDJPY, Timeframe.M5, start, NOW)

    assert result.candles == expected(m1, start, NOW)
    assert len(result.candles) > 5000
    assert fake.statuses == [200] * pages
    assert result.requests == pages
    assert all(slots(r) + 1 <= server_max for r in fake.requests)
    requests = fake.requests
    assert all(a.param("to") == b.param("from") for a, b in itertools.pairwise(requests))
    stamps = [c.timestamp for c in result.candles]
    assert stamps == sorted(set(stamps))


async def test_a_page_the_server_finds_too_large_is_a_request_error(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.max_count = 1000
    with pytest.raises(ProviderRequestError, match="HTTP 400: Maximum value for 'count' exceeded"):
        await make().fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(days=10), NOW)
    assert fake.statuses == [400]


# --- bad data --------------------------------------------------------------------------------


async def test_incomplete_candles_are_dropped_and_counted(
    fake: FakeOanda, make: Callable[..., OandaProvider], m1: pd.DataFrame
) -> None:
    def mark(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[5]["complete"] = False
        return rows

    fake.edit = mark
    start = NOW - timedelta(hours=3)
    good = expected(m1, start, NOW)
    result = await make().fetch_candles(USDJPY, Timeframe.M5, start, NOW)
    assert result.candles == good[:5] + good[6:]
    assert result.forming_dropped == 1
    assert result.rejected == []


async def test_bad_prices_duplicates_and_out_of_order_are_rejected_rest_kept(
    fake: FakeOanda, make: Callable[..., OandaProvider], m1: pd.DataFrame
) -> None:
    def corrupt(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[2]["mid"]["h"] = "abc"  # not a number
        rows[4]["mid"]["l"] = str(float(rows[4]["mid"]["o"]) + 1)  # low above open
        rows.insert(9, dict(rows[8]))  # the same candle twice
        rows[14], rows[15] = rows[15], rows[14]  # a step backwards
        return rows

    fake.edit = corrupt
    start = NOW - timedelta(hours=3)
    good = expected(m1, start, NOW)
    with capture_logs() as logs:
        result = await make().fetch_candles(USDJPY, Timeframe.M5, start, NOW)
    reasons = sorted(r.reason.split(":")[0] for r in result.rejected)
    assert reasons == ["duplicate timestamp", "non-numeric price", "ohlc violation", "out of order"]
    lost = {good[i].timestamp for i in (2, 4, 13)}
    assert result.candles == [c for c in good if c.timestamp not in lost]
    assert len([e for e in logs if e["event"] == "provider.rejected_bar"]) == 4


async def test_garbage_body_is_provider_unavailable(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.enqueue(garbage())
    with pytest.raises(ProviderUnavailable, match="oanda USD/JPY 5m: response is not a JSON"):
        await make().fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)


async def test_a_candle_without_mid_prices_is_provider_unavailable(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.enqueue(
        Response(
            200,
            {
                "instrument": "USD_JPY",
                "granularity": "M5",
                "candles": [
                    {
                        "complete": True,
                        "volume": 3,
                        "time": "2026-02-10T11:00:00.000000000Z",
                        "ask": {"o": "1", "h": "1", "l": "1", "c": "1"},
                    }
                ],
            },
        )
    )
    with pytest.raises(ProviderUnavailable, match="has no 'mid' prices"):
        await make().fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)


# --- errors and the token ------------------------------------------------------------------


async def test_401_names_the_setting_and_never_the_token(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    wrong = "wrong-token-0000-1111-2222"
    with capture_logs() as logs, pytest.raises(ProviderRequestError) as caught:
        await make(token=wrong).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    message = str(caught.value)
    assert "HTTP 401: Insufficient authorization to perform request." in message
    assert "check OANDA_API_TOKEN" in message
    assert wrong not in message and TOKEN not in message
    assert all(wrong not in repr(e) for e in logs)
    assert fake.statuses == [401]  # not retried


async def test_a_token_echoed_in_an_error_body_is_scrubbed(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.enqueue(oanda_error(400, f"Invalid value for header Authorization: Bearer {TOKEN}"))
    with pytest.raises(ProviderRequestError) as caught:
        await make().fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert TOKEN not in str(caught.value)
    assert "Bearer ***" in str(caught.value)


async def test_the_token_appears_in_no_log_line_or_error_on_any_path(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.enqueue(rate_limited("0"), server_error(502))
    provider = make()
    with capture_logs() as logs:
        await provider.fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
        fake.enqueue(*[server_error(503)] * 4)
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert {e["event"] for e in logs} >= {"provider.request", "provider.retry", "provider.fetched"}
    assert all(TOKEN not in repr(e) for e in logs)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(provider)


async def test_unknown_instrument_is_a_request_error_naming_the_pair(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    with pytest.raises(ProviderRequestError) as caught:
        await make().fetch_candles(
            CurrencyPair.parse("EUR/GBP"), Timeframe.M5, NOW - timedelta(hours=1), NOW
        )
    assert "oanda EUR/GBP 5m: HTTP 400: Invalid value specified for 'instrument'" in str(
        caught.value
    )
    assert "is EUR_GBP tradeable on this account?" in str(caught.value)


async def test_429_is_retried_after_retry_after(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.enqueue(rate_limited("0.1"))
    result = await make().fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert fake.statuses == [429, 200]
    assert fake.requests[1].received_at - fake.requests[0].received_at >= 0.1
    assert len(result.candles) == 11


async def test_server_errors_n_times_give_provider_unavailable_with_the_count(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.enqueue(*[server_error(500)] * 3)
    with pytest.raises(
        ProviderUnavailable, match=r"HTTP 500 after 3 attempt\(s\) \(MAX_RETRIES=2\)"
    ):
        await make(retry_policy=RetryPolicy(2, 0.01, 0.01)).fetch_candles(
            USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW
        )
    assert len(fake.requests) == 3


async def test_timeouts_become_provider_unavailable(
    fake: FakeOanda, make: Callable[..., OandaProvider]
) -> None:
    fake.enqueue(slow(1.0), slow(1.0))
    provider = make(timeout=httpx.Timeout(0.2), retry_policy=RetryPolicy(1, 0.01, 0.01))
    with pytest.raises(ProviderUnavailable, match="timed out"):
        await provider.fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert len(fake.requests) == 2


# --- construction ----------------------------------------------------------------------------


def test_missing_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="OANDA_API_TOKEN is required"):
        OandaProvider(token=None)


def test_unknown_environment_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"OANDA_ENVIRONMENT='demo'.*practice, live"):
        OandaProvider(token=TOKEN, environment="demo")


@pytest.mark.parametrize("environment", ["practice", "live"])
async def test_default_hosts(environment: str) -> None:
    provider = OandaProvider(token=TOKEN, environment=environment)
    try:
        assert provider.base_url == HOSTS[environment]
    finally:
        await provider.aclose()
    assert HOSTS == {
        "practice": "https://api-fxpractice.oanda.com",
        "live": "https://api-fxtrade.oanda.com",
    }


async def test_registry_builds_oanda_and_needs_a_token() -> None:
    provider = build_provider("oanda", oanda_token=TOKEN, oanda_environment="live")
    try:
        assert isinstance(provider, OandaProvider)
        assert provider.base_url == HOSTS["live"]
    finally:
        await provider.aclose()
    with pytest.raises(ConfigurationError, match="OANDA_API_TOKEN"):
        build_provider("oanda", oanda_token=None)


@pytest.mark.parametrize(
    ("text", "expected_time"),
    [
        ("2026-01-05T21:28:00.000000000Z", datetime(2026, 1, 5, 21, 28, tzinfo=UTC)),
        ("2026-01-05T21:28:00Z", datetime(2026, 1, 5, 21, 28, tzinfo=UTC)),
        ("2026-01-05T21:28:00.123456789Z", datetime(2026, 1, 5, 21, 28, 0, 123456, tzinfo=UTC)),
        ("2026-01-06T06:28:00.000000000+09:00", datetime(2026, 1, 5, 21, 28, tzinfo=UTC)),
        ("1767648480.000000000", datetime(2026, 1, 5, 21, 28, tzinfo=UTC)),
    ],
)
def test_time_parsing(text: str, expected_time: datetime) -> None:
    assert parse_time(text) == expected_time


def test_time_formatting_matches_oanda() -> None:
    assert format_time(datetime(2026, 1, 5, 21, 30, tzinfo=UTC)) == "2026-01-05T21:30:00.000000000Z"

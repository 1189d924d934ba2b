"""YahooProvider against the Yahoo stand-in serving real USDJPY=X bars over a real socket."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe
from exchange_analytics.errors import ConfigurationError, ProviderRequestError, ProviderUnavailable
from exchange_analytics.providers.base import MarketDataProvider
from exchange_analytics.providers.http import RetryPolicy
from exchange_analytics.providers.registry import build_provider
from exchange_analytics.providers.yahoo import YahooProvider, denoise_float32
from tests.support.fake_yahoo import (
    FakeYahoo,
    chart_error,
    garbage,
    load_yahoo_5m,
    rate_limited,
    server_error,
    slow,
    truncate,
)
from tests.support.http_server import LocalServer, Response, serve

NOW = datetime(2025, 11, 20, 12, 2, 30, tzinfo=UTC)  # a Thursday inside the real data
USDJPY = CurrencyPair.parse("USD/JPY")
FAST = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.02)
M5 = timedelta(minutes=5)


def expected(start: datetime, end: datetime, timeframe: Timeframe = Timeframe.M5) -> list[Candle]:
    """The closed real bars in [start, end), computed straight from the CSV (1h grouped here,
    independently of the stand-in's own aggregation)."""
    step = timeframe.seconds
    groups: dict[int, list[Any]] = {}
    for b in load_yahoo_5m():
        groups.setdefault(b.t - b.t % step, []).append(b)
    out = []
    for t, bars in sorted(groups.items()):
        if start.timestamp() <= t and t + step <= end.timestamp():
            o, h = bars[0].open, max(b.high for b in bars)
            low, c = min(b.low for b in bars), bars[-1].close
            prices = (denoise_float32(x) for x in (o, h, low, c))
            out.append(Candle(datetime.fromtimestamp(t, UTC), *prices, 0.0))
    return out


@pytest.fixture(scope="module")
def shared_server() -> Iterator[LocalServer]:
    with serve(lambda r: Response(500, "no stand-in set")) as server:
        yield server


@pytest.fixture
def fake(shared_server: LocalServer) -> FakeYahoo:
    stand_in = FakeYahoo(NOW)
    shared_server.handler = stand_in
    return stand_in


@pytest.fixture
async def make(
    shared_server: LocalServer,
) -> AsyncIterator[Callable[..., YahooProvider]]:
    made: list[YahooProvider] = []

    def factory(fake: FakeYahoo, **options: Any) -> YahooProvider:
        options.setdefault("retry_policy", FAST)
        provider = YahooProvider(base_url=shared_server.base_url, clock=lambda: fake.now, **options)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        await provider.aclose()


# --- real bars, closed only ---------------------------------------------------------------


async def test_real_bars_exactly_the_closed_ones_in_the_window(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    start = NOW - timedelta(days=2)
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, start, NOW)

    assert result.candles == expected(start, NOW)
    assert len(result.candles) > 500
    assert result.candles[-1].timestamp == datetime(2025, 11, 20, 11, 55, tzinfo=UTC)
    assert all(c.timestamp + M5 <= NOW and c.timestamp >= start for c in result.candles)
    assert result.forming_dropped == 1  # the 12:00 bar the stand-in served
    assert (result.rejected, result.null_rows, result.requests) == ([], 0, 1)
    (request,) = fake.requests
    assert request.path == "/v8/finance/chart/USDJPY=X"
    assert request.param("interval") == "5m"
    assert request.param("includePrePost") == "false"
    first_open = datetime(2025, 11, 18, 12, 5, tzinfo=UTC)  # start rounded up to the 5m grid
    assert fake.period(request) == (int(first_open.timestamp()), int(NOW.timestamp()))
    assert "Mozilla" in request.headers["user-agent"]


async def test_float32_artefacts_become_the_quoted_price(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    first = datetime(2025, 10, 20, 23, 0, tzinfo=UTC)
    fake.now = first + timedelta(hours=1)
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, first, first + M5)
    (bar,) = result.candles
    assert load_yahoo_5m()[0].close == 150.73899841308594  # as Yahoo sends it
    assert (bar.open, bar.high, bar.low, bar.close) == (150.725, 150.758, 150.712, 150.739)


def test_denoise_leaves_values_that_are_not_float32_alone() -> None:
    assert denoise_float32(150.73899841308594) == 150.739
    assert denoise_float32(1.1220825910568237) == 1.1220826
    assert denoise_float32(150.7391234) == 150.7391234
    assert denoise_float32(float("inf")) == float("inf")


async def test_live_row_and_forming_bar_are_both_dropped(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.live_row = True
    start = NOW - timedelta(hours=3)
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, start, NOW)
    assert result.candles == expected(start, NOW)
    assert result.forming_dropped == 2  # 12:00 bar and the 12:02:30 live row
    assert result.rejected == []


async def test_hourly_bars_are_on_the_hour_and_closed(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    start = NOW - timedelta(days=10)
    result = await make(fake).fetch_candles(USDJPY, Timeframe.H1, start, NOW)
    assert fake.requests[0].param("interval") == "60m"
    assert result.candles == expected(start, NOW, Timeframe.H1)
    assert all(c.timestamp.minute == 0 for c in result.candles)
    assert result.candles[-1].timestamp == datetime(2025, 11, 20, 11, 0, tzinfo=UTC)
    assert result.forming_dropped == 1


async def test_an_empty_window_is_an_empty_result(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    saturday = datetime(2025, 11, 15, 6, 0, tzinfo=UTC)
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, saturday, saturday + 6 * M5)
    assert (result.candles, result.rejected, result.requests) == ([], [], 1)


async def test_ping_returns_the_latest_closed_bar(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    latest = await make(fake).ping(USDJPY, NOW)
    assert latest == expected(NOW - timedelta(minutes=10), NOW)[-1]


# --- bad data ----------------------------------------------------------------------------


async def test_null_rows_are_skipped_and_counted(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    start = datetime(2025, 11, 20, 6, 0, tzinfo=UTC)
    nulls = {int((start + M5 * i).timestamp()) for i in (3, 4, 40)}
    fake.null_at = nulls
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, start, NOW)
    assert result.null_rows == 3
    assert result.candles == [
        c for c in expected(start, NOW) if c.timestamp.timestamp() not in nulls
    ]
    assert result.rejected == []


async def test_bad_ohlc_duplicates_and_out_of_order_bars_are_rejected_rest_kept(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    def corrupt(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[10]["low"] = rows[10]["close"] + 1.0  # low above close
        rows.insert(21, dict(rows[20]))  # the same bar twice
        rows[31], rows[32] = rows[32], rows[31]  # a step backwards
        return rows

    fake.edit = corrupt
    start = NOW - timedelta(hours=6)
    good = expected(start, NOW)
    with capture_logs() as logs:
        result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, start, NOW)

    reasons = sorted(r.reason.split(":")[0] for r in result.rejected)
    assert reasons == ["duplicate timestamp", "ohlc violation", "out of order"]
    lost = {good[10].timestamp, good[30].timestamp}
    assert result.candles == [c for c in good if c.timestamp not in lost]
    events = [e for e in logs if e["event"] == "provider.rejected_bar"]
    assert len(events) == 3
    assert all(e["pair"] == "USD/JPY" and e["timeframe"] == "5m" for e in events)
    assert all(e["log_level"] == "warning" and e["reason"] for e in events)


async def test_garbage_body_is_provider_unavailable(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(garbage())
    with pytest.raises(ProviderUnavailable, match="yahoo USD/JPY 5m: response is not JSON"):
        await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert len(fake.requests) == 1


async def test_truncated_json_is_provider_unavailable(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(truncate)
    with pytest.raises(ProviderUnavailable, match="response is not JSON"):
        await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"chart": {"result": [], "error": None}}, "no chart.result", id="no-result"),
        pytest.param({"unexpected": True}, "no chart.result", id="other-json"),
        pytest.param(
            {
                "chart": {
                    "result": [
                        {
                            "timestamp": [1763640000, 1763640300],
                            "indicators": {
                                "quote": [
                                    {"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}
                                ]
                            },
                        }
                    ],
                    "error": None,
                }
            },
            "differ in length",
            id="ragged-arrays",
        ),
        pytest.param(
            {"chart": {"result": [{"timestamp": [1763640000], "indicators": {}}], "error": None}},
            "indicators.quote",
            id="no-quote",
        ),
        pytest.param(
            {
                "chart": {
                    "result": [
                        {
                            "timestamp": ["x"],
                            "indicators": {
                                "quote": [
                                    {"open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}
                                ]
                            },
                        }
                    ],
                    "error": None,
                }
            },
            "is not an integer",
            id="string-timestamp",
        ),
    ],
)
async def test_malformed_bodies_are_provider_unavailable(
    fake: FakeYahoo, make: Callable[..., YahooProvider], body: dict[str, Any], reason: str
) -> None:
    fake.enqueue(Response(200, body))
    with pytest.raises(ProviderUnavailable, match=reason):
        await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)


# --- errors from Yahoo ---------------------------------------------------------------------


async def test_unknown_symbol_is_a_clear_per_pair_request_error(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    with pytest.raises(ProviderRequestError) as caught:
        await make(fake).fetch_candles(
            CurrencyPair.parse("EUR/USD"), Timeframe.M5, NOW - timedelta(hours=1), NOW
        )
    message = str(caught.value)
    assert "EUR/USD" in message
    assert "EURUSD=X" in message
    assert "No data found, symbol may be delisted" in message
    assert "CURRENCY_PAIRS" in message
    assert fake.statuses == [404]  # not retried


async def test_range_refusal_is_clamped_once_and_retried(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.limit_days["5m"] = 45  # Yahoo tightened its limit below what we assume (60)
    start = NOW - timedelta(days=50)
    with capture_logs() as logs:
        result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, start, NOW)

    assert fake.statuses == [422, 200, 200, 200]  # one refusal, then 44 days in 20-day chunks
    clamped = -(-int((NOW - timedelta(days=44)).timestamp()) // 300) * 300  # ceil to 5m
    assert fake.period(fake.requests[1])[0] == clamped
    assert result.candles == expected(datetime.fromtimestamp(clamped, UTC), NOW)
    assert result.requests == 4
    events = [e for e in logs if e["event"] == "provider.range_clamped"]
    assert len(events) == 1
    assert "within the last 45 days" in events[0]["reason"]


async def test_a_second_range_refusal_is_an_error_not_a_loop(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    refusal = chart_error(
        422,
        "Unprocessable Entity",
        "5m data not available for startTime=1 and endTime=2. The requested range must be "
        "within the last 45 days.",
    )
    fake.enqueue(refusal, refusal, refusal)
    with pytest.raises(ProviderRequestError, match="range refused again after clamping"):
        await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(days=50), NOW)
    assert fake.statuses == [422, 422]


async def test_a_refusal_that_clamping_cannot_fix_stops_at_once(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(
        chart_error(
            422, "Unprocessable Entity", "The requested range must be within the last 60 days."
        )
    )
    with pytest.raises(ProviderRequestError, match="inside the 59-day limit"):
        await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(days=3), NOW)
    assert fake.statuses == [422]


async def test_a_start_beyond_yahoos_limit_is_clamped_after_one_refusal(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    provider = make(fake)
    earliest = provider.earliest_available(Timeframe.M5, NOW)
    assert earliest == datetime(2025, 9, 22, 12, 5, tzinfo=UTC)  # 59 days, on the 5m grid
    result = await provider.fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(days=90), NOW)
    assert fake.statuses == [422, 200, 200, 200]
    assert fake.period(fake.requests[1])[0] == int(earliest.timestamp())
    assert result.candles == expected(earliest, NOW)


async def test_a_replay_beyond_yahoos_reach_returns_nothing_after_one_refusal(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.now = NOW + timedelta(days=100)  # Yahoo's clock; the replay runs --as-of NOW
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(days=1), NOW)
    assert fake.statuses == [422]
    assert (result.candles, result.requests) == ([], 1)


def test_history_limits_per_timeframe() -> None:
    provider = YahooProvider()
    assert provider.earliest_available(Timeframe.H1, NOW) == datetime(2023, 11, 22, 13, tzinfo=UTC)
    assert provider.earliest_available(Timeframe.D1, NOW) is None


async def test_other_client_errors_are_request_errors(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(chart_error(400, "Bad Request", "Invalid input - interval=5m is not supported"))
    with pytest.raises(ProviderRequestError, match="HTTP 400: Invalid input"):
        await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)


async def test_4h_is_not_asked_of_yahoo(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    with pytest.raises(ProviderRequestError, match="5m and 1h only"):
        await make(fake).fetch_candles(USDJPY, Timeframe.H4, NOW - timedelta(days=1), NOW)
    assert fake.requests == []


# --- temporary failures ------------------------------------------------------------------


async def test_429_is_retried_after_retry_after(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(rate_limited("0.1"))
    start = NOW - timedelta(hours=1)
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, start, NOW)
    assert fake.statuses == [429, 200]
    assert fake.requests[1].received_at - fake.requests[0].received_at >= 0.1
    assert result.candles == expected(start, NOW)
    assert result.requests == 2


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_n_times_give_provider_unavailable_with_the_count(
    fake: FakeYahoo, make: Callable[..., YahooProvider], status: int
) -> None:
    fake.enqueue(*[server_error(status)] * 4)
    with pytest.raises(ProviderUnavailable) as caught:
        await make(fake, max_retries=3, retry_policy=None, rng=lambda: 0.0).fetch_candles(
            USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW
        )
    assert f"yahoo USD/JPY 5m: HTTP {status} after 4 attempt(s) (MAX_RETRIES=3)" in str(
        caught.value
    )
    assert len(fake.requests) == 4


async def test_a_server_error_then_success_recovers(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(server_error(502))
    result = await make(fake).fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert fake.statuses == [502, 200]
    assert len(result.candles) == 11


async def test_timeouts_become_provider_unavailable(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(slow(1.0), slow(1.0))
    provider = make(fake, timeout=httpx.Timeout(0.2), retry_policy=RetryPolicy(1, 0.01, 0.01))
    with pytest.raises(ProviderUnavailable, match=r"yahoo USD/JPY 5m: timed out \(ReadTimeout\)"):
        await provider.fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert len(fake.requests) == 2


async def test_a_slow_answer_then_a_fast_one_recovers(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(slow(1.0))
    provider = make(fake, timeout=httpx.Timeout(0.2))
    result = await provider.fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert len(result.candles) == 11
    assert result.requests == 2


async def test_the_fetch_budget_bounds_all_retries(
    fake: FakeYahoo, make: Callable[..., YahooProvider]
) -> None:
    fake.enqueue(*[server_error()] * 10)
    provider = make(
        fake, retry_policy=RetryPolicy(9, 1.0, 1.0), fetch_budget_s=0.5, rng=lambda: 1.0
    )
    with pytest.raises(ProviderUnavailable, match="would pass the time budget"):
        await provider.fetch_candles(USDJPY, Timeframe.M5, NOW - timedelta(hours=1), NOW)
    assert len(fake.requests) == 1


# --- long windows ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chunk",
    [
        pytest.param(None, id="default-20-days"),
        pytest.param(timedelta(days=3), id="3-days"),
        pytest.param(timedelta(hours=7, minutes=5), id="7h05"),
    ],
)
async def test_long_window_is_split_with_no_gap_or_duplicate_at_the_seams(
    fake: FakeYahoo, make: Callable[..., YahooProvider], chunk: timedelta | None
) -> None:
    fake.now = datetime(2025, 12, 1, 14, 47, tzinfo=UTC)
    fake.period2_inclusive = True  # a server that also returns the bar at period2
    start, end = datetime(2025, 10, 20, 22, 0, tzinfo=UTC), fake.now
    options = {} if chunk is None else {"chunk": {Timeframe.M5: chunk}}
    result = await make(fake, **options).fetch_candles(USDJPY, Timeframe.M5, start, end)

    assert result.candles == expected(start, end)
    assert len(result.candles) == len(load_yahoo_5m())  # the whole real file, 8,385 bars
    stamps = [c.timestamp for c in result.candles]
    assert stamps == sorted(set(stamps))
    periods = [fake.period(r) for r in fake.requests]
    step = (chunk or timedelta(days=20)).total_seconds()
    assert len(periods) == -(-(end - start).total_seconds() // step)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(periods))
    assert periods[0][0] == int(start.timestamp())
    assert result.rejected == []


# --- wiring ------------------------------------------------------------------------------


async def test_registry_builds_yahoo_and_refuses_unknown_names() -> None:
    provider = build_provider("Yahoo", yahoo_base_url="http://127.0.0.1:9", max_retries=2)
    assert isinstance(provider, YahooProvider)
    assert isinstance(provider, MarketDataProvider)
    assert provider.base_url == "http://127.0.0.1:9"
    await provider.aclose()
    with pytest.raises(ConfigurationError) as caught:
        build_provider("bloomberg")
    assert "MARKET_DATA_PROVIDER" in str(caught.value)
    assert "yahoo, oanda, demo" in str(caught.value)


async def test_registry_uses_the_demo_factory_when_given() -> None:
    sentinel = YahooProvider()
    try:
        assert build_provider("demo", demo_factory=lambda: sentinel) is sentinel
    finally:
        await sentinel.aclose()


def test_error_bodies_are_real_yahoo_shapes() -> None:
    body = json.loads(chart_error(404, "Not Found", "x").encoded())
    assert body == {"chart": {"result": None, "error": {"code": "Not Found", "description": "x"}}}

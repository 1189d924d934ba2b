"""Yahoo Finance chart API (``GET /v8/finance/chart/USDJPY=X``), the default provider.

What Yahoo does that this module has to absorb (SPEC §3.1):

* History limits, measured from Yahoo's clock: 5m within the last 60 days, 60m within 730.
  A request reaching further back is refused with HTTP 422 and a ``chart.error`` saying
  "The requested range must be within the last N days". Callers bound their windows with
  ``earliest_available(timeframe, now)`` (``HISTORY_LIMIT``: one day inside the documented
  limits, for clock skew) using *their* clock, which is ``--as-of`` in a replay. When Yahoo
  refuses anyway (a replay far in the past, or Yahoo tightened a limit) we read N from the
  message, move the start to N-1 days before ``clock()`` (Yahoo's "now": the wall clock)
  and retry that chunk once. A second refusal is a ProviderRequestError: never a loop.
* Long windows are split (``CHUNK``): 20 days per 5m request (at most ~5,800 bars, ~0.5 MB
  of JSON) and 200 days per 1h request (~4,800 bars), the same order as OANDA's 5,000-candle
  page. Each answer fits well within the 15 s read timeout on a slow line and a failed
  chunk is cheap to retry; the default 7-day 5m backfill is one request. Each chunk keeps
  only bars inside its own half-open window, so a server that also returns the bar at
  ``period2`` cannot create a duplicate at a seam.
* Arrays may hold nulls (no quote in that slot): skipped and counted in ``null_rows``.
* The last element may be the still-forming bar, sometimes stamped with the current second
  rather than a 5-minute boundary: dropped as forming (``validation`` rule 1).
* Prices are float32 values printed as float64 (``150.73899841308594``). We recover the
  shortest decimal that maps to the same float32 (``150.739``), which is exactly the quote
  Yahoo stored; values that are not exact float32 numbers are left alone. Rounding to a
  fixed number of decimals would not do this (``round(150.73899841308594, 6)`` is
  ``150.738998``).
* Errors arrive as ``{"chart": {"result": null, "error": {"code", "description"}}}``: 404
  "No data found, symbol may be delisted" is a ProviderRequestError naming pair and symbol.
* Yahoo often answers 429 to generic library User-Agents, so a browser-like one is sent.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe, utc
from exchange_analytics.errors import ProviderRequestError, ProviderUnavailable
from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.providers.base import FetchResult, RejectedBar, log_fetch_outcome
from exchange_analytics.providers.http import (
    MAX_RETRIES,
    RetryPolicy,
    build_client,
    redact_url,
    send_with_retry,
)
from exchange_analytics.providers.validation import ceil_to_grid, in_window, validate_candles

log = structlog.get_logger(__name__)

DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) exchange-analytics/0.1"
INTERVALS: Mapping[Timeframe, str] = {Timeframe.M5: "5m", Timeframe.H1: "60m"}
HISTORY_LIMIT: Mapping[Timeframe, timedelta] = {
    Timeframe.M5: timedelta(days=59),
    Timeframe.H1: timedelta(days=729),
}
CHUNK: Mapping[Timeframe, timedelta] = {
    Timeframe.M5: timedelta(days=20),
    Timeframe.H1: timedelta(days=200),
}
#: How far back ``ping`` looks for the latest closed 5m bar (covers a weekend plus a holiday).
PING_LOOKBACK = timedelta(days=5)
_RANGE_ERROR = re.compile(r"range must be within|data not available for starttime", re.I)
_RANGE_DAYS = re.compile(r"within the last (\d+) days", re.I)


class _RangeRefused(Exception):
    """Yahoo said the window reaches too far back (422 or a range ``chart.error``)."""

    def __init__(self, description: str, attempts: int) -> None:
        super().__init__(description)
        self.description = description
        self.attempts = attempts


def denoise_float32(value: float) -> float:
    """Shortest decimal with the same float32 value, if ``value`` is an exact float32."""
    try:
        as32: float = struct.unpack("<f", struct.pack("<f", value))[0]
    except (OverflowError, struct.error):
        return value
    if as32 != value:
        return value
    for digits in range(6, 10):  # 9 significant digits always round-trip a float32
        candidate = float(f"{value:.{digits}g}")
        if struct.unpack("<f", struct.pack("<f", candidate))[0] == value:
            return candidate
    return value


def _snippet(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat[:limit] + ("…" if len(flat) > limit else ""))


def _chart_error(body: JSONValue) -> str | None:
    """The ``chart.error`` description, or None when the body carries no error."""
    chart = body.get("chart") if isinstance(body, dict) else None
    error = chart.get("error") if isinstance(chart, dict) else None
    if not error:
        return None
    if isinstance(error, dict):
        return str(error.get("description") or error.get("code") or "unspecified error")
    return str(error)


def _index(value: JSONValue, key: str | int) -> JSONValue:
    """``value[key]`` on a JSON body of unknown shape, raising what Python's indexing raises.

    A body of the wrong shape fails the way plain subscripting failed (KeyError, IndexError,
    TypeError with the interpreter's own message), so the error messages that quote the
    exception stay as they were.
    """
    if isinstance(value, dict):
        if isinstance(key, str):
            return value[key]
        raise KeyError(key)  # JSON object keys are strings: an integer key is never there
    if isinstance(value, list):
        if isinstance(key, int):
            return value[key]
        raise TypeError(f"list indices must be integers or slices, not {type(key).__name__}")
    if isinstance(value, str):
        if isinstance(key, int):
            return value[key]
        raise TypeError(f"string indices must be integers, not '{type(key).__name__}'")
    raise TypeError(f"'{type(value).__name__}' object is not subscriptable")


def _result_of(body: JSONValue, context: str, shown: str) -> JSONObject:
    try:
        result = _index(_index(_index(body, "chart"), "result"), 0)
    except (KeyError, IndexError, TypeError):
        result = None
    if not isinstance(result, dict):
        raise ProviderUnavailable(f"{context}: malformed body: no chart.result[0] ({shown})")
    return result


class YahooProvider:
    """MarketDataProvider over Yahoo's v8 chart API (no key needed)."""

    name = "yahoo"
    is_demo = False

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        max_retries: int = MAX_RETRIES,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        fetch_budget_s: float | None = 120.0,
        chunk: Mapping[Timeframe, timedelta] | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """``fetch_budget_s`` bounds one ``fetch_candles`` call, retries and waits included.
        ``clock`` estimates Yahoo's own "now" when a range refusal has to be clamped (the wall
        clock in production: a replay's ``--as-of`` does not move Yahoo's limits; a stand-in's
        simulated clock in tests). ``client`` is borrowed, not closed.
        """
        self.base_url = base_url.rstrip("/")
        self._policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._owns_client = client is None
        self._client = client or build_client(
            timeout=timeout, headers={"User-Agent": USER_AGENT, "Accept": "application/json"}
        )
        self._budget = fetch_budget_s
        self._chunk = dict(chunk or CHUNK)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._rng = rng

    def earliest_available(self, timeframe: Timeframe, now: datetime) -> datetime | None:
        limit = HISTORY_LIMIT.get(timeframe)
        return None if limit is None else ceil_to_grid(utc(now) - limit, timeframe)

    async def ping(self, pair: CurrencyPair, now: datetime) -> Candle | None:
        result = await self.fetch_candles(pair, Timeframe.M5, utc(now) - PING_LOOKBACK, now)
        return result.candles[-1] if result.candles else None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def fetch_candles(
        self, pair: CurrencyPair, timeframe: Timeframe, start: datetime, end: datetime
    ) -> FetchResult:
        if timeframe not in INTERVALS:
            raise ProviderRequestError(
                f"yahoo serves 5m and 1h only, not {timeframe.value}; 4h and 1d are built "
                "by aggregation"
            )
        start, end = utc(start), utc(end)
        result = FetchResult(pair=pair, timeframe=timeframe)
        deadline = None if self._budget is None else time.monotonic() + self._budget
        cursor = ceil_to_grid(start, timeframe)
        clamped_on_refusal = False
        raw: list[Candle] = []
        while cursor < end:
            chunk_end = min(cursor + self._chunk[timeframe], end)
            try:
                body, attempts, shown = await self._get_chart(
                    pair, timeframe, cursor, chunk_end, deadline
                )
            except _RangeRefused as refusal:
                result.requests += refusal.attempts
                cursor = self._clamp_after_refusal(
                    pair, timeframe, cursor, refusal.description, clamped_on_refusal
                )
                clamped_on_refusal = True
                continue
            result.requests += attempts
            candles, rejected, null_times = self._parse(body, pair, timeframe, shown)

            # Half-open chunk window; the last chunk keeps later bars so that validation
            # counts them as forming instead of losing them silently.
            hi = None if chunk_end == end else chunk_end
            raw.extend(c for c in candles if in_window(c.timestamp, cursor, hi))
            result.rejected.extend(r for r in rejected if in_window(r.timestamp, cursor, hi))
            result.null_rows += sum(1 for t in null_times if in_window(t, cursor, hi))
            cursor = chunk_end
        kept, rejected = validate_candles(raw, timeframe, end)
        result.candles = kept
        result.rejected.extend(rejected)
        result.forming_dropped = len(raw) - len(kept) - len(rejected)
        log_fetch_outcome(self.name, result)
        return result

    def _clamp_after_refusal(
        self,
        pair: CurrencyPair,
        timeframe: Timeframe,
        cursor: datetime,
        description: str,
        already_clamped: bool,
    ) -> datetime:
        """The new start after Yahoo refused the range, or ProviderRequestError (no loop)."""
        where = f"yahoo {pair} {timeframe.value} (symbol {pair.yahoo_symbol})"
        if already_clamped:
            raise ProviderRequestError(
                f"{where}: range refused again after clamping to {cursor.isoformat()}: "
                f"{description}"
            )
        match = _RANGE_DAYS.search(description)
        limit = HISTORY_LIMIT[timeframe]
        if match and int(match.group(1)) > 1:
            limit = timedelta(days=int(match.group(1)) - 1)
        new_start = ceil_to_grid(self._clock() - limit, timeframe)
        if new_start <= cursor:
            raise ProviderRequestError(
                f"{where}: range starting {cursor.isoformat()} refused although it is inside "
                f"the {limit.days}-day limit: {description}"
            )
        log.warning(
            "provider.range_clamped",
            provider=self.name,
            pair=str(pair),
            timeframe=timeframe.value,
            requested_start=cursor.isoformat(),
            start=new_start.isoformat(),
            reason=description,
        )
        return new_start

    async def _get_chart(
        self,
        pair: CurrencyPair,
        timeframe: Timeframe,
        start: datetime,
        end: datetime,
        deadline: float | None,
    ) -> tuple[JSONObject, int, str]:
        """One chart request: ``chart.result[0]``, the attempts it took, the redacted URL."""
        symbol = pair.yahoo_symbol
        params = {
            "interval": INTERVALS[timeframe],
            "period1": str(int(start.timestamp())),
            "period2": str(math.ceil(end.timestamp())),
            "includePrePost": "false",
        }
        context = f"yahoo {pair} {timeframe.value}"
        sent = await send_with_retry(
            self._client,
            "GET",
            f"{self.base_url}/v8/finance/chart/{symbol}",
            params=params,
            policy=self._policy,
            deadline=deadline,
            context=context,
            log_fields={"provider": self.name, "pair": str(pair), "timeframe": timeframe.value},
            sleep=self._sleep,
            rng=self._rng,
        )
        response = sent.response
        shown = redact_url(response.request.url)
        status = response.status_code
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            body = None
        error = _chart_error(body)
        if status == 422 or (error and _RANGE_ERROR.search(error)):
            raise _RangeRefused(error or f"HTTP {status}", sent.attempts)
        if status == 200 and error is None:
            if body is None:
                raise ProviderUnavailable(
                    f"{context}: response is not JSON: {_snippet(response.text)} ({shown})"
                )
            return _result_of(body, context, shown), sent.attempts, shown
        reason = error or _snippet(response.text)
        if status == 404 or "no data found" in reason.lower():
            raise ProviderRequestError(
                f"yahoo has no data for {pair} (symbol {symbol}): {reason}; check "
                f"CURRENCY_PAIRS ({shown})"
            )
        if 400 <= status < 500:
            raise ProviderRequestError(f"{context}: HTTP {status}: {reason} ({shown})")
        raise ProviderUnavailable(f"{context}: unexpected HTTP {status}: {reason} ({shown})")

    def _parse(
        self, result: JSONObject, pair: CurrencyPair, timeframe: Timeframe, shown: str
    ) -> tuple[list[Candle], list[RejectedBar], list[datetime]]:
        """Candles, bars with non-numeric prices, and the open times of null rows."""
        context = f"yahoo {pair} {timeframe.value}"
        timestamps = result.get("timestamp")
        if timestamps is None:
            return [], [], []  # Yahoo omits the arrays when the window holds no bars
        try:
            quote = _index(_index(_index(result, "indicators"), "quote"), 0)
            columns = [_index(quote, k) for k in ("open", "high", "low", "close")]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderUnavailable(
                f"{context}: malformed body: indicators.quote[0] lacks {exc} ({shown})"
            ) from exc
        # Only a JSON object has string keys: ``quote`` is one once its columns were read.
        volumes = quote.get("volume") if isinstance(quote, dict) else None
        arrays = [c for c in columns if isinstance(c, list)]
        if (
            not isinstance(timestamps, list)
            or len(arrays) != len(columns)
            or any(len(a) != len(timestamps) for a in arrays)
        ):
            raise ProviderUnavailable(
                f"{context}: malformed body: timestamp and price arrays differ in length ({shown})"
            )
        if not isinstance(volumes, list) or len(volumes) != len(timestamps):
            volumes = [None] * len(timestamps)
        candles: list[Candle] = []
        rejected: list[RejectedBar] = []
        nulls: list[datetime] = []
        for i, stamp in enumerate(timestamps):
            if isinstance(stamp, bool) or not isinstance(stamp, int):
                raise ProviderUnavailable(
                    f"{context}: malformed body: timestamp {stamp!r} is not an integer ({shown})"
                )
            when = datetime.fromtimestamp(stamp, tz=UTC)
            values = [a[i] for a in arrays]
            if any(v is None for v in values):
                nulls.append(when)
                continue
            prices = [v for v in values if not isinstance(v, bool) and isinstance(v, int | float)]
            if len(prices) != len(values):
                rejected.append(RejectedBar(when, "non-numeric price", repr(values)))
                continue
            o, h, low, c = (denoise_float32(float(v)) for v in prices)
            volume = volumes[i]
            vol = float(volume) if isinstance(volume, int | float) else 0.0
            candles.append(Candle(when, o, h, low, c, vol))
        return candles, rejected, nulls

"""OANDA v20 REST candles (``GET /v3/instruments/USD_JPY/candles``), bearer-token provider.

What OANDA does that this module has to absorb (SPEC §3.1):

* At most 5,000 candles per request; a larger ``from``/``to`` range is refused with
  400 "Maximum value for 'count' exceeded". We page by time: each request spans
  ``max_candles - 1`` granularities, so it stays within the limit whether OANDA counts the
  ``to`` end as inclusive or not. Market-closed stretches make some pages short; that costs
  a request, never a gap. Each page keeps only candles inside its own half-open window, so
  nothing is duplicated at a seam.
* ``to`` is the caller's ``end`` floored to the granularity grid: every bar that can have
  closed by ``end`` opens before that, OANDA is never asked about the future (it answers 400
  "Time is in the future" when ``to`` is ahead of its clock), and a replay's ``--as-of``
  asks for nothing later than itself.
* ``complete: false`` marks the forming candle: dropped and counted, whatever its time.
* Prices are decimal strings under ``mid`` (we ask ``price=M``); times are RFC3339 with
  nanoseconds; volume is the tick count.
* Errors are ``{"errorMessage": ...}``: 400/401/403/404 are ProviderRequestError (401 says to
  check OANDA_API_TOKEN), 429/5xx are retried by ``http.send_with_retry``.

The token lives only in the request header. Every message this module builds is scrubbed of
it, and headers are never logged.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

import httpx
import structlog

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe, floor_time, utc
from exchange_analytics.errors import (
    ConfigurationError,
    ProviderRequestError,
    ProviderUnavailable,
)
from exchange_analytics.jsontypes import JSONObject, JSONValue
from exchange_analytics.providers.base import FetchResult, RejectedBar, log_fetch_outcome
from exchange_analytics.providers.http import (
    MAX_RETRIES,
    RetryPolicy,
    build_client,
    redact_url,
    scrub,
    send_with_retry,
)
from exchange_analytics.providers.validation import ceil_to_grid, in_window, validate_candles

log = structlog.get_logger(__name__)

HOSTS: Mapping[str, str] = {
    "practice": "https://api-fxpractice.oanda.com",
    "live": "https://api-fxtrade.oanda.com",
}
GRANULARITIES: Mapping[Timeframe, str] = {Timeframe.M5: "M5", Timeframe.H1: "H1"}
MAX_CANDLES = 5000
PING_LOOKBACK = timedelta(days=5)
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def format_time(moment: datetime) -> str:
    """RFC3339 with nanoseconds, the form OANDA itself writes."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc(moment).microsecond:06d}000Z"


def parse_time(text: str) -> datetime:
    """OANDA's RFC3339 time (nanoseconds truncated to microseconds) or UNIX seconds."""
    match = _RFC3339.match(text)
    if match:
        base = datetime.fromisoformat(match.group(1))
        micros = int((match.group(2) or "0").ljust(9, "0")[:6])
        offset = match.group(3)
        tz = UTC if offset == "Z" else datetime.strptime(offset, "%z").tzinfo
        return base.replace(microsecond=micros, tzinfo=tz).astimezone(UTC)
    return datetime.fromtimestamp(float(text), tz=UTC)


def _volume(value: JSONValue) -> float:
    """A candle's ``volume`` as a float: absent, null or zero is 0.0; a number or a numeric
    string converts; anything else raises (ValueError, TypeError) so the bar is rejected."""
    value = value or 0
    if not isinstance(value, str | int | float):
        raise TypeError(f"float() argument must be a string or a real number, not {value!r}")
    return float(value)


class OandaProvider:
    """MarketDataProvider over OANDA v20 (practice or live account token)."""

    name = "oanda"
    is_demo = False

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        environment: str = "practice",
        max_retries: int = MAX_RETRIES,
        client: httpx.AsyncClient | None = None,
        *,
        timeout: httpx.Timeout | None = None,
        retry_policy: RetryPolicy | None = None,
        fetch_budget_s: float | None = 120.0,
        max_candles: int = MAX_CANDLES,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """``base_url`` defaults to the host of ``environment``. A missing token or an unknown
        environment is a ConfigurationError naming the variable, raised before any request."""
        if environment not in HOSTS:
            raise ConfigurationError(
                f"OANDA_ENVIRONMENT={environment!r} is not valid; use one of: practice, live"
            )
        if not token:
            raise ConfigurationError(
                "OANDA_API_TOKEN is required for the oanda provider (a v20 personal access "
                "token from the OANDA account page)"
            )
        if max_candles < 2 or max_candles > MAX_CANDLES:
            raise ConfigurationError(f"max_candles must be 2..{MAX_CANDLES}, got {max_candles}")
        self.environment = environment
        self.base_url = (base_url or HOSTS[environment]).rstrip("/")
        self._token = token
        self._policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._owns_client = client is None
        self._client = client or build_client(timeout=timeout)
        self._budget = fetch_budget_s
        self._max_candles = max_candles
        self._sleep = sleep
        self._rng = rng

    def __repr__(self) -> str:
        return f"OandaProvider(base_url={self.base_url!r}, environment={self.environment!r})"

    def earliest_available(self, timeframe: Timeframe, now: datetime) -> datetime | None:
        return None  # OANDA serves many years of M5 and H1

    async def ping(self, pair: CurrencyPair, now: datetime) -> Candle | None:
        result = await self.fetch_candles(pair, Timeframe.M5, utc(now) - PING_LOOKBACK, now)
        return result.candles[-1] if result.candles else None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    def _safe(self, text: str) -> str:
        return scrub(text, [self._token])

    async def fetch_candles(
        self, pair: CurrencyPair, timeframe: Timeframe, start: datetime, end: datetime
    ) -> FetchResult:
        if timeframe not in GRANULARITIES:
            raise ProviderRequestError(
                f"oanda is asked for 5m and 1h only, not {timeframe.value}; 4h and 1d are "
                "built by aggregation"
            )
        start, end = utc(start), utc(end)
        result = FetchResult(pair=pair, timeframe=timeframe)
        deadline = None if self._budget is None else time.monotonic() + self._budget
        page = timeframe.duration * (self._max_candles - 1)
        last_open = floor_time(end, timeframe)
        raw: list[Candle] = []
        cursor = ceil_to_grid(start, timeframe)
        while cursor < last_open:
            page_end = min(cursor + page, last_open)
            candles, rejected, forming, attempts = await self._get_page(
                pair, timeframe, cursor, page_end, deadline
            )
            result.requests += attempts
            # Half-open page window; the last page keeps later candles so that validation
            # counts them as forming instead of losing them silently.
            hi = None if page_end == last_open else page_end
            raw.extend(c for c in candles if in_window(c.timestamp, cursor, hi))
            result.rejected.extend(r for r in rejected if in_window(r.timestamp, cursor, hi))
            result.forming_dropped += sum(1 for t in forming if in_window(t, cursor, hi))
            cursor = page_end
        kept, rejected = validate_candles(raw, timeframe, end)
        result.candles = kept
        result.rejected.extend(rejected)
        result.forming_dropped += len(raw) - len(kept) - len(rejected)
        log_fetch_outcome(self.name, result)
        return result

    async def _get_page(
        self,
        pair: CurrencyPair,
        timeframe: Timeframe,
        start: datetime,
        end: datetime,
        deadline: float | None,
    ) -> tuple[list[Candle], list[RejectedBar], list[datetime], int]:
        """One request: candles, rejected rows, open times of incomplete candles, attempts."""
        instrument = pair.oanda_instrument
        context = f"oanda {pair} {timeframe.value}"
        sent = await send_with_retry(
            self._client,
            "GET",
            f"{self.base_url}/v3/instruments/{instrument}/candles",
            params={
                "granularity": GRANULARITIES[timeframe],
                "price": "M",
                "from": format_time(start),
                "to": format_time(end),
            },
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept-Datetime-Format": "RFC3339",
            },
            policy=self._policy,
            deadline=deadline,
            context=context,
            log_fields={"provider": self.name, "pair": str(pair), "timeframe": timeframe.value},
            sleep=self._sleep,
            rng=self._rng,
        )
        response = sent.response
        shown = self._safe(redact_url(response.request.url))
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            body = None
        status = response.status_code
        if status != 200:
            self._raise_for(status, body, response.text, pair, context, shown)
        if not isinstance(body, dict):
            snippet = " ".join(response.text.split())[:120]
            raise ProviderUnavailable(
                self._safe(f"{context}: response is not a JSON object: {snippet!r} ({shown})")
            )
        candles, rejected, forming = self._parse(body, context, shown)
        return candles, rejected, forming, sent.attempts

    def _raise_for(
        self, status: int, body: JSONValue, text: str, pair: CurrencyPair, context: str, shown: str
    ) -> None:
        message = body.get("errorMessage") if isinstance(body, dict) else None
        reason = str(message) if message else " ".join(text.split())[:120] or "no body"
        if status == 401:
            raise ProviderRequestError(
                self._safe(
                    f"{context}: OANDA rejected the token (HTTP 401: {reason}); check "
                    f"OANDA_API_TOKEN and OANDA_ENVIRONMENT={self.environment} (a practice "
                    f"token only works on the practice host) ({shown})"
                )
            )
        if status in (400, 403, 404, 405):
            hint = (
                f"; is {pair.oanda_instrument} tradeable on this account?"
                if "instrument" in reason.lower() or status == 404
                else ""
            )
            raise ProviderRequestError(
                self._safe(f"{context}: HTTP {status}: {reason}{hint} ({shown})")
            )
        raise ProviderUnavailable(
            self._safe(f"{context}: unexpected HTTP {status}: {reason} ({shown})")
        )

    def _parse(
        self, body: JSONObject, context: str, shown: str
    ) -> tuple[list[Candle], list[RejectedBar], list[datetime]]:
        items = body.get("candles")
        if not isinstance(items, list):
            raise ProviderUnavailable(self._safe(f"{context}: malformed body: no candles list"))
        candles: list[Candle] = []
        rejected: list[RejectedBar] = []
        forming: list[datetime] = []
        for item in items:
            stamp = item.get("time") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(stamp, str):
                raise ProviderUnavailable(
                    self._safe(f"{context}: malformed candle {str(item)[:80]!r} ({shown})")
                )
            try:
                when = parse_time(stamp)
            except ValueError as exc:
                raise ProviderUnavailable(
                    self._safe(f"{context}: bad candle time {stamp!r} ({shown})")
                ) from exc
            if item.get("complete") is not True:
                forming.append(when)
                continue
            mid = item.get("mid")
            if not isinstance(mid, dict):
                raise ProviderUnavailable(
                    self._safe(f"{context}: candle {item['time']} has no 'mid' prices ({shown})")
                )
            try:
                o, h, low, c = (float(str(mid[k])) for k in ("o", "h", "l", "c"))
                volume = _volume(item.get("volume"))
            except (KeyError, ValueError, TypeError):
                rejected.append(RejectedBar(when, "non-numeric price", json.dumps(item)[:200]))
                continue
            candles.append(Candle(when, o, h, low, c, volume))
        return candles, rejected, forming

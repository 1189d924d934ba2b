"""Stand-in for Yahoo's v8 chart API, serving real USDJPY=X bars, for ``LocalServer``.

Usage::

    fake = FakeYahoo(now=datetime(2025, 11, 20, 12, 2, tzinfo=UTC))
    with serve(fake) as server:
        provider = YahooProvider(base_url=server.base_url, clock=lambda: fake.now)

What it serves, like the real API (body shape copied from the recorded fixture
``yahoo_v8_chart_EURUSD_X_1d_fixture.json``): ``chart.result[0]`` with ``meta``,
``timestamp`` and ``indicators.quote[0]``, or ``chart.error {code, description}``.

* bars come from ``yahoo_USDJPY_5m_2025-10-20_2025-12-01.csv`` (real, UTC, float32 prices);
  ``60m`` bars are the 5m bars aggregated on the hour;
* ``now`` is the simulated clock: bars opening after it do not exist, the bar containing it
  is served (the still-forming bar), and with ``live_row=True`` a row stamped at ``now``
  itself is appended, as Yahoo does while a market is open;
* ``period1`` older than ``limit_days[interval]`` before ``now`` -> 422 "The requested range
  must be within the last N days"; an unknown symbol -> 404 "No data found, symbol may be
  delisted"; an unsupported interval -> 400;
* bars are selected with ``period1 <= t < period2`` (``period2_inclusive=True`` also serves
  the bar at ``period2``, which a client must not double count at chunk seams).

Scripting, for fault injection:

* ``null_at``: open times (epoch seconds) whose prices are served as ``null``;
* ``edit``: a function over the list of row dicts ``{"t", "open", "high", "low", "close",
  "volume"}`` applied before serving (bad OHLC, duplicates, out-of-order rows, ...);
* ``enqueue(*items)``: answers used first, in order, one per request. An item is either a
  ``Response`` served verbatim (429, 5xx, garbage) or a function ``Response -> Response``
  applied to the answer the stand-in would have given (``slow(2.0)``, ``truncate``).

Every request to the chart route is kept in ``requests`` (after scripting), every status
sent in ``statuses``.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.http_server import Request, Response
from tests.support.paths import REAL_DATA

DATA_DIR = Path(os.environ.get("EXCHANGE_ANALYTICS_REAL_DATA") or REAL_DATA)
YAHOO_5M_CSV = DATA_DIR / "yahoo_USDJPY_5m_2025-10-20_2025-12-01.csv"
CHART_FIXTURE = DATA_DIR / "yahoo_v8_chart_EURUSD_X_1d_fixture.json"
INTERVAL_SECONDS = {"5m": 300, "60m": 3600, "1h": 3600}
LIMIT_DAYS = {"5m": 60, "60m": 730, "1h": 730}
VALID_INTERVALS = "[1m, 2m, 5m, 15m, 30m, 60m, 90m, 1h, 1d, 5d, 1wk, 1mo, 3mo]"

Item = Response | Callable[[Response], Response]


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar, open time in epoch seconds (UTC)."""

    t: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


@functools.cache
def load_yahoo_5m(path: Path = YAHOO_5M_CSV) -> tuple[Bar, ...]:
    """The real yfinance export: 3 header lines, then Datetime,Close,High,Low,Open,Volume."""
    bars = []
    with path.open(newline="") as handle:
        rows = csv.reader(handle)
        for _ in range(3):
            next(rows)
        for stamp, close, high, low, open_, volume in rows:
            when = datetime.fromisoformat(stamp)
            bars.append(
                Bar(
                    int(when.timestamp()),
                    float(open_),
                    float(high),
                    float(low),
                    float(close),
                    float(volume),
                )
            )
    return tuple(bars)


def aggregate(bars: Sequence[Bar], seconds: int) -> tuple[Bar, ...]:
    """Left-labelled buckets: first open, max high, min low, last close, summed volume."""
    out: list[Bar] = []
    for bar in bars:
        start = bar.t - bar.t % seconds
        if out and out[-1].t == start:
            last = out[-1]
            out[-1] = Bar(
                start,
                last.open,
                max(last.high, bar.high),
                min(last.low, bar.low),
                bar.close,
                last.volume + bar.volume,
            )
        else:
            out.append(Bar(start, bar.open, bar.high, bar.low, bar.close, bar.volume))
    return tuple(out)


@functools.cache
def _fixture_meta() -> dict[str, Any]:
    body = json.loads(CHART_FIXTURE.read_text())["response"]["bodyJson"]
    meta: dict[str, Any] = body["chart"]["result"][0]["meta"]
    return meta


def chart_error(status: int, code: str, description: str) -> Response:
    """A ``chart.error`` answer as Yahoo sends it."""
    return Response(
        status, {"chart": {"result": None, "error": {"code": code, "description": description}}}
    )


def not_found() -> Response:
    return chart_error(404, "Not Found", "No data found, symbol may be delisted")


def rate_limited(retry_after: str | None = None) -> Response:
    """Yahoo's 429 is plain text; ``retry_after`` adds a Retry-After header."""
    headers = {"Content-Type": "text/plain"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Response(429, "Too Many Requests\r\n", headers)


def server_error(status: int = 500) -> Response:
    return Response(
        status, "<html><body>Internal Server Error</body></html>", {"Content-Type": "text/html"}
    )


def garbage() -> Response:
    """A 200 whose body is an HTML page, as from a captive portal or consent wall."""
    return Response(
        200,
        "<!DOCTYPE html><html><body>Please enable cookies</body></html>",
        {"Content-Type": "text/html"},
    )


def slow(seconds: float) -> Callable[[Response], Response]:
    """The normal answer, sent only after ``seconds`` (provokes client read timeouts)."""
    return lambda normal: replace(normal, delay=seconds)


def truncate(normal: Response) -> Response:
    """The normal answer cut in half: syntactically broken JSON with a correct length."""
    payload = normal.encoded()
    return replace(normal, body=payload[: len(payload) // 2])


class FakeYahoo:
    """Callable app for ``LocalServer``; see the module docstring for the scripting knobs."""

    def __init__(
        self,
        now: datetime,
        series: Mapping[str, Sequence[Bar]] | None = None,
        *,
        limit_days: Mapping[str, int] | None = None,
        live_row: bool = False,
        period2_inclusive: bool = False,
    ) -> None:
        self.now = now
        self.series = dict(series) if series is not None else {"USDJPY=X": load_yahoo_5m()}
        self.limit_days = {**LIMIT_DAYS, **(limit_days or {})}
        self.live_row = live_row
        self.period2_inclusive = period2_inclusive
        self.null_at: set[int] = set()
        self.edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self._queue: deque[Item] = deque()
        self._lock = threading.Lock()
        self._hourly: dict[str, tuple[Bar, ...]] = {}

    def enqueue(self, *items: Item) -> None:
        with self._lock:
            self._queue.extend(items)

    def __call__(self, request: Request) -> Response:
        with self._lock:
            item = self._queue.popleft() if self._queue else None
            self.requests.append(request)
        if isinstance(item, Response):
            response = item
        else:
            response = self._answer(request)
            if item is not None:
                response = item(response)
        with self._lock:
            self.statuses.append(response.status)
        return response

    def period(self, request: Request) -> tuple[int, int]:
        """``(period1, period2)`` of a recorded request, for assertions."""
        return int(request.param("period1") or 0), int(request.param("period2") or 0)

    def _answer(self, request: Request) -> Response:
        prefix = "/v8/finance/chart/"
        if not request.path.startswith(prefix):
            return Response(404, "Not Found", {"Content-Type": "text/plain"})
        symbol = request.path[len(prefix) :]
        interval = request.param("interval", "1d") or "1d"
        if interval not in INTERVAL_SECONDS:
            return chart_error(
                400,
                "Bad Request",
                f"Invalid input - interval={interval} is "
                f"not supported. Valid intervals: {VALID_INTERVALS}",
            )
        try:
            period1 = int(request.param("period1") or "")
            period2 = int(request.param("period2") or "")
        except ValueError:
            return chart_error(400, "Bad Request", "Invalid input - period1/period2")
        if symbol not in self.series:
            return not_found()
        now = int(self.now.timestamp())
        limit = self.limit_days[interval]
        if period1 < now - limit * 86400:
            return chart_error(
                422,
                "Unprocessable Entity",
                f"{interval} data not available for startTime={period1} and "
                f"endTime={period2}. The requested range must be within the "
                f"last {limit} days.",
            )
        step = INTERVAL_SECONDS[interval]
        bars = self._bars(symbol, step)
        rows: list[dict[str, Any]] = [
            {
                "t": b.t,
                "open": b.open,
                "high": b.high,
                "low": b.low,
                "close": b.close,
                "volume": b.volume,
            }
            for b in bars
            if period1 <= b.t
            and (b.t < period2 or (self.period2_inclusive and b.t == period2))
            and b.t <= now
        ]
        for row in rows:
            if row["t"] in self.null_at:
                row.update(open=None, high=None, low=None, close=None, volume=None)
        if self.live_row and rows and now % step and period2 >= now:
            last = rows[-1]
            rows.append(
                {
                    "t": now,
                    "open": last["close"],
                    "high": last["close"],
                    "low": last["close"],
                    "close": last["close"],
                    "volume": 0,
                }
            )
        if self.edit is not None:
            rows = self.edit(rows)
        return Response(
            200,
            self._body(symbol, interval, rows, now),
            {"Content-Type": "application/json;charset=utf-8"},
        )

    def _bars(self, symbol: str, step: int) -> Sequence[Bar]:
        if step == 300:
            return self.series[symbol]
        if symbol not in self._hourly:
            self._hourly[symbol] = aggregate(self.series[symbol], step)
        return self._hourly[symbol]

    def _body(
        self, symbol: str, interval: str, rows: list[dict[str, Any]], now: int
    ) -> dict[str, Any]:
        meta = copy.deepcopy(_fixture_meta())
        base, quote = symbol[:3], symbol[3:6]
        closes = [r["close"] for r in rows if r["close"] is not None]
        meta.update(
            currency=quote,
            symbol=symbol,
            dataGranularity=interval,
            range="",
            regularMarketTime=now,
            longName=f"{base}/{quote}",
            shortName=f"{base}/{quote}",
            regularMarketPrice=closes[-1] if closes else None,
        )
        result: dict[str, Any] = {"meta": meta}
        if rows:
            result["timestamp"] = [r["t"] for r in rows]
            result["indicators"] = {
                "quote": [
                    {
                        key: [r[key] for r in rows]
                        for key in ("open", "volume", "close", "low", "high")
                    }
                ]
            }
        else:
            result["indicators"] = {"quote": [{}]}
        return {"chart": {"result": [result], "error": None}}

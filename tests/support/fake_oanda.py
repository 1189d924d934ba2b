"""Stand-in for OANDA v20 ``GET /v3/instruments/{instrument}/candles``, for ``LocalServer``.

Usage::

    fake = FakeOanda(now=datetime(2026, 1, 20, 12, 2, tzinfo=UTC), token="tok")
    with serve(fake) as server:
        provider = OandaProvider(base_url=server.base_url, token="tok")

What it serves, like the real API (shape of ``oanda_v20_candles_GBP_USD_D_ask_fixture.json``):
``{"instrument", "granularity", "candles": [{"complete", "volume", "time", "mid": {o,h,l,c}}]}``
with prices as strings (3 decimals for JPY-quoted pairs, else 5) and RFC3339 nanosecond times.

* candles are built from the real USD_JPY **M1** mid candles in
  ``oanda_USDJPY_M1_2026-01-05_2026-02-23.csv``, aggregated to M5 or H1 (minutes without
  ticks stay gaps); ``volume`` is the number of M1 candles in the bucket (the file has no
  tick volume);
* ``now`` is the simulated clock: buckets opening after it do not exist, the bucket holding
  it is served with ``complete: false`` and only the minutes that began before ``now``;
* ``from``/``to`` select ``floor(from) <= t < to`` (``to_inclusive=True`` also serves the
  candle at ``to``); ``from`` + ``count`` and ``count`` alone work as documented;
* a range worth more than ``max_count`` candles (or ``count`` above it) -> 400 "Maximum value
  for 'count' exceeded"; ``to`` after ``now`` -> 400 "Time is in the future"; a missing or
  wrong bearer token -> 401; an unknown instrument or granularity -> 400; all with
  ``{"errorMessage": ...}``.

Scripting: ``edit`` (a function over the candle dicts before serving) and ``enqueue(*items)``
work as in ``fake_yahoo`` (an item is a ``Response`` or a function ``Response -> Response``;
``fake_yahoo.slow`` and ``fake_yahoo.truncate`` apply here too). ``requests`` and
``statuses`` record what was asked and answered.
"""

from __future__ import annotations

import bisect
import csv
import functools
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.fake_yahoo import DATA_DIR, Bar, Item, aggregate
from tests.support.http_server import Request, Response

OANDA_M1_CSV = DATA_DIR / "oanda_USDJPY_M1_2026-01-05_2026-02-23.csv"
GRANULARITY_SECONDS = {"M1": 60, "M5": 300, "H1": 3600}
TEST_TOKEN = "test-oanda-token"
UNAUTHORIZED = "Insufficient authorization to perform request."
_FRACTION = re.compile(r"\.\d+")


def parse_time(text: str) -> int:
    """RFC3339 (any fraction, ``Z`` or offset) or UNIX seconds -> epoch seconds."""
    try:
        return int(float(text))
    except ValueError:
        pass
    cleaned = _FRACTION.sub("", text, count=1).replace("Z", "+00:00")
    return int(datetime.fromisoformat(cleaned).timestamp())


def format_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000000000Z")


@functools.cache
def load_oanda_m1(path: Path = OANDA_M1_CSV) -> tuple[Bar, ...]:
    """The real export: ``time,open,high,low,close`` with RFC3339 nanosecond times."""
    bars = []
    with path.open(newline="") as handle:
        rows = csv.reader(handle)
        next(rows)
        for stamp, open_, high, low, close in rows:
            bars.append(
                Bar(parse_time(stamp), float(open_), float(high), float(low), float(close), 1.0)
            )
    return tuple(bars)


def oanda_error(status: int, message: str) -> Response:
    return Response(status, {"errorMessage": message})


class FakeOanda:
    """Callable app for ``LocalServer``; see the module docstring for the knobs."""

    def __init__(
        self,
        now: datetime,
        token: str = TEST_TOKEN,
        m1: Mapping[str, Sequence[Bar]] | None = None,
        *,
        max_count: int = 5000,
        to_inclusive: bool = False,
    ) -> None:
        self.now = now
        self.token = token
        self.m1 = dict(m1) if m1 is not None else {"USD_JPY": load_oanda_m1()}
        self.max_count = max_count
        self.to_inclusive = to_inclusive
        self.edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None
        self.requests: list[Request] = []
        self.statuses: list[int] = []
        self._queue: deque[Item] = deque()
        self._lock = threading.Lock()

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

    def _answer(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["v3", "instruments"] or parts[3] != "candles":
            return oanda_error(404, "The requested resource was not found")
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return oanda_error(401, UNAUTHORIZED)
        instrument = parts[2]
        if instrument not in self.m1:
            return oanda_error(400, "Invalid value specified for 'instrument'")
        granularity = request.param("granularity", "S5") or "S5"
        if granularity not in GRANULARITY_SECONDS:
            return oanda_error(400, "Invalid value specified for 'granularity'")
        step = GRANULARITY_SECONDS[granularity]
        now = int(self.now.timestamp())
        raw_from, raw_to, raw_count = (request.param(k) for k in ("from", "to", "count"))
        try:
            start = parse_time(raw_from) if raw_from else None
            end = parse_time(raw_to) if raw_to else None
            count = int(raw_count) if raw_count else None
        except ValueError:
            return oanda_error(400, "Invalid value specified for 'from', 'to' or 'count'")
        if count is not None and start is not None and end is not None:
            return oanda_error(400, "'count' cannot be specified with both 'from' and 'to'")
        if end is not None and end > now:
            return oanda_error(400, "Invalid value specified for 'to'. Time is in the future")
        if count is not None and count > self.max_count:
            return oanda_error(400, "Maximum value for 'count' exceeded")
        if start is not None:
            first = start - start % step
            last = end if end is not None else now
            slots = math.ceil((last - first) / step) + (1 if self.to_inclusive else 0)
            if count is None and slots > self.max_count:
                return oanda_error(400, "Maximum value for 'count' exceeded")
            candles = [
                c
                for c in self._candles(instrument, step, now)
                if c[0] >= first
                and (end is None or c[0] < end or (self.to_inclusive and c[0] == end))
            ]
            if count is not None:
                candles = candles[:count]
        else:
            candles = [
                c for c in self._candles(instrument, step, now) if end is None or c[0] < end
            ][-(count or 500) :]
        decimals = 3 if instrument.endswith("JPY") else 5
        rows: list[dict[str, Any]] = [
            {
                "complete": complete,
                "volume": int(bar.volume),
                "time": format_time(bar.t),
                "mid": {
                    k: f"{getattr(bar, name):.{decimals}f}"
                    for k, name in (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close"))
                },
            }
            for _, bar, complete in candles
        ]
        if self.edit is not None:
            rows = self.edit(rows)
        return Response(
            200, {"instrument": instrument, "granularity": granularity, "candles": rows}
        )

    def _candles(self, instrument: str, step: int, now: int) -> list[tuple[int, Bar, bool]]:
        """(open time, bar, complete) for every bucket that has begun by ``now``."""
        minutes = self.m1[instrument]
        buckets, bucket_times = _aggregated(minutes, step)
        stop = bisect.bisect_left(bucket_times, now - step + 1)  # buckets closed by ``now``
        out = [(b.t, b, True) for b in buckets[:stop]]
        forming_start = now - now % step
        minute_times = _aggregated(minutes, 60)[1]
        lo = bisect.bisect_left(minute_times, forming_start)
        hi = bisect.bisect_left(minute_times, now)
        if hi > lo:
            out.append((forming_start, aggregate(minutes[lo:hi], step)[0], False))
        return out


_AGGREGATES: dict[tuple[int, int], tuple[Sequence[Bar], tuple[Bar, ...], list[int]]] = {}


def _aggregated(minutes: Sequence[Bar], step: int) -> tuple[tuple[Bar, ...], list[int]]:
    """``aggregate`` cached per series object (the real file is parsed once per session)."""
    key = (id(minutes), step)
    cached = _AGGREGATES.get(key)
    if cached is None or cached[0] is not minutes:
        bars = aggregate(minutes, step)
        cached = (minutes, bars, [b.t for b in bars])
        _AGGREGATES[key] = cached
    return cached[1], cached[2]

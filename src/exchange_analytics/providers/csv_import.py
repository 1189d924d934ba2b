"""Parsing of CSV price history (SPEC §3.4): HistData, MetaTrader exports, generic header CSV.

Pure: reads one file, returns candles in UTC and the rows it refused; nothing is written. The
``import`` command stores the result in one transaction, so a file with a bad row is refused
as a whole unless ``--skip-bad-rows`` (then every bad row is reported and the rest kept).
Every refusal is a ``CsvFormatError`` whose message is ``file:line: reason``, with the
physical line number an editor shows.

Formats (``detect_format`` looks at the first meaningful line):

* ``histdata``: ``20240102 170000;142.010;142.020;141.990;142.000;0``. HistData stamps bars
  in EST *without* daylight saving, i.e. a fixed UTC-05:00 all year; that is the default
  zone for this format.
* ``metatrader``: ``2024.01.02,17:00,142.010,142.020,141.990,142.000,123`` (MT4 history
  export) or MT5's ``<DATE>\\t<TIME>\\t<OPEN>...<TICKVOL>\\t<VOL>\\t<SPREAD>`` with a header.
  Times are the broker's *server* time, so pass the server's zone (e.g. ``Europe/Athens``
  for the common EET/EEST servers). Volume is the tick volume (real volume is 0 for FX).
* ``generic``: a header naming a time column (``timestamp``, ``time``, ``datetime``, ``date``
  or an unnamed first column) and ``open,high,low,close[,volume]`` in any order. ISO-8601
  values; a value with an offset (``Z``, ``+00:00``) is taken as is, a naive one is in
  ``tz``. Lines starting with ``#`` are comments (ork.ad files start with one), and the
  two extra header lines of a yfinance export (``Ticker,...`` / ``Datetime,...``) are skipped.

Naive times in a zone with daylight saving: a time that does not exist (the spring-forward
hour) is a bad row; a time that exists twice (the fall-back hour) is resolved by order: the
earliest instant after the previous row.

``CsvProvider`` (at the end) serves such files as a market-data provider for offline runs.
"""

from __future__ import annotations

import asyncio
import csv
import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe, utc
from exchange_analytics.errors import ConfigurationError, CsvFormatError, ProviderRequestError
from exchange_analytics.providers.base import FetchResult
from exchange_analytics.providers.validation import MISALIGNED, check_bar, validate_candles

log = structlog.get_logger(__name__)

FORMATS = ("histdata", "metatrader", "generic")
#: HistData's "EST without DST".
HISTDATA_TZ = timezone(timedelta(hours=-5), "EST")
_HISTDATA_ROW = re.compile(r"^\d{8} \d{6};")
_HISTDATA_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})$")
_MT_ROW = re.compile(r"^\d{4}[.-]\d{2}[.-]\d{2}[,\t]\d{1,2}:\d{2}(:\d{2})?[,\t]")
_MT_DATE = re.compile(r"^(\d{4})[.-](\d{2})[.-](\d{2})$")
_MT_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_TIME_COLUMNS = ("timestamp", "time", "datetime", "date", "date_time", "open_time")
_VOLUME_COLUMNS = ("volume", "tick_volume", "tickvol", "vol", "real_volume")
_PRICE_COLUMNS = ("open", "high", "low", "close")
_SNIFF_LINES = 20
_MT_NAMES = {Timeframe.M5: "M5", Timeframe.H1: "H1", Timeframe.H4: "H4", Timeframe.D1: "D1"}


@dataclass(slots=True)
class ParsedCsv:
    """Candles (UTC, ascending) and, with ``skip_bad_rows``, the rows that were refused."""

    candles: list[Candle]
    errors: list[CsvFormatError] = field(default_factory=list)
    format: str = ""
    path: str = ""
    #: Data rows read (good + bad; blank and comment lines not counted).
    rows: int = 0


def resolve_tz(name: str | None, default: tzinfo = UTC) -> tzinfo:
    """``--tz``: None -> ``default``; ``UTC``; fixed offsets (``+02:00``, ``UTC-5``); IANA names."""
    if name is None:
        return default
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        hours, minutes = int(match.group(2)), int(match.group(3) or 0)
        if hours > 14 or minutes > 59:
            raise ConfigurationError(f"--tz {name!r}: offset out of range")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"--tz {name!r} is not a known time zone; use an IANA name like Europe/Athens "
            "or an offset like UTC+02:00"
        ) from exc


def detect_format(first_lines: Sequence[str], path: str = "<input>") -> str:
    """``histdata``, ``metatrader`` or ``generic`` from the first lines of a file."""
    for number, line in enumerate(first_lines, 1):
        text = line.strip().lstrip("\ufeff")
        if not text or text.startswith("#"):
            continue
        if _HISTDATA_ROW.match(text):
            return "histdata"
        if text.upper().startswith("<DATE>") or _MT_ROW.match(text):
            return "metatrader"
        names = {_column(n) for n in re.split(r"[,;\t]", text)}
        if set(_PRICE_COLUMNS) <= names:
            return "generic"
        raise CsvFormatError(
            path,
            number,
            f"unrecognised format: {text[:60]!r}; expected HistData (20240102 170000;o;h;l;c;v), "
            "MetaTrader (2024.01.02,17:00,o,h,l,c,v) or a header timestamp,open,high,low,close",
        )
    raise CsvFormatError(path, max(len(first_lines), 1), "file is empty")


def _column(name: str) -> str:
    return name.strip().strip('"').strip("<>").strip().lower()


def _split(line: str, delimiter: str) -> list[str]:
    if '"' in line:
        return next(csv.reader([line], delimiter=delimiter))
    return line.split(delimiter)


def _number(text: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"bad number in column {column!r}: {text.strip()!r}") from None


def _to_utc(naive: datetime, zone: tzinfo, previous: datetime | None) -> datetime:
    """Local wall time -> UTC; refuses nonexistent times, orders ambiguous ones."""
    if isinstance(zone, timezone):
        return naive.replace(tzinfo=zone).astimezone(UTC)
    valid = []
    for fold in (0, 1):
        instant = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == naive and instant not in valid:
            valid.append(instant)
    if not valid:
        raise ValueError(f"nonexistent local time {naive.isoformat(sep=' ')} in {zone} (DST gap)")
    valid.sort()
    later = [v for v in valid if previous is None or v > previous]
    return later[0] if later else valid[0]


class _Layout:
    """How to turn the fields of one data row into (naive-or-aware time, o, h, l, c, v)."""

    def __init__(
        self,
        delimiter: str,
        stamp_at: tuple[int, ...],
        stamp: Callable[[list[str]], datetime],
        prices: tuple[int, int, int, int],
        volume: int | None,
    ) -> None:
        self.delimiter, self.stamp_at, self.stamp = delimiter, stamp_at, stamp
        self.prices, self.volume = prices, volume
        self.width = max(*stamp_at, *prices) + 1

    def read(self, fields: list[str]) -> tuple[datetime, float, float, float, float, float]:
        if len(fields) < self.width:
            raise ValueError(f"expected at least {self.width} fields, got {len(fields)}")
        try:
            when = self.stamp(fields)
        except (ValueError, IndexError):
            raise ValueError(f"bad timestamp {self._stamp_text(fields)!r}") from None
        o, h, low, c = (
            _number(fields[i], name) for i, name in zip(self.prices, _PRICE_COLUMNS, strict=True)
        )
        v = 0.0
        if self.volume is not None and self.volume < len(fields) and fields[self.volume].strip():
            v = _number(fields[self.volume], "volume")
        return when, o, h, low, c, v

    def _stamp_text(self, fields: list[str]) -> str:
        return " ".join(fields[i].strip() for i in self.stamp_at if i < len(fields))


def _histdata_stamp(fields: list[str]) -> datetime:
    match = _HISTDATA_TIME.match(fields[0].strip())
    if not match:
        raise ValueError(fields[0])
    y, mo, d, h, mi, sec = (int(g) for g in match.groups())
    return datetime(y, mo, d, h, mi, sec)  # noqa: DTZ001 - the zone is applied by the caller


def _mt_stamp(date_i: int, time_i: int) -> Callable[[list[str]], datetime]:
    def stamp(fields: list[str]) -> datetime:
        date, clock = _MT_DATE.match(fields[date_i].strip()), _MT_TIME.match(fields[time_i].strip())
        if not date or not clock:
            raise ValueError(fields[date_i])
        y, mo, d = (int(g) for g in date.groups())
        return datetime(y, mo, d, int(clock[1]), int(clock[2]), int(clock[3] or 0))  # noqa: DTZ001

    return stamp


def _iso_stamp(index: int) -> Callable[[list[str]], datetime]:
    def stamp(fields: list[str]) -> datetime:
        text = fields[index].strip()
        if text.isdigit() and len(text) >= 9:  # epoch seconds, or milliseconds
            seconds = int(text) / 1000 if len(text) >= 12 else int(text)
            return datetime.fromtimestamp(seconds, tz=UTC)
        return datetime.fromisoformat(text)

    return stamp


def _indices(names: list[str], wanted: Sequence[str]) -> tuple[int, int, int, int]:
    o, h, low, c = (names.index(n) for n in wanted)
    return o, h, low, c


def _layout(fmt: str, header: str | None, sample: str, path: str, line: int) -> _Layout:
    """The row layout of ``fmt``, from its header line when it has one."""
    if fmt == "histdata":
        return _Layout(";", (0,), _histdata_stamp, (1, 2, 3, 4), 5)
    if fmt == "metatrader":
        delimiter = "\t" if "\t" in (header or sample) else ","
        if header is None:
            return _Layout(delimiter, (0, 1), _mt_stamp(0, 1), (2, 3, 4, 5), 6)
        names = [_column(n) for n in _split(header, delimiter)]
        missing = [n for n in ("date", "time", *_PRICE_COLUMNS) if n not in names]
        if missing:
            raise CsvFormatError(path, line, f"MetaTrader header lacks {', '.join(missing)}")
        vol = next((names.index(n) for n in ("tickvol", "vol", "volume") if n in names), None)
        date_i, time_i = names.index("date"), names.index("time")
        return _Layout(
            delimiter,
            (date_i, time_i),
            _mt_stamp(date_i, time_i),
            _indices(names, _PRICE_COLUMNS),
            vol,
        )
    if header is None:
        raise CsvFormatError(path, line, "generic CSV needs a header line")
    delimiter = max((",", ";", "\t"), key=header.count)
    names = [_column(n) for n in _split(header, delimiter)]
    missing = [n for n in _PRICE_COLUMNS if n not in names]
    stamp_i = next((names.index(n) for n in _TIME_COLUMNS if n in names), None)
    if stamp_i is None and names and names[0] in ("", "price", "index"):
        stamp_i = 0  # pandas' unnamed index column, or yfinance's "Price" header
    if missing or stamp_i is None:
        lacking = [*missing, *(["a time column"] if stamp_i is None else [])]
        raise CsvFormatError(path, line, f"header lacks {', '.join(lacking)}")
    volume = next((names.index(n) for n in _VOLUME_COLUMNS if n in names), None)
    return _Layout(
        delimiter, (stamp_i,), _iso_stamp(stamp_i), _indices(names, _PRICE_COLUMNS), volume
    )


def parse_csv(
    path: str | Path,
    fmt: str = "auto",
    tz: str | None = None,
    timeframe: Timeframe = Timeframe.M5,
    skip_bad_rows: bool = False,
) -> ParsedCsv:
    """Read ``path`` into UTC candles of ``timeframe``.

    ``tz`` is the zone of naive timestamps: None means the format's own convention (fixed
    UTC-05:00 for HistData, UTC otherwise). With ``skip_bad_rows`` False the first bad row
    raises its ``CsvFormatError`` (the caller imports nothing); with True every bad row is
    returned in ``errors`` and the good rows in ``candles``.
    """
    name = str(path)
    if fmt != "auto" and fmt not in FORMATS:
        raise ConfigurationError(f"--format {fmt!r} is not one of auto, {', '.join(FORMATS)}")
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigurationError(f"cannot read {name}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CsvFormatError(name, _undecodable_line(exc), "not UTF-8 text") from exc
    lines = text.split("\n")
    detected = detect_format(lines[:_SNIFF_LINES], name) if fmt == "auto" else fmt
    zone = resolve_tz(tz, HISTDATA_TZ if detected == "histdata" else UTC)
    parsed = ParsedCsv(candles=[], format=detected, path=name)
    seen: dict[datetime, int] = {}
    last: tuple[datetime, int] | None = None
    layout: _Layout | None = None
    yfinance_extra = 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if layout is None:
            header_line = detected == "generic" or (
                detected == "metatrader" and stripped.startswith("<")
            )
            layout = _layout(detected, stripped if header_line else None, stripped, name, number)
            if header_line:
                yfinance_extra = 2 if _column(stripped.split(",")[0]) == "price" else 0
                continue
        if yfinance_extra and stripped.split(",")[0].lower() in ("ticker", "datetime", "date"):
            yfinance_extra -= 1
            continue
        yfinance_extra = 0
        parsed.rows += 1
        try:
            when, o, h, low, c, v = layout.read(_split(line, layout.delimiter))
            if when.tzinfo is None:
                when = _to_utc(when, zone, last[0] if last else None)
            else:
                when = when.astimezone(UTC)
            candle = Candle(when, o, h, low, c, v)
            reason = check_bar(candle, timeframe)
            if reason is not None:
                if reason.startswith(MISALIGNED):
                    reason += f" (is the file {timeframe.value} data?)"
                raise ValueError(reason)
            if when in seen:
                raise ValueError(
                    f"duplicate timestamp {when.isoformat()} (first at line {seen[when]})"
                )
            if last is not None and when < last[0]:
                raise ValueError(
                    f"out of order: {when.isoformat()} comes after {last[0].isoformat()} "
                    f"(line {last[1]})"
                )
        except ValueError as exc:
            error = CsvFormatError(name, number, str(exc))
            if not skip_bad_rows:
                raise error from None
            parsed.errors.append(error)
            continue
        seen[when] = number
        last = (when, number)
        parsed.candles.append(candle)
    if parsed.rows == 0:
        raise CsvFormatError(name, max(len(lines) - 1, 1), "no data rows")
    return parsed


def _undecodable_line(exc: UnicodeDecodeError) -> int:
    """1-based line of an undecodable byte, for the error message."""
    return exc.object[: exc.start].count(b"\n") + 1


class CsvProvider:
    """MarketDataProvider over CSV files in one directory, for offline runs and ``--as-of``
    replays of history (SPEC §3.1 ``csv``).

    Files are named after pair and timeframe, in any format ``parse_csv`` reads:
    ``USDJPY_5m.csv`` or ``USDJPY_M5.csv``, ``USDJPY_1h.csv`` or ``USDJPY_H1.csv``. Each file is
    parsed once (in a worker thread); its bad rows are logged once and left out, like bad bars
    from an API. A missing file is a ProviderRequestError naming the file expected.
    """

    name = "csv"
    is_demo = False

    def __init__(self, directory: str | Path, tz: str | None = None) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ConfigurationError(f"CSV directory {self.directory} does not exist")
        self._tz = tz
        resolve_tz(tz)  # a bad zone is a configuration error now, not at the first fetch
        self._cache: dict[tuple[str, Timeframe], list[Candle]] = {}

    def _file(self, pair: CurrencyPair, timeframe: Timeframe) -> Path:
        stem = f"{pair.base}{pair.quote}"
        names = [f"{stem}_{timeframe.value}.csv", f"{stem}_{_MT_NAMES[timeframe]}.csv"]
        for name in names:
            if (self.directory / name).is_file():
                return self.directory / name
        raise ProviderRequestError(
            f"csv: no file for {pair} {timeframe.value} in {self.directory} "
            f"(expected {' or '.join(names)})"
        )

    async def _candles(self, pair: CurrencyPair, timeframe: Timeframe) -> list[Candle]:
        key = (str(pair), timeframe)
        if key not in self._cache:
            path = self._file(pair, timeframe)
            parsed = await asyncio.to_thread(parse_csv, path, "auto", self._tz, timeframe, True)
            if parsed.errors:
                log.warning(
                    "provider.csv_bad_rows",
                    file=str(path),
                    bad_rows=len(parsed.errors),
                    first=str(parsed.errors[0]),
                )
            self._cache[key] = parsed.candles
        return self._cache[key]

    async def fetch_candles(
        self, pair: CurrencyPair, timeframe: Timeframe, start: datetime, end: datetime
    ) -> FetchResult:
        candles = await self._candles(pair, timeframe)
        stamps = [c.timestamp for c in candles]
        window = candles[bisect_left(stamps, utc(start)) : bisect_left(stamps, utc(end))]
        kept, rejected = validate_candles(window, timeframe, end)
        forming = len(window) - len(kept) - len(rejected)
        return FetchResult(pair, timeframe, kept, rejected, forming_dropped=forming, requests=1)

    def earliest_available(self, timeframe: Timeframe, now: datetime) -> datetime | None:
        return None  # whatever the files hold; there is no server-side limit

    async def ping(self, pair: CurrencyPair, now: datetime) -> Candle | None:
        candles = await self._candles(pair, Timeframe.M5)
        closed = [c for c in candles if c.timestamp + Timeframe.M5.duration <= utc(now)]
        return closed[-1] if closed else None

    async def aclose(self) -> None:
        self._cache.clear()

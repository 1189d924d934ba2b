"""Reading CSV price history (SPEC §3.4): plain files and ``.zip`` archives, 5m/1h files and
1-minute files aggregated on the way in, HistData on its real clock.

Pure apart from reading the one file: returns candles in UTC and the rows it refused; nothing
is written. The ``import`` command stores the result in one transaction, so a file with a bad
row is refused as a whole unless ``--skip-bad-rows`` (then every bad row is reported and the
rest kept). Every refusal is a ``CsvFormatError`` whose message is ``file:line: reason``, with
the physical line number an editor shows (inside a zip: ``archive.zip!member.csv:line``).

The row formats are in ``providers.csv_formats``. Clocks of naive timestamps: ``--tz``, or by
default UTC, except HistData files (told by their name, or by the ASCII row layout only
HistData uses), which run on ``providers.histdata_clock``. A naive time in a zone with
daylight saving that does not exist (the spring-forward hour) is a bad row; one that exists
twice (the fall-back hour) is resolved by order: the earliest instant after the previous row.

1-minute files (any format; recognised by a time off the 5-minute grid among the first rows,
or an ``M1`` in a HistData name) become bars of the requested timeframe through
``providers.minute_bars``: each bar only from the minutes it covers, partial ones with their
minute count in ``ParsedCsv.minutes``. The file is read line by line (a zip member streamed),
so a year of minutes is never held in memory.

A row that opens after ``now`` (the clock, or ``--as-of``) is a bad row (``future bar``):
one such row in a file refuses the whole import unless ``--skip-bad-rows``.

``CsvProvider`` (at the end) serves such files as a market-data provider for offline runs.
"""

from __future__ import annotations

import asyncio
import re
import zipfile
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone, tzinfo
from pathlib import Path
from typing import IO

import structlog

from exchange_analytics.domain import Candle, CurrencyPair, Timeframe, utc
from exchange_analytics.errors import ConfigurationError, CsvFormatError, ProviderRequestError
from exchange_analytics.providers.base import FetchResult
from exchange_analytics.providers.csv_formats import (
    FORMATS,
    Layout,
    column,
    detect_format,
    is_histdata_name,
    layout,
    resolve_tz,
    split_fields,
)
from exchange_analytics.providers.histdata_clock import HistDataClock
from exchange_analytics.providers.minute_bars import MinuteAggregator
from exchange_analytics.providers.plausibility import future_reason
from exchange_analytics.providers.validation import (
    MISALIGNED,
    check_bar,
    check_values,
    validate_candles,
)

__all__ = ["FORMATS", "CsvProvider", "ParsedCsv", "detect_format", "parse_csv", "resolve_tz"]

log = structlog.get_logger(__name__)

_SNIFF_LINES = 20
_MT_NAMES = {Timeframe.M5: "M5", Timeframe.H1: "H1", Timeframe.H4: "H4", Timeframe.D1: "D1"}
_M1_NAME = re.compile(r"(^|[_\-.])M1([_\-.]|\d{4}|$)", re.IGNORECASE)
Zone = tzinfo | HistDataClock


@dataclass(slots=True)
class ParsedCsv:
    """Candles (UTC, ascending) and, with ``skip_bad_rows``, the rows that were refused."""

    candles: list[Candle]
    errors: list[CsvFormatError] = field(default_factory=list)
    format: str = ""
    path: str = ""
    #: Data rows read (good + bad; blank and comment lines not counted).
    rows: int = 0
    #: For a 1-minute file: minutes inside each bar, parallel to ``candles`` (empty otherwise).
    minutes: list[int] = field(default_factory=list)
    #: The clock naive times were read on (for the summary line).
    clock: str = "UTC"

    @property
    def from_minutes(self) -> bool:
        return bool(self.minutes)


@contextmanager
def _open_lines(path: Path) -> Iterator[tuple[str, IO[bytes], bool]]:
    """``(display name, binary stream, holds a HistData report)`` of the CSV: the file, or
    the CSV inside a zip."""
    try:
        if not zipfile.is_zipfile(path):
            with path.open("rb") as stream:
                yield str(path), stream, False
            return
        with zipfile.ZipFile(path) as archive:
            members = [
                i
                for i in archive.infolist()
                if not i.is_dir() and i.filename.lower().endswith((".csv", ".txt"))
            ]
            csvs = [i for i in members if i.filename.lower().endswith(".csv")]
            chosen = csvs or members
            if len(chosen) != 1:
                names = ", ".join(i.filename for i in archive.infolist()) or "nothing"
                raise ConfigurationError(
                    f"{path}: expected one CSV inside the zip, found {names}; unzip it and "
                    "import the CSV you mean"
                )
            # HistData's archives carry a status report that names them: a renamed archive
            # still reads on HistData's clock.
            reports = [i for i in members if i.filename.lower().endswith(".txt")]
            histdata = any(_is_histdata_report(archive, i) for i in reports)
            with archive.open(chosen[0]) as stream:
                yield f"{path}!{chosen[0].filename}", stream, histdata
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except zipfile.BadZipFile as exc:
        raise ConfigurationError(f"{path}: damaged zip archive ({exc})") from exc


def _is_histdata_report(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bool:
    with archive.open(member) as stream:
        return stream.read(64).lstrip(b"\xef\xbb\xbf").startswith(b"HistData.com")


def _decoded(name: str, stream: IO[bytes]) -> Iterator[str]:
    """Lines of ``stream`` as text without line ends; a BOM on line 1 is dropped."""
    for number, raw in enumerate(stream, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CsvFormatError(name, number, "not UTF-8 text") from exc
        if number == 1:
            line = line.lstrip("\ufeff")
        yield line.rstrip("\r\n")


def _is_minute_data(name: str, sample: list[str], lay: Layout, fmt: str) -> bool:
    """A 1-minute file: most of the first rows off the 5-minute grid (one stray row in a 5m
    file is that file's bad row, not a sign of minutes), or an ``M1`` HistData name."""
    if fmt == "histdata" and _M1_NAME.search(Path(name.split("!")[-1]).stem):
        return True
    read = off_grid = 0
    for line in sample:
        try:
            when = lay.read(split_fields(line, lay.delimiter))[0]
        except ValueError:
            continue
        read += 1
        off_grid += bool(when.minute % 5 or when.second)
    return off_grid >= 2 and off_grid * 2 >= read


def _to_utc(naive: datetime, zone: Zone, previous: datetime | None) -> datetime:
    """Local wall time -> UTC; refuses nonexistent times, orders ambiguous ones."""
    if isinstance(zone, HistDataClock):
        return zone.to_utc(naive)
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


class _Reader:
    """The state of one pass over a file: layout, clock, sequence checks, bad rows."""

    def __init__(
        self, parsed: ParsedCsv, fmt: str, zone: Zone, timeframe: Timeframe, now: datetime | None
    ) -> None:
        self.parsed, self.fmt, self.zone = parsed, fmt, zone
        self.timeframe, self.now = timeframe, now
        self.layout: Layout | None = None
        self.minutes: MinuteAggregator | None = None
        self.seen: dict[datetime, int] = {}
        self.last: tuple[datetime, int] | None = None
        self.yfinance_extra = 0

    def start(self, first: str, sample: list[str], number: int) -> bool:
        """Set up the layout from the first data (or header) line; True if it is a header."""
        header = self.fmt == "generic" or (self.fmt == "metatrader" and first.startswith("<"))
        self.layout = layout(self.fmt, first if header else None, first, self.parsed.path, number)
        if header:
            self.yfinance_extra = 2 if column(first.split(",")[0]) == "price" else 0
        rows = sample[1:] if header else sample
        if _is_minute_data(self.parsed.path, rows, self.layout, self.fmt):
            self.minutes = MinuteAggregator(self.timeframe.seconds)
        return header

    def row(self, line: str, number: int) -> None:
        """Read one data row into the result; ValueError with the reason if it is bad."""
        assert self.layout is not None  # noqa: S101 - set by start() before any row
        when, o, h, low, c, v = self.layout.read(split_fields(line, self.layout.delimiter))
        if when.tzinfo is None:
            when = _to_utc(when, self.zone, self.last[0] if self.last else None)
        else:
            when = when.astimezone(UTC)
        candle = Candle(when, o, h, low, c, v)
        future = future_reason(when, self.now) if self.now is not None else None
        if future is not None:
            raise ValueError(future)
        if self.minutes is not None:
            reason = check_values(candle)
            if reason is not None:
                raise ValueError(reason)
            self.minutes.add(int(when.timestamp()), o, h, low, c, v)
            self.last = (when, number)
            return
        reason = check_bar(candle, self.timeframe)
        if reason is not None:
            if reason.startswith(MISALIGNED):
                reason += f" (is the file {self.timeframe.value} data?)"
            raise ValueError(reason)
        if when in self.seen:
            raise ValueError(
                f"duplicate timestamp {when.isoformat()} (first at line {self.seen[when]})"
            )
        if self.last is not None and when < self.last[0]:
            raise ValueError(
                f"out of order: {when.isoformat()} comes after {self.last[0].isoformat()} "
                f"(line {self.last[1]})"
            )
        self.seen[when] = number
        self.last = (when, number)
        self.parsed.candles.append(candle)

    def skip_yfinance_header(self, stripped: str) -> bool:
        if self.yfinance_extra and stripped.split(",")[0].lower() in ("ticker", "datetime", "date"):
            self.yfinance_extra -= 1
            return True
        self.yfinance_extra = 0
        return False

    def finish(self) -> None:
        if self.minutes is not None:
            for bucket in self.minutes.buckets():
                self.parsed.candles.append(bucket.candle)
                self.parsed.minutes.append(bucket.minutes)


def _format_of(fmt: str, name: str, sample: list[str], histdata_report: bool) -> str:
    """``--format``, or the detected one; MT rows are HistData's when the file or archive
    name says so, or when the archive holds HistData's status report."""
    detected = detect_format(sample, name) if fmt == "auto" else fmt
    if fmt == "auto" and detected == "metatrader" and (histdata_report or is_histdata_name(name)):
        return "histdata"
    return detected


def parse_csv(
    path: str | Path,
    fmt: str = "auto",
    tz: str | None = None,
    timeframe: Timeframe = Timeframe.M5,
    skip_bad_rows: bool = False,
    now: datetime | None = None,
) -> ParsedCsv:
    """Read ``path`` (a CSV, or a zip holding one) into UTC candles of ``timeframe``.

    ``tz`` is the zone of naive timestamps: None means the format's own clock (HistData's real
    clock for HistData, UTC otherwise). With ``skip_bad_rows`` False the first bad row raises
    its ``CsvFormatError`` (the caller imports nothing); with True every bad row is returned in
    ``errors`` and the good rows in ``candles``. ``now``: rows opening later are bad rows.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise ConfigurationError(f"--format {fmt!r} is not one of auto, {', '.join(FORMATS)}")
    with _open_lines(Path(path)) as (name, stream, histdata_report):
        lines = _decoded(name, stream)
        sample: list[str] = []
        for line in lines:
            sample.append(line)
            if len(sample) >= _SNIFF_LINES:
                break
        detected = _format_of(fmt, name, sample, histdata_report)
        zone: Zone = HistDataClock() if detected == "histdata" and tz is None else resolve_tz(tz)
        parsed = ParsedCsv(candles=[], format=detected, path=name, clock=str(zone))
        reader = _Reader(parsed, detected, zone, timeframe, now)
        number = 0
        for number, line in enumerate(_chain(sample, lines), 1):
            _read_line(reader, line, number, sample, skip_bad_rows)
    if parsed.rows == 0:
        raise CsvFormatError(name, max(number, 1), "no data rows")
    reader.finish()
    return parsed


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def _read_line(reader: _Reader, line: str, number: int, sample: list[str], skip: bool) -> None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return
    if reader.layout is None:
        meaningful = [s.strip() for s in sample[number - 1 :] if s.strip()]
        if reader.start(stripped, meaningful, number):
            return
    if reader.skip_yfinance_header(stripped):
        return
    reader.parsed.rows += 1
    try:
        reader.row(line, number)
    except ValueError as exc:
        error = CsvFormatError(reader.parsed.path, number, str(exc))
        if not skip:
            raise error from None
        reader.parsed.errors.append(error)


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

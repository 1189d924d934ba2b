"""CSV row formats of the importer (SPEC §3.4): recognising a file and reading one row.

Pure and line-oriented: ``detect_format`` looks at the first meaningful lines, ``layout``
returns how to turn the fields of one data row into ``(time, open, high, low, close,
volume)``. The time is naive (wall clock of the file, converted by the caller) unless the
row carries its own offset.

Formats:

* ``histdata``: HistData's ASCII rows ``20240102 170000;142.010;142.020;141.990;142.000;0``
  or its MetaTrader rows ``2024.01.01,17:00,140.843000,...`` (same layout as an MT4 export;
  told apart by the file name, see ``is_histdata_name``), on HistData's real clock
  (``providers.histdata_clock``).
* ``metatrader``: ``2024.01.02,17:00,142.010,142.020,141.990,142.000,123`` (MT4 history
  export) or MT5's ``<DATE>\\t<TIME>\\t<OPEN>...<TICKVOL>\\t<VOL>\\t<SPREAD>`` with a header.
  Times are the broker's *server* time, so pass the server's zone (e.g. ``Europe/Athens``
  for the common EET/EEST servers). Volume is the tick volume (real volume is 0 for FX).
* ``generic``: a header naming a time column (``timestamp``, ``time``, ``datetime``, ``date``
  or an unnamed first column) and ``open,high,low,close[,volume]`` in any order. ISO-8601
  values; a value with an offset (``Z``, ``+00:00``) is taken as is, a naive one is in
  ``tz``. Lines starting with ``#`` are comments (ork.ad files start with one), and the
  two extra header lines of a yfinance export (``Ticker,...`` / ``Datetime,...``) are skipped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchange_analytics.errors import ConfigurationError, CsvFormatError

FORMATS = ("histdata", "metatrader", "generic")
_HISTDATA_ROW = re.compile(r"^\d{8} \d{6};")
_HISTDATA_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2}) (\d{2})(\d{2})(\d{2})$")
_HISTDATA_NAME = re.compile(r"(HISTDATA_COM_|DAT_(MT|ASCII|NT|XLSX)_)", re.IGNORECASE)
_MT_ROW = re.compile(r"^\d{4}[.-]\d{2}[.-]\d{2}[,\t]\d{1,2}:\d{2}(:\d{2})?[,\t]")
_MT_DATE = re.compile(r"^(\d{4})[.-](\d{2})[.-](\d{2})$")
_MT_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
#: A MetaTrader 5 ``copy_rates`` dump puts date and time in one column: ``2025.01.02 00:05:00``.
_MT_STAMP = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_TIME_COLUMNS = ("timestamp", "time", "datetime", "date", "date_time", "open_time")
_VOLUME_COLUMNS = ("volume", "tick_volume", "tickvol", "vol", "real_volume")
_PRICE_COLUMNS = ("open", "high", "low", "close")


def is_histdata_name(name: str) -> bool:
    """HistData's archive (``HISTDATA_COM_MT_USDJPY_M12024.zip``) or CSV
    (``DAT_MT_USDJPY_M1_2024.csv``) names: its MT rows look like any MT4 export."""
    return bool(_HISTDATA_NAME.search(name))


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
        names = {column(n) for n in re.split(r"[,;\t]", text)}
        if set(_PRICE_COLUMNS) <= names:
            return "generic"
        raise CsvFormatError(
            path,
            number,
            f"unrecognised format: {text[:60]!r}; expected HistData (20240102 170000;o;h;l;c;v), "
            "MetaTrader (2024.01.02,17:00,o,h,l,c,v) or a header timestamp,open,high,low,close",
        )
    raise CsvFormatError(path, max(len(first_lines), 1), "file is empty")


def column(name: str) -> str:
    return name.strip().strip('"').strip("<>").strip().lower()


def split_fields(line: str, delimiter: str) -> list[str]:
    if '"' in line:
        return next(csv.reader([line], delimiter=delimiter))
    return line.split(delimiter)


def _number(text: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"bad number in column {column!r}: {text.strip()!r}") from None


class Layout:
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
        dotted = _MT_STAMP.match(text)
        if dotted:
            y, mo, d, h, mi = (int(g) for g in dotted.groups()[:5])
            return datetime(y, mo, d, h, mi, int(dotted[6] or 0))  # noqa: DTZ001 - zone by caller
        return datetime.fromisoformat(text)

    return stamp


def _indices(names: list[str], wanted: Sequence[str]) -> tuple[int, int, int, int]:
    o, h, low, c = (names.index(n) for n in wanted)
    return o, h, low, c


def layout(fmt: str, header: str | None, sample: str, path: str, line: int) -> Layout:
    """The row layout of ``fmt``, from its header line when it has one."""
    if fmt == "histdata" and _HISTDATA_ROW.match(sample):
        return Layout(";", (0,), _histdata_stamp, (1, 2, 3, 4), 5)
    if fmt in ("metatrader", "histdata"):
        delimiter = "\t" if "\t" in (header or sample) else ","
        if header is None:
            return Layout(delimiter, (0, 1), _mt_stamp(0, 1), (2, 3, 4, 5), 6)
        names = [column(n) for n in split_fields(header, delimiter)]
        missing = [n for n in ("date", "time", *_PRICE_COLUMNS) if n not in names]
        if missing:
            raise CsvFormatError(path, line, f"MetaTrader header lacks {', '.join(missing)}")
        vol = next((names.index(n) for n in ("tickvol", "vol", "volume") if n in names), None)
        date_i, time_i = names.index("date"), names.index("time")
        return Layout(
            delimiter,
            (date_i, time_i),
            _mt_stamp(date_i, time_i),
            _indices(names, _PRICE_COLUMNS),
            vol,
        )
    if header is None:
        raise CsvFormatError(path, line, "generic CSV needs a header line")
    delimiter = max((",", ";", "\t"), key=header.count)
    names = [column(n) for n in split_fields(header, delimiter)]
    missing = [n for n in _PRICE_COLUMNS if n not in names]
    stamp_i = next((names.index(n) for n in _TIME_COLUMNS if n in names), None)
    if stamp_i is None and names and names[0] in ("", "price", "index"):
        stamp_i = 0  # pandas' unnamed index column, or yfinance's "Price" header
    if missing or stamp_i is None:
        lacking = [*missing, *(["a time column"] if stamp_i is None else [])]
        raise CsvFormatError(path, line, f"header lacks {', '.join(lacking)}")
    volume = next((names.index(n) for n in _VOLUME_COLUMNS if n in names), None)
    return Layout(
        delimiter, (stamp_i,), _iso_stamp(stamp_i), _indices(names, _PRICE_COLUMNS), volume
    )

"""The one text-table renderer and the one JSON renderer (a shared leaf, standard library only).

Every table a person reads (the operations reports, the health check, the cycle summary, the
API check) goes through :func:`table`, and every ``--json`` through :func:`to_json`, so both
views of a report come from the same data and look alike everywhere. The health command
imports this module, so it must stay free of anything heavier than the standard library.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

Align = Literal["auto", "left", "right"]


@runtime_checkable
class _Moment(Protocol):
    """Anything that formats itself as a time (datetime, date, pandas Timestamp)."""

    def strftime(self, fmt: str, /) -> str: ...


@dataclass(frozen=True, slots=True)
class Column:
    """How one column is laid out.

    ``align="auto"`` right-aligns a column whose values are all numbers (or None).
    ``min_width`` keeps fixed-width layouts (the cycle summary) stable for short values.
    ``wrap`` (last column only) wraps long text at that many characters, continuing under the
    column; such a column is not padded and its rule is as long as its header.
    """

    header: str
    align: Align = "auto"
    min_width: int = 0
    wrap: int | None = None


def cell(value: object) -> str:
    """How a value reads in a table: None as '-', numbers grouped, times to the minute."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, _Moment):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return str(value)


def table(
    rows: Sequence[Sequence[object]],
    columns: Sequence[str | Column],
    *,
    indent: str = "",
    gap: str = "  ",
    header: bool = True,
    rule: bool = True,
) -> str:
    """An aligned plain-text table; trailing spaces are stripped from every line."""
    specs = [c if isinstance(c, Column) else Column(c) for c in columns]
    if specs and any(s.wrap is not None for s in specs[:-1]):
        raise ValueError("only the last column may wrap")
    cells = [[cell(v) for v in row] for row in rows]
    right = [_is_right(spec, [row[i] for row in rows]) for i, spec in enumerate(specs)]
    widths = [
        max([s.min_width, len(s.header) if header else 0, *(len(r[i]) for r in cells)])
        for i, s in enumerate(specs)
    ]
    wrap = specs[-1].wrap if specs else None
    lead = len(gap) * (len(specs) - 1) + sum(widths[:-1])

    def line(values: Sequence[str]) -> str:
        parts = []
        for i, value in enumerate(values):
            if wrap is not None and i == len(values) - 1:
                parts.append(value)
            else:
                parts.append(value.rjust(widths[i]) if right[i] else value.ljust(widths[i]))
        return (indent + gap.join(parts)).rstrip()

    out = []
    if header:
        out.append(line([s.header for s in specs]))
    if header and rule:
        rules = ["-" * w for w in widths]
        if wrap is not None:
            rules[-1] = "-" * len(specs[-1].header)
        out.append(line(rules))
    for row in cells:
        if wrap is None:
            out.append(line(row))
            continue
        chunks = wrap_words(row[-1], wrap)
        out.append(line([*row[:-1], chunks[0]]))
        out.extend((indent + " " * lead + chunk).rstrip() for chunk in chunks[1:])
    return "\n".join(out)


def _is_right(spec: Column, values: Sequence[object]) -> bool:
    if spec.align != "auto":
        return spec.align == "right"
    return bool(values) and all(isinstance(v, int | float) or v is None for v in values)


def wrap_words(text: str, width: int) -> list[str]:
    """Split on spaces into lines of at most ``width`` (a longer word gets a line of its own)."""
    out: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return out


def human_bytes(size: float | None) -> str:
    """1536 -> '1.5 kB' (binary steps, as du -h); None -> '-'."""
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def to_json(data: object) -> str:
    """The ``--json`` rendering: indented, datetimes and other objects as ``str`` (so it
    takes any value: a JSON document, a TypedDict of one, or a plain list)."""
    return json.dumps(data, indent=2, default=str)

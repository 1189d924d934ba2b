"""Rows as TypedDicts: the one place a SQLAlchemy mapping becomes a typed row dict.

A query that returns rows to code outside ``storage/`` selects exactly the keys of a
``TypedDict`` (``columns_of`` builds the column list from them, or the query labels its columns
with them), so every key the type promises is in the row, and each value has the type of the
model column it comes from (``models.py``'s ``Mapped[...]``). The conversion below is therefore
proven by the query, not assumed: that is why it may tell the checker so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar, cast

from sqlalchemy import ColumnElement, FromClause, RowMapping

#: A TypedDict (every TypedDict is a ``Mapping[str, object]``).
RowT = TypeVar("RowT", bound=Mapping[str, object])


def columns_of(table: FromClause, kind: type[Mapping[str, object]]) -> list[ColumnElement[object]]:
    """The columns of ``table`` named by the keys of the TypedDict ``kind``, in its order."""
    return [table.c[name] for name in kind.__annotations__]


def typed_row(row: RowMapping, kind: type[RowT]) -> RowT:
    """``row`` as a plain dict typed ``kind`` (the query selected exactly ``kind``'s keys)."""
    return cast(RowT, dict(row))


def typed_rows(rows: Iterable[RowMapping], kind: type[RowT]) -> list[RowT]:
    """Every row of ``rows`` as ``typed_row`` makes it."""
    return [typed_row(row, kind) for row in rows]

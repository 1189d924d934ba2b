"""The TypedDicts storage returns rows as match the columns their queries select.

``storage.typed_rows`` turns a row mapping into a TypedDict on the strength of the query
selecting exactly that TypedDict's keys; these tests keep that claim true: every key is a
column of the table, its Python type is what the column's type returns, and ``None`` is
allowed exactly where the column is nullable.
"""

from __future__ import annotations

import types
import typing

import pytest
from sqlalchemy import Column, ColumnElement, Label, Table, TypeDecorator

from exchange_analytics import jsontypes
from exchange_analytics.storage import models
from exchange_analytics.storage.alert_state import AlertStateRow
from exchange_analytics.storage.dashboard_rows import (
    ActiveAlertRow,
    DetectionRow,
    OpenNotificationRow,
    RunRow,
)
from exchange_analytics.storage.initialization import InitializationState
from exchange_analytics.storage.outbox_queries import OutboxMessage
from exchange_analytics.storage.signal_delivery import _SIGNAL_COLUMNS, DeliveredSignal
from exchange_analytics.storage.track_records import TrackRecord

CASES = [
    (models.PatternDetection, DetectionRow),
    (models.ProcessingRun, RunRow),
    (models.Notification, OpenNotificationRow),
    (models.Notification, OutboxMessage),
    (models.AlertState, ActiveAlertRow),
    (models.AlertState, AlertStateRow),
    (models.PatternTrackRecord, TrackRecord),
    (models.PairInitialization, InitializationState),
]


def _split(hint: object) -> tuple[type, bool]:
    """(the Python class a TypedDict value hint names, whether it allows None)."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    (base,) = [a for a in args if a is not type(None)]
    origin = typing.get_origin(base) or base
    assert isinstance(origin, type)
    return origin, type(None) in args


def _python_type(column: ColumnElement[object]) -> type:
    """What the driver hands back for ``column`` (a TypeDecorator's is its implementation's)."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    python_type: type = kind.python_type
    return python_type


@pytest.mark.parametrize(
    ("model", "kind"), CASES, ids=[f"{m.__tablename__}-{k.__name__}" for m, k in CASES]
)
def test_keys_are_columns_with_their_type_and_nullability(model: type, kind: type) -> None:
    table = model.__table__
    assert isinstance(table, Table)
    for name, hint in typing.get_type_hints(kind, localns=vars(jsontypes)).items():
        assert name in table.c, f"{kind.__name__}.{name} is no column of {table.name}"
        python_type, optional = _split(hint)
        assert python_type is _python_type(table.c[name]), name
        assert optional == bool(table.c[name].nullable), name


def test_delivered_signal_keys_are_the_labelled_columns() -> None:
    hints = typing.get_type_hints(DeliveredSignal, localns=vars(jsontypes))
    assert [c.name for c in _SIGNAL_COLUMNS] == list(hints)
    for column in _SIGNAL_COLUMNS:
        source = column.element if isinstance(column, Label) else column
        assert isinstance(source, Column)
        python_type, optional = _split(hints[column.name])
        assert python_type is _python_type(source), column.name
        assert optional == bool(source.nullable), column.name

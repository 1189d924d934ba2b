"""The schema (SPEC §4.2). Table and column names are a contract read by outside tools.

Timestamps are stored timezone-aware on PostgreSQL (timestamptz) and as UTC text on SQLite;
``UTCDateTime`` makes both come back as aware UTC datetimes.

Indexes: the unique constraints (currency_pair, timeframe, timestamp[, indicator_type]) are
composite B-trees whose leading columns serve "last N bars of pair x timeframe" and replace the
operations manual's single-column indexes on currency_pair, timeframe and indicator_type.
``created_at``/``timestamp`` indexes serve the retention deletes ("rows older than T").

The tables are SQLAlchemy Core ``Table`` objects in ``metadata``: every query is Core, nothing
builds ORM objects, and declaring them through the ORM's declarative mapping cost every cron
process tens of milliseconds of start-up (issue 17). Each class below names one table: its
columns are class attributes (``PriceData.timestamp``), ``PriceData.__table__`` is the
``Table``, and ``insert(PriceData)`` or ``select(...).select_from(PriceData)`` take the class as
they took the mapped class. Migrations stay the only way the schema changes; this module must
describe exactly what they build (``alembic`` compares the two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    FromClause,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.schema import SchemaItem
from sqlalchemy.types import TypeDecorator, TypeEngine

from exchange_analytics.jsontypes import JSONValue


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite drops tzinfo, so it is re-attached)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} reached the database; use UTC-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONDocument(TypeDecorator[JSONValue]):
    """``JSON``, and ``JSONB`` on PostgreSQL: what ``JSON().with_variant(JSONB(), ...)`` was,
    without importing SQLAlchemy's PostgreSQL dialect into processes that run on SQLite.

    Values bind and load through the engine's own JSON/JSONB type (nothing of its own), and
    Python ``None`` is stored as JSON ``null``, as ``JSON()`` stores it.
    """

    impl = JSON
    cache_ok = True
    should_evaluate_none = True  # as JSON(none_as_null=False): None is the JSON value null
    hashable = False  # as JSON: dicts are not hashable

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[JSONValue]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONType = JSONDocument()
# SQLite only auto-increments INTEGER PRIMARY KEY, so BigInteger becomes Integer there.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")

#: Every table; alembic's ``env.py`` compares it with the database.
metadata = MetaData()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base:
    """One table: its ``Column`` class attributes become the columns of ``__table__`` (named
    after the attributes, in their order), with ``__table_args__`` (constraints, indexes)."""

    metadata: ClassVar[MetaData] = metadata
    __tablename__: ClassVar[str]
    __table_args__: ClassVar[tuple[SchemaItem, ...]] = ()
    __table__: ClassVar[Table]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        columns: list[Column[object]] = []
        for attribute, value in vars(cls).items():
            if isinstance(value, Column):
                value.name = value.key = attribute
                columns.append(value)
        cls.__table__ = Table(cls.__tablename__, metadata, *columns, *cls.__table_args__)

    @classmethod
    def __clause_element__(cls) -> FromClause:
        """``insert(PriceData)``, ``select_from(PriceData)``: the class stands for its table."""
        return cls.__table__


#: Forming buckets, read every cycle (migration 0002): a partial index on both engines. Its
#: PostgreSQL condition is added by ``schema_metadata``: declaring a ``postgresql_*`` option
#: makes SQLAlchemy import its whole PostgreSQL dialect (~50 ms of every cron process on
#: SQLite), and only DDL and alembic's comparison ever read the option.
FORMING_INDEX = Index(
    "ix_price_data_forming", "currency_pair", "timeframe", sqlite_where=text("is_complete = 0")
)


def schema_metadata() -> MetaData:
    """``metadata`` with every engine's index options: what the migrations build (alembic's
    ``env.py`` compares this with the database; DDL compiled from it matches the migrations)."""
    FORMING_INDEX.dialect_kwargs["postgresql_where"] = text("NOT is_complete")
    return metadata


class PriceData(Base):
    __tablename__ = "price_data"
    __table_args__ = (
        UniqueConstraint("currency_pair", "timeframe", "timestamp", name="uq_price_data_bar"),
        FORMING_INDEX,
    )

    id = Column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair = Column(String(16), nullable=False)
    timeframe = Column(String(4), nullable=False)
    timestamp = Column(UTCDateTime, nullable=False)
    open = Column(Float(53), nullable=False)
    high = Column(Float(53), nullable=False)
    low = Column(Float(53), nullable=False)
    close = Column(Float(53), nullable=False)
    volume = Column(Float(53), nullable=False, default=0.0)
    source = Column(String(32), nullable=False)
    bar_count = Column(Integer, nullable=True)
    is_complete = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class TechnicalIndicator(Base):
    __tablename__ = "technical_indicators"
    __table_args__ = (
        UniqueConstraint(
            "currency_pair",
            "timeframe",
            "timestamp",
            "indicator_type",
            name="uq_technical_indicators_row",
        ),
        Index("ix_technical_indicators_type_ts", "indicator_type", "timestamp"),
    )

    id = Column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair = Column(String(16), nullable=False)
    timeframe = Column(String(4), nullable=False)
    timestamp = Column(UTCDateTime, nullable=False)
    indicator_type = Column(String(32), nullable=False)
    value = Column(Float(53), nullable=False)
    additional_data: Column[JSONValue] = Column(JSONType, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class PatternDetection(Base):
    __tablename__ = "pattern_detections"
    __table_args__ = (
        UniqueConstraint(
            "currency_pair",
            "pattern_type",
            "direction",
            "bar_timestamp",
            name="uq_pattern_detections_bar",
        ),
        Index("ix_pattern_detections_detected_at", "detected_at"),
        Index("ix_pattern_detections_pair_bar", "currency_pair", "bar_timestamp"),
    )

    id = Column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair = Column(String(16), nullable=False)
    pattern_type = Column(String(32), nullable=False)
    direction = Column(String(8), nullable=False)
    bar_timestamp = Column(UTCDateTime, nullable=False)
    detected_at = Column(UTCDateTime, nullable=False, default=utcnow)
    confidence_score = Column(Float(53), nullable=False)
    priority = Column(String(16), nullable=False)
    entry_price = Column(Float(53), nullable=True)
    take_profit = Column(Float(53), nullable=True)
    stop_loss = Column(Float(53), nullable=True)
    detection_data: Column[JSONValue] = Column(JSONType, nullable=False)
    #: 'new' (notified), 'repeat' (also present at the previous 5m bar), 'cooldown'.
    notify_decision = Column(String(16), nullable=True)
    source = Column(String(32), nullable=True)


class Notification(Base):
    """The outbox (SPEC §8): written in the same transaction as what it announces."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        Index("ix_notifications_created_at", "created_at"),
        # "Has this notified signal had its follow-up yet?" (migration 0003).
        Index("ix_notifications_detection_kind", "pattern_detection_id", "kind"),
    )

    id = Column(BigIntPK, primary_key=True, autoincrement=True)
    kind = Column(String(16), nullable=False)
    channel = Column(String(16), nullable=False)
    dedupe_key = Column(String(200), nullable=False, unique=True)
    payload: Column[JSONValue] = Column(JSONType, nullable=False)
    #: 'pending', 'sending' (claimed; see notifications.outbox), 'sent', 'failed', 'suppressed'
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=True)
    last_error = Column(Text, nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime, nullable=True)
    claimed_at = Column(UTCDateTime, nullable=True)
    claimed_by = Column(String(128), nullable=True)
    discord_message_id = Column(String(32), nullable=True)
    pattern_detection_id = Column(BigInteger, nullable=True)


class ProcessingRun(Base):
    __tablename__ = "processing_runs"
    __table_args__ = (Index("ix_processing_runs_started_at", "started_at"),)

    id = Column(BigIntPK, primary_key=True, autoincrement=True)
    mode = Column(String(32), nullable=False)
    started_at = Column(UTCDateTime, nullable=False)
    finished_at = Column(UTCDateTime, nullable=True)
    #: 'running', 'success', 'partial', 'error', 'skipped', 'timeout', 'interrupted'
    status = Column(String(16), nullable=False)
    processing_time = Column(Float(53), nullable=True)
    stage_timings: Column[JSONValue] = Column(JSONType, nullable=True)
    rows_fetched = Column(Integer, nullable=False, default=0)
    bars_aggregated = Column(Integer, nullable=False, default=0)
    indicator_rows_written = Column(Integer, nullable=False, default=0)
    patterns_detected = Column(Integer, nullable=False, default=0)
    notifications_sent = Column(Integer, nullable=False, default=0)
    error_count = Column(Integer, nullable=False, default=0)
    error_message = Column(Text, nullable=True)
    details: Column[JSONValue] = Column(JSONType, nullable=True)
    as_of = Column(UTCDateTime, nullable=True)
    provider = Column(String(32), nullable=True)
    host = Column(String(255), nullable=False)
    pid = Column(Integer, nullable=False)


class PairInitialization(Base):
    """Initialization state per pair (SPEC §4.3).

    ``status`` is 'in_progress' while a backfill runs and 'complete' once every timeframe is
    filled; ``progress`` records per timeframe how far the backfill got, so an interrupted one
    resumes instead of starting over.
    """

    __tablename__ = "pair_initialization"

    currency_pair = Column(String(16), primary_key=True)
    status = Column(String(16), nullable=False)
    provider = Column(String(32), nullable=False)
    started_at = Column(UTCDateTime, nullable=False)
    completed_at = Column(UTCDateTime, nullable=True)
    progress: Column[JSONValue] = Column(JSONType, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class AlertState(Base):
    """One row per alert condition, so repeats are throttled and a 'resolved' can follow."""

    __tablename__ = "alert_state"

    alert_key = Column(String(100), primary_key=True)
    severity = Column(String(16), nullable=False)
    active = Column(Boolean, nullable=False)
    first_raised_at = Column(UTCDateTime, nullable=False)
    last_notified_at = Column(UTCDateTime, nullable=True)
    resolved_at = Column(UTCDateTime, nullable=True)
    message = Column(Text, nullable=False)


class PatternTrackRecord(Base):
    """The §16 evaluation of one pair, pattern and direction over a trailing window (SPEC §17).

    Written at most daily by ``patterns evaluate --store``; read when a pattern message is built,
    so the figures are never recomputed per message. Float columns are null when undefined (no
    resolved signal, no baseline).
    """

    __tablename__ = "pattern_track_records"
    __table_args__ = (
        UniqueConstraint(
            "currency_pair",
            "pattern_type",
            "direction",
            "window_days",
            name="uq_pattern_track_records_key",
        ),
    )

    id = Column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair = Column(String(16), nullable=False)
    pattern_type = Column(String(32), nullable=False)
    direction = Column(String(8), nullable=False)
    window_days = Column(Integer, nullable=False)
    period_from = Column(UTCDateTime, nullable=False)
    period_to = Column(UTCDateTime, nullable=False)
    computed_at = Column(UTCDateTime, nullable=False, default=utcnow)
    signals = Column(Integer, nullable=False, default=0)
    take_profit = Column(Integer, nullable=False, default=0)
    stop_loss = Column(Integer, nullable=False, default=0)
    ambiguous = Column(Integer, nullable=False, default=0)
    open = Column(Integer, nullable=False, default=0)
    hit_rate = Column(Float(53), nullable=True)
    hit_rate_low = Column(Float(53), nullable=True)
    hit_rate_high = Column(Float(53), nullable=True)
    expectancy_r = Column(Float(53), nullable=True)
    baseline_entries = Column(Integer, nullable=True)
    baseline_hit_rate = Column(Float(53), nullable=True)
    baseline_expectancy_r = Column(Float(53), nullable=True)
    edge = Column(Float(53), nullable=True)
    edge_low = Column(Float(53), nullable=True)
    edge_high = Column(Float(53), nullable=True)
    details: Column[JSONValue] = Column(JSONType, nullable=True)

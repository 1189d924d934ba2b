"""The schema (SPEC §4.2). Table and column names are a contract read by outside tools.

Timestamps are stored timezone-aware on PostgreSQL (timestamptz) and as UTC text on SQLite;
``UTCDateTime`` makes both come back as aware UTC datetimes.

Indexes: the unique constraints (currency_pair, timeframe, timestamp[, indicator_type]) are
composite B-trees whose leading columns serve "last N bars of pair x timeframe" and replace the
operations manual's single-column indexes on currency_pair, timeframe and indicator_type.
``created_at``/``timestamp`` indexes serve the retention deletes ("rows older than T").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


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


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY, so BigInteger becomes Integer there.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class PriceData(Base):
    __tablename__ = "price_data"
    __table_args__ = (
        UniqueConstraint("currency_pair", "timeframe", "timestamp", name="uq_price_data_bar"),
        # Forming buckets, read every cycle (migration 0002).
        Index(
            "ix_price_data_forming",
            "currency_pair",
            "timeframe",
            postgresql_where=text("NOT is_complete"),
            sqlite_where=text("is_complete = 0"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair: Mapped[str] = mapped_column(String(16), nullable=False)
    timeframe: Mapped[str] = mapped_column(String(4), nullable=False)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    open: Mapped[float] = mapped_column(Float(53), nullable=False)
    high: Mapped[float] = mapped_column(Float(53), nullable=False)
    low: Mapped[float] = mapped_column(Float(53), nullable=False)
    close: Mapped[float] = mapped_column(Float(53), nullable=False)
    volume: Mapped[float] = mapped_column(Float(53), nullable=False, default=0.0)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    bar_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_complete: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


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

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair: Mapped[str] = mapped_column(String(16), nullable=False)
    timeframe: Mapped[str] = mapped_column(String(4), nullable=False)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    indicator_type: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[float] = mapped_column(Float(53), nullable=False)
    additional_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


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

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair: Mapped[str] = mapped_column(String(16), nullable=False)
    pattern_type: Mapped[str] = mapped_column(String(32), nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    bar_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    confidence_score: Mapped[float] = mapped_column(Float(53), nullable=False)
    priority: Mapped[str] = mapped_column(String(16), nullable=False)
    entry_price: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    take_profit: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    stop_loss: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    detection_data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    #: 'new' (notified), 'repeat' (also present at the previous 5m bar), 'cooldown'.
    notify_decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    source: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Notification(Base):
    """The outbox (SPEC §8): written in the same transaction as what it announces."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        Index("ix_notifications_created_at", "created_at"),
        # "Has this notified signal had its follow-up yet?" (migration 0003).
        Index("ix_notifications_detection_kind", "pattern_detection_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    dedupe_key: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    #: 'pending', 'sending' (claimed; see notifications.outbox), 'sent', 'failed', 'suppressed'
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    discord_message_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    pattern_detection_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ProcessingRun(Base):
    __tablename__ = "processing_runs"
    __table_args__ = (Index("ix_processing_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(32), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: 'running', 'success', 'partial', 'error', 'skipped', 'timeout', 'interrupted'
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    processing_time: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    stage_timings: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    rows_fetched: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    bars_aggregated: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    indicator_rows_written: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    patterns_detected: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    notifications_sent: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    as_of: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    provider: Mapped[str | None] = mapped_column(String(32), nullable=True)
    host: Mapped[str] = mapped_column(String(255), nullable=False)
    pid: Mapped[int] = mapped_column(Integer, nullable=False)


class PairInitialization(Base):
    """Initialization state per pair (SPEC §4.3).

    ``status`` is 'in_progress' while a backfill runs and 'complete' once every timeframe is
    filled; ``progress`` records per timeframe how far the backfill got, so an interrupted one
    resumes instead of starting over.
    """

    __tablename__ = "pair_initialization"

    currency_pair: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class AlertState(Base):
    """One row per alert condition, so repeats are throttled and a 'resolved' can follow."""

    __tablename__ = "alert_state"

    alert_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False)
    first_raised_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message: Mapped[str] = mapped_column(Text, nullable=False)


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

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    currency_pair: Mapped[str] = mapped_column(String(16), nullable=False)
    pattern_type: Mapped[str] = mapped_column(String(32), nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    window_days: Mapped[int] = mapped_column(Integer, nullable=False)
    period_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    period_to: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    signals: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    take_profit: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    stop_loss: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    ambiguous: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    open: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hit_rate: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    hit_rate_low: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    hit_rate_high: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    expectancy_r: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    baseline_entries: Mapped[int | None] = mapped_column(Integer, nullable=True)
    baseline_hit_rate: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    baseline_expectancy_r: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    edge: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    edge_low: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    edge_high: Mapped[float | None] = mapped_column(Float(53), nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)

"""The rows ``dashboard_queries`` returns to ``web/``: one TypedDict (or tuple) per question.

Each TypedDict's keys are the columns its query selects (``typed_rows.columns_of``), each value
typed as the model column it comes from. ``web.shaping`` turns them into the JSON documents the
pages and the API send.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from exchange_analytics.jsontypes import JSONObject

#: (open time, open, high, low, close, complete) of one bar, as the chart draws it.
CandleRow = tuple[datetime, float, float, float, float, bool]
#: (time, indicator type, value, additional_data) of one BB/RSI/MACD row.
IndicatorRow = tuple[datetime, str, float, JSONObject | None]
#: (time, high, low) of one 5m bar after a signal.
HighLowRow = tuple[datetime, float, float]


class PairLastBar(TypedDict):
    """The newest 5m bar of a pair and its initialization status (None: never initialized)."""

    last_bar: datetime | None
    last_close: float | None
    initialization: str | None


class DetectionRow(TypedDict):
    """One stored pattern detection, as the signals table and the chart tooltip read it."""

    id: int
    pattern_type: str
    direction: str
    bar_timestamp: datetime
    detected_at: datetime
    confidence_score: float
    priority: str
    entry_price: float | None
    take_profit: float | None
    stop_loss: float | None
    notify_decision: str | None
    #: The JSON column the engine wrote (conditions per timeframe): shown as it is.
    detection_data: JSONObject
    source: str | None


class RunRow(TypedDict):
    """One processing run, without ``details`` (it can be large)."""

    id: int
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    processing_time: float | None
    rows_fetched: int
    patterns_detected: int
    notifications_sent: int
    error_count: int
    error_message: str | None
    provider: str | None
    host: str


class OpenNotificationRow(TypedDict):
    """One unsent outbox message, without its payload (the payload is the message)."""

    id: int
    kind: str
    channel: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_error: str | None


class ActiveAlertRow(TypedDict):
    """One alert currently raised."""

    alert_key: str
    severity: str
    first_raised_at: datetime
    last_notified_at: datetime | None
    message: str


class TrackRecordRow(TypedDict):
    """The §16 record's columns the patterns page shows (migration 0003), in its column order.

    Float figures are null when undefined (no resolved signal, no baseline).
    """

    currency_pair: str
    pattern_type: str
    direction: str
    window_days: int
    period_from: datetime
    period_to: datetime
    computed_at: datetime
    signals: int
    take_profit: int
    stop_loss: int
    ambiguous: int
    open: int
    hit_rate: float | None
    hit_rate_low: float | None
    hit_rate_high: float | None
    expectancy_r: float | None
    baseline_entries: int | None
    baseline_hit_rate: float | None
    baseline_expectancy_r: float | None
    edge: float | None
    edge_low: float | None
    edge_high: float | None

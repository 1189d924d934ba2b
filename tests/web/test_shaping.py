"""The dashboard's pure shaping: typed rows in, JSON documents out (no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from exchange_analytics.storage.dashboard_rows import DetectionRow, RunRow
from exchange_analytics.web import shaping
from exchange_analytics.web.data import OUTCOME_CLUSTER, _clusters, _signals

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def _run(run_id: int, status: str, seconds: float | None) -> RunRow:
    return RunRow(
        id=run_id,
        mode="system_cycle",
        status=status,
        started_at=T0,
        finished_at=None,
        processing_time=seconds,
        rows_fetched=0,
        patterns_detected=0,
        notifications_sent=0,
        error_count=0,
        error_message=None,
        provider="demo",
        host="here",
    )


def _detection(
    detection_id: int, at: datetime, decision: str | None = "new", levels: bool = True
) -> DetectionRow:
    return DetectionRow(
        id=detection_id,
        pattern_type="composite_signal",
        direction="BUY",
        bar_timestamp=at,
        detected_at=at,
        confidence_score=0.8,
        priority="high",
        entry_price=150.0,
        take_profit=151.0 if levels else None,
        stop_loss=149.0 if levels else None,
        notify_decision=decision,
        detection_data={},
        source="cycle",
    )


def test_sparkline_draws_one_bar_per_run_with_its_status() -> None:
    bars = shaping.sparkline([_run(1, "success", 2.0), _run(2, "failed", None)])
    assert [b["status"] for b in bars] == ["success", "failed"]
    assert bars[0]["label"] == "run 1: success, 2.00 s"
    assert bars[1]["h"] == 1.0  # a run without a time still shows as a slim bar
    assert shaping.sparkline([]) == []


def test_conditions_keep_only_well_formed_blocks() -> None:
    data = {
        "timeframes": {
            "1h": {"met": True, "checks": [{"condition": "rsi", "met": True, "values": {}}, 3]},
            "4h": "not a block",
        }
    }
    assert shaping.conditions(data) == {
        "1h": {
            "met": True,
            "reason": None,
            "checks": [{"condition": "rsi", "met": True, "values": {}}],
        }
    }
    assert shaping.conditions(None) == {}


def test_outcomes_are_computed_for_notified_signals_with_both_levels_only() -> None:
    rows = [
        _detection(1, T0 + timedelta(hours=2)),
        _detection(2, T0, decision="duplicate"),
        _detection(3, T0, levels=False),
        _detection(4, T0),
    ]
    assert [s.id for s in _signals(rows)] == [4, 1]  # by bar time


def test_signals_share_a_read_while_within_the_cluster_span_of_the_first() -> None:
    at = [T0, T0 + OUTCOME_CLUSTER, T0 + OUTCOME_CLUSTER + timedelta(minutes=5)]
    signals = _signals([_detection(i, moment) for i, moment in enumerate(at)])
    assert [[s.id for s in group] for group in _clusters(signals)] == [[0, 1], [2]]

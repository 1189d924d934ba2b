"""``patterns evaluate`` on real USD/CHF bars in real SQLite and PostgreSQL databases.

The key promise: ``signals`` is exactly what ``replay`` over the same range would have
notified (same bars, same pattern and direction), so the evaluated figures describe the
messages users actually get.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pandas as pd
import pytest

from exchange_analytics.evaluation.evaluate import decide, detect, evaluate_range
from exchange_analytics.evaluation.track_record import track_record
from exchange_analytics.indicators import TRAILING_WINDOW
from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS
from exchange_analytics.pipeline.replay import replay
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.evaluation_queries import read_evaluation_bars
from tests.support.evaluation_data import PAIR, env_for, import_chf

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 13, 21, 0, tzinfo=UTC)
COOLDOWN = 60


async def _inputs(engine, start=START, end=END, horizon=1440):
    from exchange_analytics.evaluation.evaluate import RangeInputs

    count, m5, higher = await read_evaluation_bars(
        engine, PAIR, start, end, horizon, trailing=TRAILING_WINDOW
    )
    assert count > 0
    return RangeInputs(PAIR, m5, higher, pd.Timestamp(start), pd.Timestamp(end), "new_york")


@pytest.mark.timeout(900)
async def test_signals_equal_what_replay_notifies(db_url, make_settings, tmp_path):
    import_chf(db_url, tmp_path)
    settings = make_settings(db_url, **env_for(db_url, tmp_path))
    engine = build_engine(settings)
    try:
        inputs = await _inputs(engine)
        decided = decide(inputs, detect(inputs, DEFAULT_THRESHOLDS), COOLDOWN)
        replayed = await replay(
            engine,
            pair=PAIR,
            start=START,
            end=END,
            day_boundary="new_york",
            thresholds=DEFAULT_THRESHOLDS,
            cooldown_minutes=COOLDOWN,
            notify=False,
            is_demo=False,
        )
    finally:
        await engine.dispose()
    notified = sorted(
        (pd.Timestamp(m["bar_timestamp"]), m["pattern_type"], m["direction"])
        for m in replayed.messages
    )
    signals = sorted((s.bar, s.pattern, s.direction) for s in decided.signals)
    assert len(signals) > 10, "the range must hold signals for the comparison to mean anything"
    assert signals == notified
    assert {f"{p} {d}": n for (p, d), n in decided.detections.items()} == replayed.counts


async def test_evaluate_rows_are_consistent_on_real_bars(sqlite_url, make_settings, tmp_path):
    import_chf(sqlite_url, tmp_path)
    settings = make_settings(sqlite_url, **env_for(sqlite_url, tmp_path))
    engine = build_engine(settings)
    try:
        inputs = await _inputs(engine)
    finally:
        await engine.dispose()
    rows = evaluate_range(inputs, DEFAULT_THRESHOLDS, cooldown_minutes=COOLDOWN)
    assert [(r["pattern"], r["direction"]) for r in rows][:2] == [
        ("trend_reversal", "SELL"),
        ("trend_reversal", "BUY"),
    ]
    traded = [r for r in rows if "move_after" not in r]
    assert {r["pattern"] for r in rows if "move_after" in r} == {"divergence", "rsi_battle"}
    busy = [r for r in traded if r["signals"]]
    assert busy, "composite_signal fires on this range"
    for row in busy:
        outcomes = row["take_profit"] + row["stop_loss"] + row["ambiguous"] + row["open"]
        assert outcomes == row["signals"] <= row["detections"]
        decided = row["take_profit"] + row["stop_loss"]
        if decided:
            assert row["hit_rate"] == pytest.approx(row["take_profit"] / decided)
            low, high = row["hit_rate_ci"]
            assert low <= row["hit_rate"] <= high
            assert row["edge"] == pytest.approx(row["hit_rate"] - row["baseline"]["hit_rate"])
    for row in traded:
        assert row["baseline"]["entries"] == inputs.last - inputs.first + 1
    # The same evaluation is the track record the notifications quote.
    records = track_record(
        inputs,
        DEFAULT_THRESHOLDS,
        window_days=12,
        computed_at=datetime(2026, 3, 14, tzinfo=UTC),
        cooldown_minutes=COOLDOWN,
    )
    assert [(r["pattern_type"], r["direction"], r["signals"]) for r in records] == [
        (r["pattern"], r["direction"], r["signals"]) for r in rows
    ]
    counts = Counter(r["currency_pair"] for r in records)
    assert counts == {PAIR: len(rows)}

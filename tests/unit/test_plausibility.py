"""Plausibility (SPEC §3.5), HistData's real clock and 1-minute aggregation (§3.4), the stuck
feed rule and the Prometheus textfile: pure code, real data where there is some."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exchange_analytics.config.settings import load_settings
from exchange_analytics.domain import Candle, Timeframe
from exchange_analytics.errors import ConfigurationError, CsvFormatError
from exchange_analytics.health.feed_watch import STUCK_RUNS, FeedState, is_trading, observe
from exchange_analytics.providers.csv_import import parse_csv
from exchange_analytics.providers.histdata_clock import HistDataClock, summer_time_bounds
from exchange_analytics.providers.minute_bars import MinuteAggregator
from exchange_analytics.providers.plausibility import (
    FUTURE_BAR,
    WRONG_SCALE,
    hold_back_jumps,
    level_reason,
)
from exchange_analytics.providers.validation import validate_candles
from exchange_analytics.reports.prometheus import PairFigures, RunFigures, build_registry
from tests.support.fake_yahoo import DATA_DIR

HISTDATA = DATA_DIR / "histdata"
ASCII_USDJPY = HISTDATA / "HISTDATA_COM_ASCII_USDJPY_M1202401.zip"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def bar(t: datetime, close: float) -> Candle:
    return Candle(t, close, close, close, close, 0.0)


# --- future bars --------------------------------------------------------------------------


def test_a_future_bar_from_a_provider_is_rejected_with_its_reason() -> None:
    end = utc(2026, 3, 2, 12, 0)
    batch = [bar(utc(2026, 3, 2, 11, 50), 150.0), bar(utc(2099, 1, 5, 10, 0), 150.1)]
    kept, rejected = validate_candles(batch, Timeframe.M5, end)
    assert [c.timestamp for c in kept] == [utc(2026, 3, 2, 11, 50)]
    assert len(rejected) == 1 and rejected[0].reason.startswith(FUTURE_BAR)


def test_the_forming_bar_is_still_dropped_not_rejected() -> None:
    end = utc(2026, 3, 2, 12, 2)
    kept, rejected = validate_candles([bar(utc(2026, 3, 2, 12, 0), 150.0)], Timeframe.M5, end)
    assert (kept, rejected) == ([], [])


def test_import_of_a_future_row_is_a_bad_row_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text(
        "timestamp,open,high,low,close\n"
        "2026-01-05T10:00:00Z,150.1,150.2,150.0,150.1\n"
        "2099-01-05T10:00:00Z,150.1,150.2,150.0,150.1\n"
    )
    with pytest.raises(CsvFormatError) as caught:
        parse_csv(path, now=utc(2026, 3, 1))
    assert caught.value.line == 3 and caught.value.reason.startswith(FUTURE_BAR)
    parsed = parse_csv(path, now=utc(2026, 3, 1), skip_bad_rows=True)
    assert len(parsed.candles) == 1 and len(parsed.errors) == 1


# --- jump guard and price level -------------------------------------------------------------


def test_jump_guard_holds_back_one_spike_and_keeps_the_bars_after_it() -> None:
    t = utc(2026, 3, 2, 10)
    step = timedelta(minutes=5)
    closes = [150.0, 150.1, 165.0, 150.2, 150.3]
    kept, held = hold_back_jumps([bar(t + i * step, c) for i, c in enumerate(closes)], 149.9, 5)
    assert [c.close for c in kept] == [150.0, 150.1, 150.2, 150.3]
    assert [h.close for h in held] == [165.0]
    assert held[0].previous_close == 150.1 and held[0].percent == pytest.approx(9.93, abs=0.01)


def test_jump_guard_compares_the_first_bar_with_the_stored_close() -> None:
    kept, held = hold_back_jumps([bar(utc(2026, 3, 2), 1.0505)], 155.0, 5)
    assert kept == [] and len(held) == 1


def test_price_level_far_from_the_stored_one_is_wrong_pair_or_scale() -> None:
    reason = level_reason("USD/JPY", 1.0505, 155.0, "over the same period")
    assert reason is not None and reason.startswith(WRONG_SCALE) and "--force" in reason
    assert level_reason("USD/JPY", 150.0, 155.0, "over the same period") is None
    assert level_reason("USD/JPY", 150.0, None, "") is None  # nothing stored: nothing to say


def test_max_bar_jump_percent_is_validated(tmp_path: Path) -> None:
    env = {"EXCHANGE_ANALYTICS_HOME": str(tmp_path), "MAX_BAR_JUMP_PERCENT": "-1"}
    with pytest.raises(ConfigurationError, match="MAX_BAR_JUMP_PERCENT"):
        load_settings(env, env_file=False)
    env["MAX_BAR_JUMP_PERCENT"] = "2.5"
    assert load_settings(env, env_file=False).max_bar_jump_percent == 2.5


# --- HistData's clock -----------------------------------------------------------------------


def test_histdata_summer_time_follows_eu_dates_and_switches_at_midnight_utc() -> None:
    assert summer_time_bounds(2024) == (utc(2024, 4, 1), utc(2024, 10, 28))
    assert summer_time_bounds(2025) == (utc(2025, 3, 31), utc(2025, 10, 27))


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        pytest.param("2024-01-02 17:00", utc(2024, 1, 2, 22), id="winter-utc-5"),
        # US summer time already, EU not yet: HistData is still UTC-5 (PROVENANCE §F 1).
        pytest.param("2024-03-20 17:00", utc(2024, 3, 20, 22), id="us-only-dst-week"),
        pytest.param("2024-03-31 18:59", utc(2024, 3, 31, 23, 59), id="before-spring-switch"),
        pytest.param("2024-03-31 20:00", utc(2024, 4, 1, 0, 0), id="after-spring-switch"),
        pytest.param("2024-07-02 17:00", utc(2024, 7, 2, 21), id="summer-utc-4"),
        # EU back on winter time, US still on summer time: UTC-5 again.
        pytest.param("2024-10-30 17:00", utc(2024, 10, 30, 22), id="eu-winter-us-summer"),
    ],
)
def test_histdata_clock(wall: str, expected: datetime) -> None:
    assert HistDataClock().to_utc(datetime.fromisoformat(wall)) == expected


def test_histdata_doubled_autumn_hour_is_first_utc_4_then_utc_5() -> None:
    clock = HistDataClock()
    wall = datetime(2024, 10, 27, 19, 30)
    assert clock.to_utc(wall) == utc(2024, 10, 27, 23, 30)
    assert clock.to_utc(wall) == utc(2024, 10, 28, 0, 30)


def test_histdata_missing_spring_hour_is_a_bad_row() -> None:
    with pytest.raises(ValueError, match="nonexistent time"):
        HistDataClock().to_utc(datetime(2024, 3, 31, 19, 30))


def test_histdata_ascii_zip_imports_with_shuffled_day_blocks() -> None:
    # This real archive stores its days out of order; minutes are aggregated by bucket, so
    # the order of the blocks does not matter.
    parsed = parse_csv(ASCII_USDJPY)
    assert parsed.format == "histdata" and parsed.from_minutes
    assert parsed.path.endswith("!DAT_ASCII_USDJPY_M1_202401.csv")
    stamps = [c.timestamp for c in parsed.candles]
    assert stamps == sorted(set(stamps))
    assert stamps[0] == utc(2024, 1, 1, 22, 0)  # Mon 17:00 file time, UTC-5 in winter
    assert sum(parsed.minutes) == parsed.rows
    assert all(1 <= m <= 5 for m in parsed.minutes)


def test_one_minute_rows_aggregate_to_5m_with_the_section_5_rules(tmp_path: Path) -> None:
    with zipfile.ZipFile(ASCII_USDJPY) as archive:
        lines = archive.read("DAT_ASCII_USDJPY_M1_202401.csv").decode().splitlines()
    day = [line for line in lines if line.startswith("20240102 17")]
    path = tmp_path / "DAT_ASCII_USDJPY_M1_20240102.csv"
    path.write_text("\n".join(day) + "\n")
    parsed = parse_csv(path)
    rows = [line.split(";") for line in day]
    first = [r for r in rows if "170000" <= r[0][-6:] < "170500"]
    c = parsed.candles[0]
    assert c.timestamp == utc(2024, 1, 2, 22, 0)
    assert c.open == float(first[0][1]) and c.close == float(first[-1][4])
    assert c.high == max(float(r[2]) for r in first)
    assert c.low == min(float(r[3]) for r in first)
    assert parsed.minutes[0] == len(first)


def test_a_minute_seen_twice_is_a_duplicate() -> None:
    agg = MinuteAggregator()
    agg.add(1_704_232_800, 1, 1, 1, 1, 0)
    with pytest.raises(ValueError, match="duplicate timestamp"):
        agg.add(1_704_232_800, 1, 1, 1, 1, 0)


# --- stuck feed -----------------------------------------------------------------------------

WEDNESDAY = utc(2026, 3, 4, 14, 0)
SATURDAY = utc(2026, 3, 7, 14, 0)


def test_three_open_market_runs_without_a_new_bar_are_a_stuck_feed() -> None:
    latest = WEDNESDAY - timedelta(minutes=30)
    state = observe(FeedState(), latest, WEDNESDAY - timedelta(minutes=5))
    assert state == FeedState(latest, 0)  # the first run only records what it saw
    for run in range(1, STUCK_RUNS + 1):
        state = observe(state, latest, WEDNESDAY + timedelta(minutes=5 * run))
        assert state.stuck == (run == STUCK_RUNS)
    state = observe(state, latest + timedelta(minutes=5), WEDNESDAY + timedelta(minutes=20))
    assert state == FeedState(latest + timedelta(minutes=5), 0)


def test_runs_with_no_bar_due_are_not_stale() -> None:
    latest = WEDNESDAY - timedelta(minutes=5)  # the 13:55 bar closed at 14:00
    state = FeedState(latest, 0)
    for _ in range(STUCK_RUNS + 1):  # the same clock again and again: nothing new is due
        state = observe(state, latest, WEDNESDAY + timedelta(minutes=2))
    assert state.stale_runs == 0


def test_weekend_and_holiday_runs_are_not_stuck() -> None:
    assert not is_trading(SATURDAY)
    assert not is_trading(utc(2025, 12, 25, 15, 0))  # a Thursday, formally open
    state = FeedState(SATURDAY - timedelta(days=1), 5)
    assert observe(state, state.latest, SATURDAY).stale_runs == 0


# --- Prometheus textfile --------------------------------------------------------------------


def test_metrics_registry_parses_back() -> None:
    run = RunFigures(
        status="partial",
        finished_at=utc(2026, 3, 4, 14, 0, 3),
        processing_seconds=2.5,
        clock=utc(2026, 3, 4, 14, 0),
        pairs=[PairFigures("USD/JPY", 3, 1, 2, True, utc(2026, 3, 4, 13, 50))],
        notifications={"pending": 4, "failed": 1},
    )
    from prometheus_client import generate_latest

    text = generate_latest(build_registry(run)).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    pair = (("pair", "USD/JPY"),)
    assert samples[("exchange_analytics_last_run_status", (("status", "partial"),))] == 1
    assert samples[("exchange_analytics_last_run_status", (("status", "success"),))] == 0
    assert samples[("exchange_analytics_bars_held_back", pair)] == 2
    assert samples[("exchange_analytics_feed_stuck", pair)] == 1
    assert samples[("exchange_analytics_last_bar_age_seconds", pair)] == 300
    assert samples[("exchange_analytics_notifications", (("status", "failed"),))] == 1


def test_histdata_archive_is_recognised_by_its_status_report(tmp_path: Path) -> None:
    source = HISTDATA / "HISTDATA_COM_MT_USDJPY_M12024.zip"
    with zipfile.ZipFile(source) as archive:
        rows = archive.read("DAT_MT_USDJPY_M1_2024.csv").decode().splitlines()[:30]
        report = archive.read("DAT_MT_USDJPY_M1_2024.txt")
    renamed = tmp_path / "usdjpy.zip"
    with zipfile.ZipFile(renamed, "w") as archive:
        archive.writestr("usdjpy.csv", "\n".join(rows) + "\n")
        archive.writestr("report.txt", report)
    parsed = parse_csv(renamed)
    assert parsed.format == "histdata"
    assert parsed.candles[0].timestamp == utc(2024, 1, 1, 22, 0)
    bare = tmp_path / "bare.zip"
    with zipfile.ZipFile(bare, "w") as archive:
        archive.writestr("usdjpy.csv", "\n".join(rows) + "\n")
    assert parse_csv(bare).format == "metatrader"  # a plain MT4 export: UTC unless --tz


def test_format_histdata_reads_histdata_metatrader_rows(tmp_path: Path) -> None:
    # The landed reader only knew HistData's ASCII rows; its MT rows were "unrecognised".
    with zipfile.ZipFile(HISTDATA / "HISTDATA_COM_MT_USDJPY_M12024.zip") as archive:
        rows = archive.read("DAT_MT_USDJPY_M1_2024.csv").decode().splitlines()[:12]
    path = tmp_path / "usdjpy.csv"
    path.write_text("\n".join(rows) + "\n")
    parsed = parse_csv(path, fmt="histdata")
    assert parsed.format == "histdata" and parsed.from_minutes
    assert parsed.candles[0].timestamp == utc(2024, 1, 1, 22, 0)
    assert parsed.candles[0].open == float(rows[0].split(",")[2])

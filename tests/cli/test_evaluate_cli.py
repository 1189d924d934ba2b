"""``patterns evaluate`` / ``patterns calibrate`` as a user runs them (child process, real
SQLite with the real USD/CHF file): JSON shape, bad input (exit 2, one line, nothing written),
an unreachable scheduler (exit 1), and a calibrated file that PATTERN_THRESHOLDS loads."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from tests.support.evaluation_data import PAIR, env_for, import_chf, invoke

RANGE = ("--from", "2026-03-02", "--to", "2026-03-13T21:00:00Z")
ROW_KEYS = {
    "pattern",
    "direction",
    "detections",
    "signals",
    "take_profit",
    "stop_loss",
    "ambiguous",
    "open",
    "hit_rate",
    "hit_rate_ci",
    "expectancy_r",
    "median_bars_to_outcome",
    "mae_pips",
    "mfe_pips",
    "baseline",
    "edge",
    "edge_ci",
}


@pytest.fixture(scope="module")
def chf_db(sqlite_template, tmp_path_factory):
    home = tmp_path_factory.mktemp("chf")
    db = home / "ea.db"
    shutil.copyfile(sqlite_template, db)
    import_chf(f"sqlite+aiosqlite:///{db}", home)
    return db


@pytest.fixture
def env(chf_db, tmp_path):
    db = tmp_path / "ea.db"
    shutil.copyfile(chf_db, db)
    return env_for(f"sqlite+aiosqlite:///{db}", tmp_path)


def _track_records(env) -> int:
    path = env["DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM pattern_track_records").fetchone()[0])


def test_evaluate_json_has_every_figure(env):
    done = invoke(env, "patterns", "evaluate", "--pair", PAIR, *RANGE, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"pair", "from", "to", "horizon", "spread_pips", "results"} <= set(result)
    assert (result["pair"], result["horizon"], result["spread_pips"]) == (PAIR, 1440, 1.0)
    traded = [r for r in result["results"] if "move_after" not in r]
    assert len(traded) == 8 and all(set(r) >= ROW_KEYS for r in traded)
    assert all(
        {"entries", "take_profit", "stop_loss", "hit_rate", "expectancy_r"} <= set(r["baseline"])
        for r in traded
    )
    moves = [r for r in result["results"] if "move_after" in r]
    assert [r["pattern"] for r in moves] == ["divergence", "divergence", "rsi_battle"]
    assert set(moves[0]["move_after"]) == {"1h", "4h", "1d"}
    assert _track_records(env) == 0  # evaluate stores nothing


def test_evaluate_table_and_store(env):
    done = invoke(env, "patterns", "evaluate", "--pair", PAIR, *RANGE, "--store")
    assert done.returncode == 0, done.stderr
    assert "composite_signal" in done.stdout and "base hit" in done.stdout
    assert "stored 11 track record rows (12 days)" in done.stdout
    assert _track_records(env) == 11


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--from", "2026-03-13", "--to", "2026-03-02"], "--from"),
        (["--from", "2025-01-01", "--to", "2025-02-01"], "no 5m bars"),
        ([*RANGE, "--pattern", "head_and_shoulders"], "--pattern"),
        ([*RANGE, "--horizon", "0"], "--horizon"),
        ([*RANGE, "--spread", "-1"], "--spread"),
        (["--days", "90", *RANGE], "either --days"),
        (["--days", "0"], "--days"),
    ],
    ids=[
        "from-after-to",
        "no-bars",
        "unknown-pattern",
        "horizon-0",
        "negative-spread",
        "days-and-range",
        "days-0",
    ],
)
def test_evaluate_bad_input_is_exit_2_one_line_nothing_written(env, args, names):
    done = invoke(env, "patterns", "evaluate", "--pair", PAIR, *args, "--store")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and names in lines[0], done.stderr
    assert done.stdout == ""
    assert _track_records(env) == 0


def test_evaluate_without_a_range_is_exit_2_unless_storing(env):
    """No --from/--to/--days: a usage error, except with --store, which then evaluates the
    trailing TRACK_RECORD_DAYS (the daily refresh; here no bars lie in it, also exit 2)."""
    done = invoke(env, "patterns", "evaluate", "--pair", PAIR)
    assert done.returncode == 2 and "--from and --to" in done.stderr
    stored = invoke(env, "patterns", "evaluate", "--pair", PAIR, "--store")
    assert stored.returncode == 2 and "no 5m bars of USD/CHF stored between" in stored.stderr
    assert _track_records(env) == 0


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ('{"composite_signal.rsi_levl": 55}', "rsi_levl"),
        ('{"composite_signal": {"rsi_level": "high"}}', "not a number"),
        ("not json", "not JSON"),
    ],
    ids=["unknown-key", "wrong-type", "not-json"],
)
def test_bad_thresholds_file_is_exit_2(env, tmp_path, content, names):
    path = tmp_path / "thresholds.json"
    path.write_text(content, encoding="utf-8")
    done = invoke(
        env, "patterns", "evaluate", "--pair", PAIR, *RANGE, "--thresholds", str(path), "--store"
    )
    assert done.returncode == 2
    assert names in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert _track_records(env) == 0


def test_calibrate_bad_grid_is_exit_2_and_writes_no_file(env, tmp_path):
    grid, out = tmp_path / "grid.json", tmp_path / "chosen.json"
    grid.write_text('{"composite_signal": {"rsi_level": [50, "x"]}}', encoding="utf-8")
    done = invoke(
        env,
        "patterns", "calibrate", "--pair", PAIR, "--from", "2026-03-02", "--to", "2026-03-30",
        "--train-weeks", "2", "--test-weeks", "1", "--grid", str(grid), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 2
    assert "--grid" in done.stderr and "'x' is not a number" in done.stderr
    assert not out.exists()


def test_calibrate_unreachable_scheduler_is_exit_1(env, tmp_path):
    out = tmp_path / "chosen.json"
    done = invoke(
        env,
        "patterns", "calibrate", "--pair", PAIR, "--from", "2026-03-02", "--to", "2026-03-30",
        "--train-weeks", "2", "--test-weeks", "1", "--dask", "tcp://127.0.0.1:9", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "tcp://127.0.0.1:9" in lines[0] and "unreachable" in lines[0]
    assert not out.exists()


@pytest.mark.timeout(900)
def test_calibrate_writes_a_file_pattern_thresholds_loads(env, tmp_path):
    grid, out = tmp_path / "grid.json", tmp_path / "chosen.json"
    grid.write_text(
        json.dumps({"composite_signal": {"rsi_level": [50, 55], "take_profit_pips": [120, 60]}}),
        encoding="utf-8",
    )
    done = invoke(
        env,
        "patterns", "calibrate", "--pair", PAIR, "--from", "2026-03-02", "--to", "2026-03-30",
        "--train-weeks", "2", "--test-weeks", "1", "--grid", str(grid), "--min-signals", "5",
        "--workers", "1", "--out", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tasks"] == 2 * (1 + 2) and len(report["windows"]) == 2  # seed + 2 passes
    assert {(s["pattern"], s["direction"]) for s in report["summary"]} == {
        ("composite_signal", "BUY"),
        ("composite_signal", "SELL"),
    }
    chosen = json.loads(out.read_text(encoding="utf-8"))
    assert set(chosen) <= {"composite_signal.rsi_level", "composite_signal.take_profit_pips",
                           "composite_signal.stop_loss_pips"}  # fmt: skip
    assert chosen, "a setting was chosen on this range"
    again = invoke(
        {**env, "PATTERN_THRESHOLDS": out.read_text(encoding="utf-8").strip()},
        "patterns", "evaluate", "--pair", PAIR, *RANGE, "--pattern", "composite_signal", "--json",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    rows = json.loads(again.stdout)["results"]
    assert rows[0]["take_profit_pips"] == chosen["composite_signal.take_profit_pips"]


def test_days_is_the_trailing_window_up_to_now():
    from datetime import UTC, datetime, timedelta

    from exchange_analytics.cli.evaluate_cmd import evaluation_range, window_days

    now = datetime(2026, 4, 1, 12, tzinfo=UTC)
    first, last = evaluation_range(None, None, 90, now)
    assert (first, last) == (now - timedelta(days=90), now)
    assert window_days({"from": first.isoformat(), "to": last.isoformat()}) == 90


def test_store_without_pair_refreshes_every_configured_pair(env):
    """The daily cron line: every pair in CURRENCY_PAIRS stored; a pair without bars skipped."""
    env = {**env, "CURRENCY_PAIRS": f"{PAIR},EUR/USD"}
    done = invoke(env, "patterns", "evaluate", *RANGE, "--store", "--json")
    assert done.returncode == 0, done.stderr
    pairs = json.loads(done.stdout)["pairs"]
    assert pairs[PAIR]["stored"] == _track_records(env) > 0
    assert pairs["EUR/USD"]["stored"] == 0 and "no 5m bars" in pairs["EUR/USD"]["skipped"]


def test_evaluate_without_pair_or_store_is_exit_2(env):
    done = invoke(env, "patterns", "evaluate", *RANGE)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--pair" in done.stderr

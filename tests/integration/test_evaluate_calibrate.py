"""``patterns calibrate`` tasks give identical results in-process, on a process pool and on a
real Dask ``LocalCluster``; a worker killed mid-run is survived (retried), never a hang."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime

import pandas as pd
import psutil
import pytest

from exchange_analytics.evaluation import calibrate as cal
from exchange_analytics.evaluation.evaluate import RangeInputs
from exchange_analytics.evaluation.executors import ExecutorSpec, TaskFailed, run_tasks
from exchange_analytics.evaluation.grid import build_grid
from exchange_analytics.evaluation.walkforward import build_tasks, run_task, windows
from exchange_analytics.indicators import TRAILING_WINDOW
from exchange_analytics.storage.engine import build_engine
from exchange_analytics.storage.evaluation_queries import read_evaluation_bars
from tests.support.evaluation_data import PAIR, env_for, import_chf

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 30, tzinfo=UTC)
GRID = {
    "composite_signal": {
        "rsi_level": [50, 55],
        "take_profit_pips": [120, 60],
        "stop_loss_pips": [60],
        "cooldown_minutes": [60, 240],
    },
    "breakout": {"take_profit_pips": [100, 50], "stop_loss_pips": [50]},
}


@pytest.fixture(scope="module")
def tasks(sqlite_template, tmp_path_factory):
    """Calibration tasks on real USD/CHF bars: 2 windows x 3 passes (seed + 2)."""
    import asyncio
    import shutil

    home = tmp_path_factory.mktemp("calibrate")
    db = home / "ea.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite+aiosqlite:///{db}"
    import_chf(url, home)

    async def read():
        from exchange_analytics.config.settings import load_settings

        engine = build_engine(load_settings(env_for(url, home), env_file=False))
        try:
            return await read_evaluation_bars(
                engine, PAIR, START, END, 1440, trailing=TRAILING_WINDOW
            )
        finally:
            await engine.dispose()

    _, m5, higher = asyncio.run(read())
    full = {PAIR: RangeInputs(PAIR, m5, higher, pd.Timestamp(START), pd.Timestamp(END), "new_york")}
    wins = windows(pd.Timestamp(START), pd.Timestamp(END), 2, 1)
    grid = build_grid(GRID, 60)
    made = build_tasks(full, wins, cal.grid_passes(grid, 60), 1440, 1.0)
    assert len(made) == 2 * 3
    return made


@pytest.fixture(scope="module")
def inline(tasks):
    return run_tasks(run_task, tasks, ExecutorSpec(workers=1))


def test_results_are_meaningful(inline):
    rows = [row for rows in inline for row in rows]
    assert any(row["train"]["signals"] > 0 for row in rows)
    choices = cal.choose(rows, min_signals=5)
    assert any(c["chosen"] is not None for c in choices)


def test_seed_signals_equal_evaluate_on_each_test_window(tasks, inline):
    """With all four timeframes the columnar pass decides what ``patterns evaluate`` does."""
    from exchange_analytics.evaluation.evaluate import decide, detect
    from exchange_analytics.patterns.thresholds import DEFAULT_THRESHOLDS

    for task, rows in zip(tasks, inline, strict=True):
        if task.slot != -1:
            continue
        test = task.inputs.slice(task.window.test_start, task.window.test_end)
        decided = decide(test, detect(test, DEFAULT_THRESHOLDS), 60)
        for row in rows:
            expected = sum(
                1
                for s in decided.signals
                if (s.pattern, s.direction) == (row["pattern"], row["direction"])
            )
            assert row["test"]["signals"] == expected, row["pattern"]


def test_fewer_required_timeframes_never_fire_less(tasks):
    grid = build_grid(
        {"composite_signal": {"timeframes": [["1d", "4h", "1h", "5m"], ["1h", "5m"]]}}, 60
    )
    slot, overrides, variants = cal.grid_passes(grid, 60)[1]
    task = tasks[1]
    rows = run_task(
        type(task)(task.pair, task.window, slot, task.inputs, overrides, variants, 1440, 1.0)
    )
    by = {(r["direction"], tuple(r["setting"]["timeframes"])): r for r in rows}
    for direction in ("BUY", "SELL"):
        four = by[(direction, ("1d", "4h", "1h", "5m"))]["train"]["signals"]
        two = by[(direction, ("1h", "5m"))]["train"]["signals"]
        assert two >= four
    assert any(r["train"]["signals"] for r in rows)


@pytest.mark.timeout(600)
def test_process_pool_gives_identical_results(tasks, inline):
    assert run_tasks(run_task, tasks, ExecutorSpec(workers=2, stall_seconds=300)) == inline


def _kill_one(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            continue


def _pool_workers() -> list[int]:
    """The pool's worker processes: the children of this process's forkserver."""
    workers = []
    for child in psutil.Process().children():
        try:
            if any("forkserver" in part for part in child.cmdline()):
                workers.extend(grandchild.pid for grandchild in child.children())
        except psutil.NoSuchProcess:
            continue
    return workers


@pytest.mark.timeout(600)
def test_process_pool_survives_a_worker_killed_mid_run(tasks, inline):
    killed = []

    def progress(done: int, total: int) -> None:
        if not killed and done < total:
            killed.append(_pool_workers())
            _kill_one(killed[0])

    spec = ExecutorSpec(workers=2, stall_seconds=300)
    assert run_tasks(run_task, tasks, spec, progress) == inline
    assert killed and killed[0], "a worker process was killed during the run"


@pytest.mark.timeout(600)
def test_process_pool_that_keeps_dying_reports_instead_of_hanging(tasks):
    def progress(done: int, total: int) -> None:
        _kill_one(_pool_workers())

    spec = ExecutorSpec(workers=2, retries=0, stall_seconds=300)
    with pytest.raises(TaskFailed, match="worker process died"):
        run_tasks(run_task, tasks, spec, progress)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        processes=True,
        host="127.0.0.1",
        n_workers=2,
        threads_per_worker=1,
        dashboard_address=None,
    ) as local:
        yield local


@pytest.mark.timeout(600)
def test_dask_local_cluster_gives_identical_results(cluster, tasks, inline):
    spec = ExecutorSpec(dask=cluster.scheduler_address, stall_seconds=300)
    assert run_tasks(run_task, tasks, spec) == inline


@pytest.mark.timeout(600)
def test_dask_survives_a_worker_killed_mid_run(cluster, tasks, inline):
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = list(client.run(os.getpid).values())
    killed = []

    def progress(done: int, total: int) -> None:
        if not killed and done < total:
            killed.append(pids[0])
            _kill_one(pids[:1])

    spec = ExecutorSpec(dask=cluster.scheduler_address, stall_seconds=300)
    assert run_tasks(run_task, tasks, spec, progress) == inline
    assert killed

"""Shared machinery for the fault-injection, soak and security tests (and ``bench/``).

Every fault test does the same three things, so they live here once:

1. start the cron entry point the way cron does: a real process
   (``python scripts/cron/continuous_processing_cron.py``), a minimal environment, output to
   files (a pipe that nobody reads could block the child and hide the fault we inject);
2. inject a fault (a signal, a dropped database connection, a misbehaving provider);
3. read the database back and compare it, row by row, with a clean reference run at the
   same ``--as-of`` (``read_state`` + ``compare_states``).

The database is read through SQLAlchemy Core ``select(table)`` so that the project's own
column types (aware UTC timestamps, JSON) apply on SQLite and PostgreSQL alike; nothing here
imports the pipeline, so a broken pipeline cannot make these checks pass.

Counts of what was injected and found are merged into ``bench/results/fault_summary.json``
(``record_faults``), which the closing note and ``make bench`` report.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
CRON_SCRIPT = PROJECT_ROOT / "scripts" / "cron" / "continuous_processing_cron.py"
CLI = PROJECT_ROOT / ".venv" / "bin" / "exchange-analytics"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
SUMMARY_PATH = PROJECT_ROOT / "bench" / "results" / "fault_summary.json"
#: One token per test session (this module is imported once per pytest process), so the
#: summary file restarts with every session instead of adding up old runs.
SESSION = f"{os.getpid()}-{int(time.time())}"

#: Backfill depths that keep a subprocess cycle to a few seconds while still initializing
#: every timeframe: 70 days of 1d buckets give ~60 bars >= MIN_BARS=50 (40 calendar days
#: would give ~34 trading days and the pair would never count as initialized).
SMALL_BACKFILL: Mapping[str, str] = {
    "BACKFILL_DAYS_1H": "40",
    "BACKFILL_DAYS_4H": "40",
    "BACKFILL_DAYS_1D": "70",
    "BACKFILL_DAYS_5M": "3",
    "MIN_BARS": "50",
}

#: A Thursday, market open, mid-London session: no weekend inside the 3-day 5m backfill.
AS_OF = datetime(2026, 11, 19, 12, 2, 30, tzinfo=UTC)

BarKey = tuple[str, str, datetime]
IndicatorKey = tuple[str, str, datetime, str]
PatternKey = tuple[str, str, str, datetime]
BAR_FIELDS = ("open", "high", "low", "close", "volume", "source", "bar_count", "is_complete")


def python() -> str:
    """The project's interpreter (the one cron would end up in after the bootstrap)."""
    return str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- processes -----------------------------------------------------------------------------


def cron_env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    """A cron-like environment: no venv on PATH, only what the job needs.

    ``EXCHANGE_ANALYTICS_HOME`` points the installation at ``home`` (so ``.env``, ``data/``
    and lock files are the test's own); logs go to ``home/logs``.
    """
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "DATABASE_URL": database_url,
        "LOG_FILE": str(home / "logs"),
        "MARKET_DATA_PROVIDER": "demo",
        **SMALL_BACKFILL,
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


@dataclass
class Finished:
    """What a finished process left behind."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def describe(self) -> str:
        return (
            f"exit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}"
            f"\n--- stderr\n{self.stderr[-3000:]}"
        )


class CronProcess:
    """A started cron entry point whose output goes to files in ``out_dir``."""

    def __init__(
        self,
        env: Mapping[str, str],
        args: Sequence[str],
        out_dir: Path,
        *,
        command: Sequence[str] | None = None,
        user: int | None = None,
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        self.stdout_path = out_dir / f"stdout-{tag}.txt"
        self.stderr_path = out_dir / f"stderr-{tag}.txt"
        argv = list(command) if command is not None else [python(), str(CRON_SCRIPT)]
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.proc = subprocess.Popen(
                [*argv, *args],
                env=dict(env),
                cwd=str(env.get("HOME", out_dir)),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=user,
            )
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> bool:
        """Send ``sig`` if the process still runs; True when it was delivered."""
        if self.proc.poll() is not None:
            return False
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def wait(self, timeout: float = 300.0) -> Finished:
        """Reap the process (no zombie keeps its pid 'alive') and collect its output."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"process {self.pid} still running after {timeout:.0f} s; killed it"
            ) from None
        return Finished(
            self.proc.returncode, self.stdout_path.read_text(), self.stderr_path.read_text()
        )


def run_cron(
    env: Mapping[str, str],
    *args: str,
    out_dir: Path,
    timeout: float = 300.0,
    command: Sequence[str] | None = None,
    user: int | None = None,
) -> Finished:
    """Run the cron entry point (or ``command``) to completion."""
    return CronProcess(env, args, out_dir, command=command, user=user).wait(timeout)


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.02,
    while_alive: CronProcess | None = None,
) -> bool:
    """Poll ``condition``; False on timeout or when ``while_alive`` has exited meanwhile.

    A guard against hanging, never a performance assertion: callers treat False as "the
    moment to inject the fault never came", not as slowness.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if while_alive is not None and not while_alive.alive():
            return condition()
        time.sleep(interval)
    return False


def pid_alive(pid: int) -> bool:
    """True for a running process; zombies and reused-by-nobody pids count as dead."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def rss_mb(pid: int | None = None) -> float:
    return float(psutil.Process(pid or os.getpid()).memory_info().rss) / 1_048_576


def free_port() -> int:
    """A localhost TCP port with nothing listening (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- logs ----------------------------------------------------------------------------------


def log_events(path: Path) -> list[dict[str, Any]]:
    """The JSON-lines events of a log file (a line cut by SIGKILL is skipped)."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                events.append(value)
    return events


def cycle_log(home: Path) -> Path:
    return home / "logs" / "continuous_processing_cron.log"


def last_event(home: Path) -> str:
    """Name of the last event the cycle logged: tells at which stage a kill landed."""
    events = log_events(cycle_log(home))
    return str(events[-1].get("event")) if events else "(nothing logged)"


def all_text_under(directory: Path) -> str:
    """Every file below ``directory`` as text (logs, rotated logs, outputs)."""
    parts = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(parts)


# --- databases -----------------------------------------------------------------------------


def backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def async_url(url: str) -> tuple[str, dict[str, Any]]:
    """The SQLAlchemy async URL for a test database URL (no settings object involved)."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1], {}
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, parts.query, "")), {}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def pg_execute(url: str, *statements: str) -> list[list[tuple[Any, ...]]]:
    """Run statements as the admin user through asyncpg; the rows of each."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        out = []
        for statement in statements:
            out.append([tuple(r) for r in await conn.fetch(statement)])
        return out
    finally:
        await conn.close()


def pg_run(url: str, *statements: str) -> list[list[tuple[Any, ...]]]:
    """``pg_execute`` from synchronous code."""
    return asyncio.run(pg_execute(url, *statements))


def pg_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)


def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at ``url``, else the reason (for a clear skip note)."""
    try:
        asyncio.run(pg_execute(url, "SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def create_pg_database(admin_url: str, template: str | None = None, prefix: str = "ea_f") -> str:
    """A new database (a copy of ``template`` when given); its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    asyncio.run(pg_execute(admin_url, f'CREATE DATABASE "{name}"{clause}'))
    return with_database(admin_url, name)


def drop_pg_database(admin_url: str, url: str) -> None:
    name = database_name(url)
    asyncio.run(pg_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def terminate_backends(admin_url: str, dbname: str) -> int:
    """Kill every session on ``dbname`` except ours, as a server restart would."""
    rows = asyncio.run(
        pg_execute(
            admin_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{dbname}' AND pid <> pg_backend_pid()",
        )
    )
    return int(rows[0][0][0])


def copy_sqlite(template: Path, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


def migrate(url: str, home: Path) -> None:
    """``exchange-analytics db upgrade`` in-process (what the conftest fixtures do)."""
    from exchange_analytics.config.settings import load_settings
    from exchange_analytics.storage.schema import upgrade

    upgrade(
        load_settings({"DATABASE_URL": url, "EXCHANGE_ANALYTICS_HOME": str(home)}, env_file=False)
    )


@dataclass
class DbState:
    """Everything the consistency checks look at, keyed by each table's unique key."""

    bars: dict[BarKey, tuple[Any, ...]] = field(default_factory=dict)
    indicators: dict[IndicatorKey, tuple[float, Any]] = field(default_factory=dict)
    patterns: dict[PatternKey, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    initialization: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: table -> rows beyond the first per unique key (0 while the constraints hold)
    duplicates: dict[str, int] = field(default_factory=dict)

    @property
    def duplicate_total(self) -> int:
        return sum(self.duplicates.values())

    def bars_of(self, pair: str, timeframe: str) -> dict[datetime, tuple[Any, ...]]:
        return {k[2]: v for k, v in self.bars.items() if k[0] == pair and k[1] == timeframe}


_UNIQUE_KEYS = {
    "price_data": "currency_pair, timeframe, timestamp",
    "technical_indicators": "currency_pair, timeframe, timestamp, indicator_type",
    "pattern_detections": "currency_pair, pattern_type, direction, bar_timestamp",
    "notifications": "dedupe_key",
}


async def _read_state(url: str) -> DbState:
    from sqlalchemy import select, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from exchange_analytics.storage.models import (
        Notification,
        PairInitialization,
        PatternDetection,
        PriceData,
        ProcessingRun,
        TechnicalIndicator,
    )

    async_db_url, connect_args = async_url(url)
    engine = create_async_engine(async_db_url, connect_args=connect_args)
    state = DbState()
    try:
        async with engine.connect() as conn:
            for table, columns in _UNIQUE_KEYS.items():
                surplus = await conn.execute(
                    text(
                        f"SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM {table} "
                        f"GROUP BY {columns} HAVING COUNT(*) > 1) AS d"
                    )
                )
                state.duplicates[table] = int(surplus.scalar() or 0)
            price = PriceData.__table__
            for row in (await conn.execute(select(price))).mappings():
                key = (row["currency_pair"], row["timeframe"], row["timestamp"])
                state.bars[key] = tuple(row[name] for name in BAR_FIELDS)
            ind = TechnicalIndicator.__table__
            for row in (await conn.execute(select(ind))).mappings():
                key4 = (
                    row["currency_pair"],
                    row["timeframe"],
                    row["timestamp"],
                    row["indicator_type"],
                )
                state.indicators[key4] = (row["value"], row["additional_data"])
            pat = PatternDetection.__table__
            for row in (await conn.execute(select(pat))).mappings():
                keyp = (
                    row["currency_pair"],
                    row["pattern_type"],
                    row["direction"],
                    row["bar_timestamp"],
                )
                state.patterns[keyp] = dict(row)
            notes = Notification.__table__
            for row in (await conn.execute(select(notes))).mappings():
                state.notifications[row["dedupe_key"]] = dict(row)
            runs = ProcessingRun.__table__
            state.runs = [
                dict(r) for r in (await conn.execute(select(runs).order_by(runs.c.id))).mappings()
            ]
            init = PairInitialization.__table__
            for row in (await conn.execute(select(init))).mappings():
                state.initialization[row["currency_pair"]] = dict(row)
    finally:
        await engine.dispose()
    return state


def read_state(url: str) -> DbState:
    return asyncio.run(_read_state(url))


def _close(a: Any, b: Any, tolerance: float) -> bool:
    """Numbers within ``tolerance`` (absolute or relative), containers element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, int | float) and isinstance(b, int | float):
        if math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tolerance) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close(x, y, tolerance) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@dataclass
class Comparison:
    """How a database differs from the reference run at the same --as-of."""

    missing_bars: list[BarKey] = field(default_factory=list)
    extra_bars: list[BarKey] = field(default_factory=list)
    differing_bars: list[BarKey] = field(default_factory=list)
    missing_indicators: list[IndicatorKey] = field(default_factory=list)
    extra_indicators: list[IndicatorKey] = field(default_factory=list)
    differing_indicators: list[IndicatorKey] = field(default_factory=list)
    missing_patterns: list[PatternKey] = field(default_factory=list)
    extra_patterns: list[PatternKey] = field(default_factory=list)
    missing_notifications: list[str] = field(default_factory=list)
    extra_notifications: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        out = []
        for name, items in self.__dict__.items():
            if items:
                shown = ", ".join(str(i) for i in sorted(items, key=str)[:5])
                out.append(f"{len(items)} {name.replace('_', ' ')} (e.g. {shown})")
        return out


def compare_states(reference: DbState, actual: DbState, tolerance: float = 1e-9) -> Comparison:
    """Bars must be identical; indicator values and their extra data equal within 1e-9."""
    result = Comparison()
    result.missing_bars = [k for k in reference.bars if k not in actual.bars]
    result.extra_bars = [k for k in actual.bars if k not in reference.bars]
    result.differing_bars = [
        k for k, v in reference.bars.items() if k in actual.bars and actual.bars[k] != v
    ]
    result.missing_indicators = [k for k in reference.indicators if k not in actual.indicators]
    result.extra_indicators = [k for k in actual.indicators if k not in reference.indicators]
    result.differing_indicators = [
        k
        for k, v in reference.indicators.items()
        if k in actual.indicators and not _close(v, actual.indicators[k], tolerance)
    ]
    result.missing_patterns = [k for k in reference.patterns if k not in actual.patterns]
    result.extra_patterns = [k for k in actual.patterns if k not in reference.patterns]
    result.missing_notifications = [
        k for k in reference.notifications if k not in actual.notifications
    ]
    result.extra_notifications = [
        k for k in actual.notifications if k not in reference.notifications
    ]
    return result


def differing_prices(reference: DbState, actual: DbState, tolerance: float = 1e-9) -> list[BarKey]:
    """Bars stored in both whose open/high/low/close/volume differ.

    For a run stopped halfway: its stored bars may still carry the provider's ``source`` and
    ``bar_count`` where the finished run has rebuilt them by aggregation, but a price that
    differs from the reference is half-written data.
    """
    return [
        key
        for key, values in actual.bars.items()
        if key in reference.bars
        and not _close(list(values[:5]), list(reference.bars[key][:5]), tolerance)
    ]


def unrecognisable_running_rows(state: DbState) -> list[dict[str, Any]]:
    """'running' rows that are not recognisably dead: pid still alive, or another host.

    A process killed with SIGKILL cannot update its row; the contract is that such a row is
    recognisable (this host, pid gone), not that it disappears.
    """
    here = socket.gethostname()
    bad = []
    for run in state.runs:
        if run["status"] != "running":
            continue
        if pid_alive(int(run["pid"])) or run["host"] not in (here, ""):
            bad.append(run)
    return bad


def pair_initialized(state: DbState, pair: str, min_bars: int) -> bool:
    """SPEC §4.3 read from the tables: completion recorded and MIN_BARS on every timeframe."""
    init = state.initialization.get(pair)
    if not init or init["status"] != "complete":
        return False
    return all(len(state.bars_of(pair, tf)) >= min_bars for tf in ("5m", "1h", "4h", "1d"))


# --- consistency of aggregates (soak) -------------------------------------------------------


def aggregation_mismatches(state: DbState, pair: str, day_boundary: str = "utc") -> list[str]:
    """1h/4h/1d buckets in the 5m era that differ from re-aggregating the stored 5m bars.

    Buckets that start before the first stored 5m bar are built from provider 1h history
    (SPEC §5) and are not re-derivable from 5m, so they are left out.
    """
    import pandas as pd

    from exchange_analytics.aggregation import aggregate
    from exchange_analytics.domain import Timeframe

    m5 = state.bars_of(pair, "5m")
    if not m5:
        return [f"{pair}: no 5m bars"]
    stamps = sorted(m5)
    frame = pd.DataFrame(
        {
            name: [float(m5[t][i]) for t in stamps]
            for i, name in enumerate(("open", "high", "low", "close", "volume"))
        },
        index=pd.DatetimeIndex(stamps, name="timestamp").tz_convert("UTC"),
    )
    first = frame.index[0]
    data_end = frame.index[-1] + pd.Timedelta(minutes=5)
    problems = []
    for timeframe in (Timeframe.H1, Timeframe.H4, Timeframe.D1):
        expected = aggregate(frame, timeframe, day_boundary, data_end=data_end)  # type: ignore[arg-type,unused-ignore]
        expected = expected[expected.index >= first]
        stored = state.bars_of(pair, timeframe.value)
        for start, row in expected.iterrows():
            moment = start.to_pydatetime()
            got = stored.get(moment)
            if got is None:
                problems.append(f"{pair} {timeframe.value} {moment:%Y-%m-%d %H:%M} missing")
                continue
            want = (
                row["open"],
                row["high"],
                row["low"],
                row["close"],
                row["volume"],
                int(row["bar_count"]),
                bool(row["is_complete"]),
            )
            have = (got[0], got[1], got[2], got[3], got[4], got[6], got[7])
            if not _close(list(want), list(have), 1e-9):
                problems.append(
                    f"{pair} {timeframe.value} {moment:%Y-%m-%d %H:%M}: stored {have} "
                    f"!= re-aggregated {want}"
                )
        extra = [t for t in stored if t >= first.to_pydatetime() and t not in set(expected.index)]
        problems.extend(f"{pair} {timeframe.value} {t:%Y-%m-%d %H:%M} invented" for t in extra)
    return problems


def expected_demo_m5(
    pair: str, start: datetime, end: datetime
) -> dict[datetime, tuple[float, ...]]:
    """The demo market's closed 5m bars with open time in [start, end)."""
    from exchange_analytics.providers.demo import simulate_m5

    return {
        c.timestamp: (c.open, c.high, c.low, c.close, c.volume)
        for c in simulate_m5(pair, start, end)
    }


def m5_mismatches(state: DbState, pair: str, end: datetime) -> tuple[int, list[str]]:
    """Closed demo bars between the first stored 5m bar and ``end`` that are absent or
    different; returns (bars missing, descriptions)."""
    stored = state.bars_of(pair, "5m")
    if not stored:
        return 0, [f"{pair}: no 5m bars"]
    expected = expected_demo_m5(pair, min(stored), end)
    missing = [t for t in expected if t not in stored]
    problems = [f"{pair} 5m {t:%Y-%m-%d %H:%M} missing" for t in missing[:10]]
    for t, values in expected.items():
        if t in stored and not _close(list(values), list(stored[t][:5]), 1e-12):
            problems.append(f"{pair} 5m {t:%Y-%m-%d %H:%M}: {stored[t][:5]} != {values}")
    extra = [t for t in stored if t not in expected]
    problems.extend(f"{pair} 5m {t:%Y-%m-%d %H:%M} not a closed demo bar" for t in extra[:10])
    return len(missing), problems


# --- summary -------------------------------------------------------------------------------


@dataclass
class FaultTally:
    """What one test module injected and found; merged into the session summary."""

    kills_tried: int = 0
    faults_injected: int = 0
    duplicates_found: int = 0
    bars_missing: int = 0
    bars_differing: int = 0
    runs_checked: int = 0
    stages: dict[str, int] = field(default_factory=dict)

    def add_stage(self, stage: str) -> None:
        self.stages[stage] = self.stages.get(stage, 0) + 1


def record_faults(section: str, tally: FaultTally, path: Path = SUMMARY_PATH) -> dict[str, Any]:
    """Merge ``tally`` into the JSON summary under ``section``; totals are recomputed.

    The file is rewritten under an ``flock`` so tests in parallel workers cannot lose counts,
    and starts over when it belongs to an earlier session.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / ".fault_summary.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_text()) if path.exists() else {}
        except ValueError:
            data = {}
        if data.get("session") != SESSION:
            data = {"session": SESSION, "sections": {}}
        data["sections"][section] = {
            "kills_tried": tally.kills_tried,
            "faults_injected": tally.faults_injected,
            "duplicates_found": tally.duplicates_found,
            "bars_missing": tally.bars_missing,
            "bars_differing": tally.bars_differing,
            "runs_checked": tally.runs_checked,
            "stages": dict(sorted(tally.stages.items())),
        }
        totals: dict[str, int] = {}
        for counts in data["sections"].values():
            for name, value in counts.items():
                if isinstance(value, int):
                    totals[name] = totals.get(name, 0) + value
        data["totals"] = totals
        data["written_at"] = datetime.now(UTC).isoformat()
        path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return data


def format_tally(section: str, tally: FaultTally) -> str:
    stages = ", ".join(f"{k}: {v}" for k, v in sorted(tally.stages.items())) or "-"
    return (
        f"[{section}] kills tried {tally.kills_tried}, faults injected {tally.faults_injected}, "
        f"duplicates found {tally.duplicates_found}, bars missing {tally.bars_missing}, "
        f"bars differing {tally.bars_differing}, runs checked {tally.runs_checked}; "
        f"stage at fault: {stages}"
    )


# --- Yahoo stand-in data near the real clock ------------------------------------------------


def shifted_yahoo_series(
    wall_now: datetime,
    symbols: Iterable[str] = ("USDJPY=X", "EURUSD=X"),
    template_as_of: datetime = datetime(2025, 11, 27, 12, 2, 30, tzinfo=UTC),
) -> tuple[dict[str, tuple[Any, ...]], datetime]:
    """The real USDJPY=X 5m bars moved forward by whole weeks to lie just before ``wall_now``.

    Why: the Yahoo provider clamps requests to its history limit measured from the *real*
    clock (60 days for 5m), so the recorded 2025 bars would be out of reach. Whole weeks keep
    every bar on the same weekday and hour, so weekend closures stay where they were. Other
    symbols get the same bars scaled to a EUR/USD-like price (rounding is monotonic, so the
    OHLC relations survive). Returns the series and the shifted ``template_as_of``.
    """
    from tests.support.fake_yahoo import Bar, load_yahoo_5m

    weeks = math.floor((wall_now - timedelta(days=14) - template_as_of) / timedelta(days=7))
    shift = int(timedelta(days=7 * weeks).total_seconds())
    base = load_yahoo_5m()
    series: dict[str, tuple[Any, ...]] = {}
    for symbol in symbols:
        scale = 1.0 if symbol.endswith("JPY=X") else 1.0 / 140.0
        digits = 3 if symbol.endswith("JPY=X") else 5
        series[symbol] = tuple(
            Bar(
                b.t + shift,
                round(b.open * scale, digits),
                round(b.high * scale, digits),
                round(b.low * scale, digits),
                round(b.close * scale, digits),
                b.volume,
            )
            for b in base
        )
    return series, template_as_of + timedelta(seconds=shift)

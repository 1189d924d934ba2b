"""How far one machine goes (SPEC §15, §19; issue 17): the cycle at 1, 10, 30 and 100 pairs.

Measured on the commands users run, as cron runs them: every cycle is its own process
(``exchange-analytics cycle --provider P --as-of T --json``, 5 minutes apart), per engine
(SQLite; PostgreSQL when reachable) and provider (``demo``; ``yahoo`` against the stand-in
``tests/support/fake_yahoo.py``, the real USDJPY=X 5m bars for every symbol):
1. the import floor (median of 3) and the one-pair cron process against it (<= 1.3 x);
2. initialization of 10 demo pairs at default depths: rows per second of its processing_time
   against the same rows upserted by raw ``sqlite3`` executemany (>= 0.25 x) or loaded by
   ``psql \\copy`` (>= 0.5 x) into a fresh schema;
3. steady cycles per size (one warm-up): processing_time from the cycle's summary (<= 20 ms
   per pair; 10 pairs <= 0.3 s, 100 <= 2 s) and the whole process;
4. cost per pair at the largest size / at 10 pairs (flatness, target <= 1.2). Exits 0.
PostgreSQL: TEST_POSTGRES_URL. A 100-pair installation takes minutes to set up: only
``--big`` (sqlite-demo) goes past ``--max-pairs`` (30) unless told otherwise.

Example:
    .venv/bin/python bench/bench_scale.py --engines sqlite --providers demo --sizes 1,10 --json
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.faults import (  # noqa: E402
    create_pg_database,
    drop_pg_database,
    iso,
    migrate,
    pg_admin_url,
    pg_reachable,
    python,
)

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h still works, as before
FLOOR_IMPORTS = "import pandas, talib, sqlalchemy, httpx, structlog, click"
PER_PAIR_TARGET_S = 0.020
SIZE_TARGETS_S = {10: 0.3, 100: 2.0}
PROCESS_TARGET = 1.3
INIT_TARGETS = {"sqlite": 0.25, "postgres": 0.5}
FLAT_TARGET = 1.2
INIT_PAIRS = 10
#: Wednesdays at noon UTC: open markets; the Yahoo stand-in's real bars end 2025-12-01.
STARTS = {
    "demo": datetime(2026, 11, 18, 12, 0, 30, tzinfo=UTC),
    "yahoo": datetime(2025, 11, 19, 12, 0, 30, tzinfo=UTC),
}
DEMO_PAIRS = "USD/JPY,EUR/USD,GBP/USD,AUD/USD,USD/CHF,USD/CAD,EUR/JPY,GBP/JPY,NZD/USD,EUR/GBP"
CODES = "USD EUR GBP JPY AUD CHF CAD NZD SEK NOK DKK SGD HKD MXN ZAR".split()  # noqa: SIM905
TABLES = {
    "price_data": ("currency_pair", "timeframe", "timestamp"),
    "technical_indicators": ("currency_pair", "timeframe", "timestamp", "indicator_type"),
}


def pair_names(count: int) -> list[str]:
    """The demo's ten named pairs, then crosses of further currencies."""
    named, crosses = DEMO_PAIRS.split(","), itertools.permutations(CODES, 2)
    return (named + [f"{a}/{b}" for a, b in crosses if f"{a}/{b}" not in named])[:count]


def command() -> list[str]:
    script = Path(python()).parent / "exchange-analytics"
    return [str(script)] if script.exists() else [python(), "-m", "exchange_analytics"]


def base_env(home: Path, url: str, provider: str, pairs: list[str], **extra: str) -> dict[str, str]:
    """What a crontab line sets: the installation, its database, its pairs; default depths."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "DATABASE_URL": url,
        "LOG_FILE": str(home / "logs"),
        "MARKET_DATA_PROVIDER": provider,
        "CURRENCY_PAIRS": ",".join(pairs),
        **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"},  # a checkout under test
        **extra,
    }


def run_cycle(env: dict[str, str], provider: str, as_of: datetime) -> tuple[float, dict[str, Any]]:
    """One cron-like cycle process: its wall time and its JSON summary."""
    argv = [*command(), "cycle", "--provider", provider, "--as-of", iso(as_of), "--json"]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0 or not done.stdout.strip():
        raise SystemExit(f"cycle at {iso(as_of)}: exit {done.returncode}: {done.stderr[-500:]}")
    summary = json.loads(done.stdout)
    if summary.get("status") != "success":
        raise SystemExit(f"cycle at {iso(as_of)} ended {summary.get('status')}: {summary}")
    return wall, summary


def import_floor(runs: int = 3) -> float:
    return float(statistics.median(_timed([python(), "-c", FLOOR_IMPORTS]) for _ in range(runs)))


def _timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - started


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] != "id"]


def sqlite_raw_rate(source: Path, target: Path) -> tuple[int, float]:
    """Stored rows upserted by raw sqlite3 executemany into a fresh copy of the schema (the
    engine's pragmas, one transaction): rows, rows per second."""
    with sqlite3.connect(source) as src:
        schema = [
            r[0]
            for r in src.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
            if any(f" {t} " in r[0] or f"{t} (" in r[0] for t in TABLES)
        ]
        data = {
            t: (_columns(src, t), src.execute(f"SELECT * FROM {t}").fetchall())  # noqa: S608
            for t in TABLES
        }
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in schema:
        db.execute(statement)
    total = 0
    started = time.perf_counter()
    db.execute("BEGIN")
    for table, key in TABLES.items():
        columns, rows = data[table]
        values = [row[1:] for row in rows]  # without id
        others = [c for c in columns if c not in key]
        marks = ", ".join("?" * len(columns))
        sets = ", ".join(f"{c} = excluded.{c}" for c in others)
        changed = " OR ".join(f"{table}.{c} IS NOT excluded.{c}" for c in others)
        head = ["INSERT INTO", table, f"({', '.join(columns)}) VALUES ({marks}) ON CONFLICT"]
        sql = " ".join([*head, f"({', '.join(key)}) DO UPDATE SET", sets, "WHERE", changed])
        db.executemany(sql, values)
        total += len(values)
    db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return total, total / seconds


def psql_copy_rate(source_url: str, admin: str, work: Path) -> tuple[int, float]:
    """The stored rows exported to CSV, then ``psql \\copy`` into a fresh migrated database."""
    libpq = source_url.replace("postgresql+asyncpg://", "postgresql://")
    target = create_pg_database(admin, prefix="ea_bench_scale_copy")
    try:
        migrate(target, work / "copy-home")
        loads, total = [], 0
        for table in TABLES:
            columns = ", ".join(_pg_columns(libpq, table))
            path = work / f"{table}.csv"
            export = f"\\copy (SELECT {columns} FROM {table}) TO '{path}' WITH (FORMAT csv)"  # noqa: S608
            _psql(libpq, export)
            total += sum(1 for _ in path.open())
            loads.append(f"\\copy {table} ({columns}) FROM '{path}' WITH (FORMAT csv)")
        started = time.perf_counter()
        for load in loads:
            _psql(target, load)
        return total, total / (time.perf_counter() - started)
    finally:
        drop_pg_database(admin, target)


def _psql(url: str, text: str) -> str:
    argv = ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-At", "-c", text]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _pg_columns(url: str, table: str) -> list[str]:
    where = ["WHERE table_name =", f"'{table}'", "AND column_name <> 'id' ORDER BY 1"]
    sql = " ".join(["SELECT column_name FROM information_schema.columns", *where])
    return _psql(url, sql).split()


@contextmanager
def yahoo_stand_in(pairs: list[str], now: datetime) -> Iterator[Any]:
    from tests.support.fake_yahoo import FakeYahoo, load_yahoo_5m
    from tests.support.http_server import LocalServer

    from exchange_analytics.domain import CurrencyPair

    fake = FakeYahoo(now, {CurrencyPair.parse(p).yahoo_symbol: load_yahoo_5m() for p in pairs})
    server = LocalServer(fake).start()
    try:
        yield fake, server.base_url
    finally:
        server.stop()


class Clock:
    """``--as-of`` 5 minutes apart; the stand-in (six weeks of bars: MIN_BARS=20) follows."""

    def __init__(self, start: datetime, fake: Any = None) -> None:
        self.now, self.fake = start, fake

    def next(self) -> datetime:
        self.now += timedelta(minutes=5)
        if self.fake is not None:  # the stand-in serves bars up to its own clock
            self.fake.now = self.now
        return self.now


def steady(
    env: dict[str, str], provider: str, pairs: list[str], clock: Clock, cycles: int
) -> dict[str, Any]:
    """Warm-up plus ``cycles`` steady cycles with ``pairs``: medians inside and outside."""
    inside, wall = [], []
    env = {**env, "CURRENCY_PAIRS": ",".join(pairs)}
    for i in range(cycles + 1):
        seconds, summary = run_cycle(env, provider, clock.next())
        if i:
            inside.append(summary["processing_time"])
            wall.append(seconds)
    inside_s, wall_s, n = statistics.median(inside), statistics.median(wall), len(pairs)
    per_pair = round(inside_s / n * 1000, 2)
    return {"pairs": n, "processing_time_s": inside_s, "process_s": wall_s, "ms_per_pair": per_pair}


@dataclass(frozen=True)
class SizePlan:  # the sizes asked for; only the ``--big`` setup goes past ``max_pairs``
    sizes: list[int]
    max_pairs: int
    big: str
    cycles: int


def one_setup(
    engine: str, provider: str, plan: SizePlan, work: Path, admin: str | None
) -> dict[str, Any]:
    """Initialize one installation (10 pairs, then the rest), then the steady-state curve."""
    home = work / f"{engine}-{provider}"
    url = (
        f"sqlite+aiosqlite:///{home}/data/exchange_analytics.db"
        if engine == "sqlite"
        else create_pg_database(admin or "", prefix="ea_bench_scale")
    )
    sizes = [n for n in plan.sizes if n <= plan.max_pairs or f"{engine}-{provider}" == plan.big]
    pairs = pair_names(max([*sizes, INIT_PAIRS]))  # the initialization is of 10 pairs
    start = STARTS[provider]
    result: dict[str, Any] = {"engine": engine, "provider": provider, "sizes": []}
    result["skipped"] = sorted(set(plan.sizes) - set(sizes))  # listed as NOT RUN
    try:
        migrate(url, home)
        with yahoo_stand_in(pairs, start) if provider == "yahoo" else nullcontext() as stand_in:
            extra = {"YAHOO_BASE_URL": stand_in[1], "MIN_BARS": "20"} if stand_in else {}  # 6 weeks
            env = base_env(home, url, provider, pairs[:INIT_PAIRS], **extra)
            clock = Clock(start, stand_in[0] if stand_in else None)
            _, summary = run_cycle(env, provider, start)
            if provider == "demo":
                result["init"] = init_figures(engine, url, home, summary, work, admin)
                print(f"  {engine} init {result['init']}", file=sys.stderr, flush=True)
            if len(pairs) > INIT_PAIRS:  # the rest, as one run with no time limit
                rest = {"CURRENCY_PAIRS": ",".join(pairs), "MAX_PROCESSING_TIME": "7200"}
                run_cycle({**env, **rest}, provider, start)
            for size in sizes:
                result["sizes"].append(steady(env, provider, pairs[:size], clock, plan.cycles))
                if size == 1:  # the floor again, at the same moment as the one-pair process
                    result["floor_s"] = import_floor()
                print(f"  {engine} {provider} {result['sizes'][-1]}", file=sys.stderr, flush=True)
    finally:
        if engine == "postgres" and admin:
            drop_pg_database(admin, url)
    return result


def init_figures(
    engine: str, url: str, home: Path, summary: dict[str, Any], work: Path, admin: str | None
) -> dict[str, Any]:
    """Rows stored per second of the initialization's processing_time, and the reference."""
    seconds = summary["processing_time"]
    if engine == "sqlite":
        rows, raw = sqlite_raw_rate(home / "data" / "exchange_analytics.db", work / "raw.db")
        reference = "raw sqlite3 executemany upsert"
    else:
        rows, raw = psql_copy_rate(url, admin or "", work)
        reference = "psql \\copy"
    rate = rows / seconds
    return {
        "rows": rows,
        "processing_time_s": round(seconds, 2),
        "rows_per_s": round(rate),
        "reference": reference,
        "reference_rows_per_s": round(raw),
        "ratio": round(rate / raw, 3),
    }


def _row(figure: str, measured: str, target: str, ok: bool | None) -> dict[str, Any]:
    """One line of the table; ``ok`` None: not measured in this run (said, never hidden)."""
    return locals()


def setup_rows(setup: dict[str, Any], floor: float) -> list[dict[str, Any]]:
    """One installation's figures, each beside its target."""
    tag, rows = f"{setup['engine']}, {setup['provider']}", []
    if init := setup.get("init"):
        target = INIT_TARGETS[setup["engine"]]
        measured = (
            f"{init['ratio']:.2f}x ({init['rows']:,} rows in {init['processing_time_s']} s = "
            f"{init['rows_per_s']:,}/s; {init['reference']} {init['reference_rows_per_s']:,}/s)"
        )
        figure = f"initialization of {INIT_PAIRS} pairs, {tag}"
        rows.append(_row(figure, measured, f">= {target}x", init["ratio"] >= target))
    for size in setup["sizes"]:
        n, inside = size["pairs"], size["processing_time_s"]
        limit = SIZE_TARGETS_S.get(n, PER_PAIR_TARGET_S * n)
        measured = (
            f"{inside:.3f} s in process ({size['ms_per_pair']:.1f} ms/pair); "
            f"process {size['process_s']:.2f} s"
        )
        figure = f"steady cycle, {tag}, {n} pair{'s' if n > 1 else ''}"
        rows.append(_row(figure, measured, f"<= {limit:g} s", inside <= limit))
    for n in setup.get("skipped", []):
        limit = SIZE_TARGETS_S.get(n, PER_PAIR_TARGET_S * n)
        why = "not run (over --max-pairs; --max-pairs 100 or --big runs it)"
        rows.append(_row(f"steady cycle, {tag}, {n} pairs", why, f"<= {limit:g} s", None))
    sizes = {s["pairs"]: s for s in setup["sizes"]}
    if 1 in sizes and setup["engine"] == "sqlite" and setup["provider"] == "demo":
        floor = setup.get("floor_s", floor)
        ratio = sizes[1]["process_s"] / floor
        measured = f"{ratio:.2f}x ({sizes[1]['process_s']:.2f} s / {floor:.2f} s)"
        figure = "1-pair cron process / import floor, sqlite, demo"
        rows.append(_row(figure, measured, f"<= {PROCESS_TARGET}x", ratio <= PROCESS_TARGET))
    largest = max(sizes, default=0)
    if 10 in sizes and largest > 10:
        flat = sizes[largest]["ms_per_pair"] / sizes[10]["ms_per_pair"]
        figure = f"cost per pair, {largest} / 10 pairs, {tag}"
        rows.append(_row(figure, f"{flat:.2f}x", f"<= {FLAT_TARGET}x", flat <= FLAT_TARGET))
    return rows


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--sizes", default="1,10,30,100", help="pair counts, e.g. 1,10,30,100")
@click.option("--engines", default="sqlite,postgres")
@click.option("--providers", default="demo,yahoo")
@click.option("--cycles", type=int, default=3, help="measured cycles per size")
@click.option("--max-pairs", type=int, default=30, help="largest size elsewhere")
@click.option("--big", default="sqlite-demo", help="the setup run at every size")
@click.option("--json", "as_json", is_flag=True, help="one JSON object as the last line")
def main(
    sizes: str, engines: str, providers: str, cycles: int, max_pairs: int, big: str, as_json: bool
) -> None:
    plan = SizePlan(sorted(int(s) for s in sizes.split(",")), max_pairs, big, cycles)
    admin, notes = pg_admin_url(), list[str]()
    engine_names = engines.split(",")
    if "postgres" in engine_names and (problem := pg_reachable(admin)) is not None:
        engine_names.remove("postgres")
        notes.append(f"PostgreSQL skipped: {problem}")
    floor = import_floor()
    setups: list[dict[str, Any]] = []
    rows = [_row("import floor (median of 3)", f"{floor:.2f} s", "-", True)]
    with tempfile.TemporaryDirectory(prefix="ea-bench-scale-") as tmp:
        for engine, provider in itertools.product(engine_names, providers.split(",")):
            print(f"{engine} / {provider} ...", file=sys.stderr, flush=True)
            try:
                setups.append(one_setup(engine, provider, plan, Path(tmp), admin))
            except SystemExit as exc:  # one failed setup must not hide the others
                rows.append(_row(f"{engine}, {provider}", f"failed: {exc}"[:300], "-", False))
    rows += [row for setup in setups for row in setup_rows(setup, floor)]
    ok = all(r["ok"] is not False for r in rows)  # rows not run are listed as such
    figures = {"import_floor_s": round(floor, 3), "setups": setups, "notes": notes}
    if as_json:
        print(json.dumps({"name": "scale", "figures": figures, "rows": rows, "ok": ok}))
        return
    width = max(len(r["figure"]) for r in rows)
    for r in rows:
        mark = {True: "ok", False: "MISSED", None: "NOT RUN"}[r["ok"]]
        print(f"{r['figure']:<{width}}  {r['measured']}  target {r['target']}  {mark}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()

"""Backfill insert throughput into PostgreSQL: the project's path vs ``psql \\copy`` (SPEC §15).

The same ``--rows`` price_data rows (seeded synthetic 5m candles over several pairs) are
loaded three ways, each into a fresh database migrated by alembic (so indexes, the unique
constraint and the table are exactly production's):

* the project's path: ``storage.candles.write_rows`` -> ``dialect.bulk_upsert``, which for a
  batch this size is asyncpg binary COPY into a staging table and one set-based upsert;
* ``psql -c "\\copy price_data (...) FROM 'rows.csv' WITH (FORMAT csv)"`` of the same rows
  (the reference the SPEC measures against, ~140k rows/s on this machine kind);
* SQLAlchemy Core ``execute(insert(table), rows)`` (executemany), for reference, on a
  smaller slice because it is several times slower.

Rows/s are wall time of the load including its commit; the ratio project / psql is the
figure (target >= 1.0). Needs PostgreSQL at TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and ``psql`` on PATH; without them it says so
and reports ``ok: false`` with a note. A measurement, not a test: it always exits 0.

Example:
    .venv/bin/python bench/bench_backfill_copy.py --rows 500000 --json
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.faults import (  # noqa: E402
    async_url,
    create_pg_database,
    drop_pg_database,
    migrate,
    pg_admin_url,
    pg_reachable,
    pg_run,
)

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h still works, as before
TARGET = 1.0
PAIRS = ("USD/JPY", "EUR/USD", "GBP/USD", "AUD/USD", "USD/CHF")
COLUMNS = (
    "currency_pair",
    "timeframe",
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "source",
    "bar_count",
    "is_complete",
    "created_at",
    "updated_at",
)


def synthetic_rows(count: int, seed: int = 15) -> list[dict[str, Any]]:
    """``count`` price_data rows: consecutive 5m candles, split evenly over PAIRS."""
    rng = np.random.default_rng(seed)
    per_pair = -(-count // len(PAIRS))
    start = datetime(2020, 1, 6, tzinfo=UTC)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for pair in PAIRS:
        close = 100.0 + np.cumsum(rng.normal(0.0, 0.02, per_pair))
        open_ = np.concatenate([[100.0], close[:-1]])
        wick = rng.uniform(0.0, 0.03, (2, per_pair))
        high = np.maximum(open_, close) + wick[0]
        low = np.minimum(open_, close) - wick[1]
        volume = rng.integers(1, 500, per_pair).astype(float)
        for i in range(per_pair):
            if len(rows) == count:
                break
            rows.append(
                {
                    "currency_pair": pair,
                    "timeframe": "5m",
                    "timestamp": start + timedelta(minutes=5 * i),
                    "open": float(open_[i]),
                    "high": float(high[i]),
                    "low": float(low[i]),
                    "close": float(close[i]),
                    "volume": float(volume[i]),
                    "source": "bench",
                    "bar_count": None,
                    "is_complete": True,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        for row in rows:
            writer.writerow(
                ["" if row[c] is None else ("t" if row[c] is True else row[c]) for c in COLUMNS]
            )


async def _project_load(url: str, rows: list[dict[str, Any]], *, first: bool) -> tuple[float, int]:
    """``write_rows`` in one transaction: (seconds, rows in the table afterwards).

    ``first=True`` makes it the transaction's first statement (as ``market_data._store``
    calls it); otherwise a ``SELECT 1`` runs first (as in ``derive_full``, after its reads).
    """
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from exchange_analytics.storage.candles import write_rows

    engine = create_async_engine(async_url(url)[0])
    try:
        async with engine.connect() as conn:  # connection set up outside the timing
            await conn.close()
        started = time.perf_counter()
        async with engine.begin() as conn:
            if not first:
                await conn.execute(text("SELECT 1"))
            await write_rows(conn, rows)
        elapsed = time.perf_counter() - started
        async with engine.connect() as conn:
            stored = int((await conn.execute(text("SELECT count(*) FROM price_data"))).scalar_one())
    finally:
        await engine.dispose()
    return elapsed, stored


async def _executemany_load(url: str, rows: list[dict[str, Any]]) -> float:
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from exchange_analytics.storage.models import PriceData

    engine = create_async_engine(async_url(url)[0])
    try:
        started = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(insert(PriceData.__table__), rows)
        return time.perf_counter() - started
    finally:
        await engine.dispose()


def _psql_load(url: str, csv_path: Path) -> float:
    libpq = url.replace("postgresql+asyncpg://", "postgresql://")
    command = f"\\copy price_data ({', '.join(COLUMNS)}) FROM '{csv_path}' WITH (FORMAT csv)"
    started = time.perf_counter()
    subprocess.run(
        ["psql", libpq, "-v", "ON_ERROR_STOP=1", "-q", "-c", command],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _count(url: str) -> int:
    return int(pg_run(url, "SELECT count(*) FROM price_data")[0][0][0])


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option(
    "--rows", "row_count", type=int, default=500_000, help="rows to load (default 500000)"
)
@click.option(
    "--executemany-rows", type=int, default=100_000, help="rows for the executemany reference"
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(row_count: int, executemany_rows: int, as_json: bool) -> None:

    admin = pg_admin_url()
    problem = pg_reachable(admin)
    if problem is None and shutil.which("psql") is None:
        problem = "psql is not on PATH"
    if problem:
        note = f"skipped: PostgreSQL or psql unavailable ({problem})"
        if as_json:
            print(
                json.dumps(
                    {
                        "name": "backfill_copy",
                        "figures": {"note": note},
                        "target": TARGET,
                        "ratio": None,
                        "ok": False,
                    }
                )
            )
        else:
            print(note)
        return

    rows = synthetic_rows(row_count)
    figures: dict[str, Any] = {"rows": len(rows)}
    with tempfile.TemporaryDirectory(prefix="bench-copy-") as tmp:
        template = create_pg_database(admin, prefix="ea_bench_tmpl")
        try:
            migrate(template, Path(tmp))
            csv_path = Path(tmp) / "rows.csv"
            write_csv(rows, csv_path)
            timings: dict[str, float] = {}
            for name in ("psql_copy", "project_copy_upsert", "executemany"):
                url = create_pg_database(admin, template.rsplit("/", 1)[1], prefix="ea_bench")
                try:
                    if name == "psql_copy":
                        timings[name] = _psql_load(url, csv_path)
                        loaded = len(rows)
                    elif name == "project_copy_upsert":
                        timings[name], _ = asyncio.run(_project_load(url, rows, first=False))
                        loaded = len(rows)
                    else:
                        part = rows[:executemany_rows]
                        timings[name] = asyncio.run(_executemany_load(url, part))
                        loaded = len(part)
                    if _count(url) != loaded:
                        raise SystemExit(
                            f"{name}: {_count(url)} rows in the table, expected {loaded}"
                        )
                    figures[f"{name}_rows"] = loaded
                    figures[f"{name}_s"] = round(timings[name], 3)
                    figures[f"{name}_rows_per_s"] = round(loaded / timings[name])
                finally:
                    drop_pg_database(admin, url)
            # Correctness probe: the same path as the first statement of its transaction.
            url = create_pg_database(admin, template.rsplit("/", 1)[1], prefix="ea_bench")
            try:
                probe = rows[:5000]
                _, stored = asyncio.run(_project_load(url, probe, first=True))
                figures["first_statement_probe"] = f"{stored} of {len(probe)} rows stored"
            finally:
                drop_pg_database(admin, url)
        finally:
            drop_pg_database(admin, template)

    psql_rate = figures["psql_copy_rows_per_s"]
    ratio = figures["project_copy_upsert_rows_per_s"] / psql_rate
    figures["executemany_vs_psql"] = round(figures["executemany_rows_per_s"] / psql_rate, 3)
    probe_ok = figures["first_statement_probe"].startswith(f"{min(5000, len(rows))} of")
    ok = ratio >= TARGET and probe_ok
    rows_out = [
        {
            "figure": "backfill insert vs psql \\copy (PostgreSQL)",
            "measured": f"{ratio:.2f}x ({figures['project_copy_upsert_rows_per_s']:,} vs "
            f"{psql_rate:,} rows/s)",
            "target": f">= {TARGET:.1f}x",
            "ok": ok,
        },
        {
            "figure": "SQLAlchemy Core executemany vs psql \\copy (reference)",
            "measured": f"{figures['executemany_vs_psql']:.2f}x",
            "target": "(reference ~0.25x)",
            "ok": True,
        },
        {
            "figure": "bulk_upsert as first statement of a transaction",
            "measured": figures["first_statement_probe"],
            "target": "all rows stored",
            "ok": probe_ok,
        },
    ]
    if as_json:
        print(
            json.dumps(
                {
                    "name": "backfill_copy",
                    "figures": figures,
                    "target": TARGET,
                    "ratio": round(ratio, 3),
                    "ok": ok,
                    "rows": rows_out,
                }
            )
        )
        return
    print(f"backfill of {len(rows):,} price_data rows into PostgreSQL (fresh database each)")
    for name, label in (
        ("psql_copy", "psql \\copy (CSV)"),
        ("project_copy_upsert", "project bulk_upsert"),
        ("executemany", "Core executemany"),
    ):
        seconds, rate, count = (figures[f"{name}_{k}"] for k in ("s", "rows_per_s", "rows"))
        print(f"  {label:<22} {seconds:8.2f} s  {rate:>10,} rows/s  ({count:,} rows)")
    print(
        f"  ratio project / psql   {ratio:8.2f}x   target >= {TARGET:.1f}x  "
        f"{'ok' if ratio >= TARGET else 'BELOW TARGET'}"
    )
    print(
        f"  bulk_upsert as the first statement of a transaction: "
        f"{figures['first_statement_probe']}{'' if probe_ok else '  <- ROWS LOST'}"
    )


if __name__ == "__main__":
    main()

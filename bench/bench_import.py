"""``exchange-analytics import`` of a year of HistData 1-minute bars (issue 16, SPEC §3.4, §15).

The file is the real ``HISTDATA_COM_MT_USDJPY_M12024.zip`` (372,083 one-minute rows, read
straight from the zip, on HistData's real clock, aggregated to 74,711 5m bars). Measured as
cron or a user runs it, as a whole process (``exchange-analytics import FILE --pair USD/JPY
--json``) into a freshly migrated database: wall time and peak RSS of the process, with and
without the rebuild of 1h/4h/1d and indicators (``--no-derive``), plus the reading alone
in-process (parse + aggregate, no database). Target: the whole import within 60 s on SQLite.
With PostgreSQL reachable (TEST_POSTGRES_URL) the same is measured there.

A measurement, not a test: it exits 0 whether or not the target is met.

Example:
    .venv/bin/python bench/bench_import.py --json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.support.faults import (  # noqa: E402
    CLI,
    create_pg_database,
    cron_env,
    drop_pg_database,
    migrate,
    pg_admin_url,
    pg_reachable,
)
from tests.support.paths import REAL_DATA  # noqa: E402

ZIP = REAL_DATA / "histdata" / "HISTDATA_COM_MT_USDJPY_M12024.zip"
TARGET_S = 60.0
#: GNU time, for the peak RSS of the import process.
TIME = Path("/usr/bin/time")


def _import(env: dict[str, str], *extra: str) -> dict[str, object]:
    """One import process: wall seconds, peak RSS (MiB) and its JSON summary."""
    rss_file = Path(env["HOME"]) / "peak_rss_kib"
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if TIME.exists() else []
    started = time.perf_counter()
    done = subprocess.run(
        [*timer, str(CLI), "import", str(ZIP), "--pair", "USD/JPY", "--json", *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=env["HOME"],
    )
    seconds = time.perf_counter() - started
    peak = int(rss_file.read_text().split()[-1]) if timer else 0
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    summary = json.loads(done.stdout)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak / 1024, 1) if timer else None,
        "rows_read": summary["rows_read"],
        "bars_5m": summary["rows_imported"],
        "rows_per_s": round(summary["rows_read"] / seconds),
    }


def _parse_only() -> dict[str, object]:
    from exchange_analytics.providers.csv_import import parse_csv

    started = time.perf_counter()
    parsed = parse_csv(ZIP)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "rows_read": parsed.rows,
        "bars_5m": len(parsed.candles),
        "rows_per_s": round(parsed.rows / seconds),
    }


def measure(kind: str, url: str, home: Path) -> dict[str, object]:
    home.mkdir(parents=True, exist_ok=True)
    migrate(url, home)
    env = cron_env(home, url)
    stored = _import(env, "--no-derive")
    return {"database": kind, "store_only": stored}


def measure_full(kind: str, url: str, home: Path) -> dict[str, object]:
    home.mkdir(parents=True, exist_ok=True)
    migrate(url, home)
    return {"database": kind, "full": _import(cron_env(home, url))}


def _rows(
    parse: dict[str, object], results: list[dict[str, object]]
) -> tuple[list[dict[str, object]], float]:
    """The printed rows, and the SQLite full-import seconds (the figure with a target)."""
    rows: list[dict[str, object]] = [
        {
            "figure": "read + aggregate a year of 1m bars (in-process, no database)",
            "measured": f"{parse['seconds']} s ({parse['rows_per_s']} rows/s)",
            "target": "-",
            "ok": True,
        }
    ]
    sqlite_full = 0.0
    for r in results:
        for key, name in (("store_only", "--no-derive"), ("full", "with 1h/4h/1d + indicators")):
            figure = r.get(key)
            if not isinstance(figure, dict):
                continue
            if r["database"] == "sqlite" and key == "full":
                sqlite_full = float(figure["seconds"])
            rows.append(
                {
                    "figure": f"import 372k 1m rows, {r['database']}, {name}",
                    "measured": f"{figure['seconds']} s ({figure['rows_per_s']} rows/s, "
                    f"peak RSS {figure['peak_rss_mib']} MiB)",
                    "target": f"<= {TARGET_S:g} s" if r["database"] == "sqlite" else "-",
                    "ok": float(figure["seconds"]) <= TARGET_S,
                }
            )
    return rows, sqlite_full


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h as argparse had it


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--no-postgres", is_flag=True, help="SQLite only")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(no_postgres: bool, as_json: bool) -> None:

    results: list[dict[str, object]] = []
    notes: list[str] = []
    parse = _parse_only()
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for label in ("store", "full"):
            home = Path(tmp) / f"sqlite-{label}"
            url = f"sqlite+aiosqlite:///{home}/data/exchange_analytics.db"
            run = measure if label == "store" else measure_full
            results.append(run("sqlite", url, home))
        admin = pg_admin_url()
        reason = None if no_postgres else pg_reachable(admin)
        if no_postgres or reason:
            notes.append(f"PostgreSQL skipped ({reason or '--no-postgres'})")
        else:
            for label in ("store", "full"):
                url = create_pg_database(admin, prefix="ea_bench_import")
                try:
                    run = measure if label == "store" else measure_full
                    results.append(run("postgres", url, Path(tmp) / f"pg-{label}"))
                finally:
                    drop_pg_database(admin, url)

    rows, sqlite_full = _rows(parse, results)
    ok = sqlite_full <= TARGET_S
    if as_json:
        print(
            json.dumps(
                {
                    "name": "import",
                    "figures": {"parse": parse, "results": results, "notes": notes},
                    "target": f"a year of 1m bars imported on SQLite within {TARGET_S:g} s",
                    "ratio": round(sqlite_full / TARGET_S, 3),
                    "ok": ok,
                    "rows": rows,
                }
            )
        )
        return
    for row in rows:
        mark = "ok" if row["ok"] else "MISSED"
        print(f"{row['figure']}: {row['measured']}  target {row['target']}  {mark}")
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()

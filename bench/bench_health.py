"""``exchange-analytics health`` as a whole process: time and what it imports (SPEC §9.2, §15).

Cron runs the health check every 10 minutes as a fresh process, so what counts is the whole
process: interpreter start, imports, settings, the database and provider checks, the JSON
report. This script prepares an installation (migrated SQLite database holding one demo cycle,
so every component has data to read), runs ``exchange-analytics health --json`` once to warm
the page cache, then ``--runs`` more times and reports the median wall time beside the target
(<= 1.0 s). One more run under ``python -X importtime`` lists every top-level module the
process imported; pandas, numpy and TA-Lib must not be among them.

With ``--postgres`` (default when reachable) the same is measured against a fresh PostgreSQL
database at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).

A measurement, not a test: it exits 0 whether or not the targets are met.

Example:
    .venv/bin/python bench/bench_health.py --runs 9 --json
"""

from __future__ import annotations

import json
import statistics
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
    python,
    run_cron,
)

TARGET_S = 1.0
FORBIDDEN = ("pandas", "numpy", "talib")


def _time_health(env: dict[str, str], runs: int) -> tuple[float, list[float], int]:
    """Median wall seconds of ``health --json`` processes (after one warm-up run)."""
    command = [str(CLI), "health", "--json"]
    subprocess.run(command, env=env, capture_output=True, check=False, cwd=env["HOME"])
    times = []
    code = 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False, cwd=env["HOME"])
        times.append(time.perf_counter() - started)
        code = done.returncode
    return statistics.median(times), times, code


def _top_level_imports(env: dict[str, str]) -> list[str]:
    """Top-level names of every module the health process imported (``-X importtime``)."""
    done = subprocess.run(
        [python(), "-X", "importtime", str(CLI), "health", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=env["HOME"],
    )
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "imported package" not in line:
            module = line.rsplit("|", 1)[1].strip()
            if module:
                names.add(module.split(".")[0])
    return sorted(names)


def _prepare(home: Path, url: str) -> dict[str, str]:
    migrate(url, home)
    env = cron_env(home, url)
    done = run_cron(env, out_dir=home / "out")  # one real demo cycle: data to look at
    if done.returncode != 0:
        raise SystemExit(f"could not prepare the installation: {done.describe()}")
    return env


def measure(kind: str, url: str, home: Path, runs: int) -> dict[str, object]:
    env = _prepare(home, url)
    median, times, code = _time_health(env, runs)
    modules = _top_level_imports(env)
    third_party = [m for m in modules if m not in sys.stdlib_module_names and m != "_"]
    forbidden = [m for m in FORBIDDEN if m in modules]
    return {
        "database": kind,
        "median_s": round(median, 3),
        "min_s": round(min(times), 3),
        "max_s": round(max(times), 3),
        "runs": runs,
        "health_exit_code": code,
        "third_party_modules": third_party,
        "forbidden_imported": forbidden,
        "ok": median <= TARGET_S and not forbidden,
    }


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h as argparse had it


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--runs", "runs_asked", type=int, default=7, help="timed runs (>= 7; default 7)")
@click.option("--no-postgres", is_flag=True, help="SQLite only")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def main(runs_asked: int, no_postgres: bool, as_json: bool) -> None:
    runs = max(7, runs_asked)

    results = []
    notes = []
    with tempfile.TemporaryDirectory(prefix="bench-health-") as tmp:
        home = Path(tmp) / "sqlite"
        results.append(
            measure("sqlite", f"sqlite+aiosqlite:///{home}/data/exchange_analytics.db", home, runs)
        )
        admin = pg_admin_url()
        reason = None if no_postgres else pg_reachable(admin)
        if no_postgres:
            notes.append("PostgreSQL skipped (--no-postgres)")
        elif reason:
            notes.append(f"PostgreSQL skipped: not reachable ({reason})")
        else:
            url = create_pg_database(admin, prefix="ea_bench_health")
            try:
                results.append(measure("postgres", url, Path(tmp) / "pg", runs))
            finally:
                drop_pg_database(admin, url)

    ok = all(bool(r["ok"]) for r in results)
    worst = max(float(r["median_s"]) for r in results)  # type: ignore[arg-type]
    rows = [
        {
            "figure": f"health whole process ({r['database']}), median of {r['runs']}",
            "measured": f"{r['median_s']} s",
            "target": f"<= {TARGET_S} s",
            "ok": float(r["median_s"]) <= TARGET_S,  # type: ignore[arg-type]
        }
        for r in results
    ] + [
        {
            "figure": "health imports pandas/numpy/talib",
            "measured": ", ".join(sorted({m for r in results for m in r["forbidden_imported"]}))  # type: ignore[attr-defined]
            or "none",
            "target": "none",
            "ok": not any(r["forbidden_imported"] for r in results),
        }
    ]
    if as_json:
        print(
            json.dumps(
                {
                    "name": "health",
                    "figures": {"results": results, "notes": notes},
                    "target": f"median <= {TARGET_S} s, no pandas/numpy/talib",
                    "ratio": round(worst / TARGET_S, 3),
                    "ok": ok,
                    "rows": rows,
                }
            )
        )
        return
    for r in results:
        print(
            f"health ({r['database']}): median {r['median_s']} s over {r['runs']} runs "
            f"(min {r['min_s']}, max {r['max_s']}; exit code {r['health_exit_code']}) "
            f"target <= {TARGET_S} s  {'ok' if r['ok'] else 'MISSED'}"
        )
        print(f"  third-party modules imported: {', '.join(r['third_party_modules'])}")  # type: ignore[arg-type]
        print(f"  forbidden imported: {r['forbidden_imported'] or 'none'}")
    for note in notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()

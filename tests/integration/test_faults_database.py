"""The database goes away (SPEC §13.5, §13.3).

* Unreachable PostgreSQL: one line naming host, port and database (never the password),
  exit 1, no traceback, nothing secret in the log files either.
* The server "restarts" in the middle of a cycle. The shared test server must not really be
  restarted (other sessions use it), so the restart is reproduced at the database level:
  ``ALTER DATABASE … ALLOW_CONNECTIONS false`` refuses new sessions as a starting server
  does, and ``pg_terminate_backend`` drops every open one as a stopping server does. The run
  that is hit must fail cleanly (exit 1, one line); once connections are allowed again the
  next run must succeed and leave exactly the reference data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.faults import (
    AS_OF,
    CronProcess,
    FaultTally,
    all_text_under,
    compare_states,
    create_pg_database,
    cron_env,
    cycle_log,
    database_name,
    drop_pg_database,
    format_tally,
    free_port,
    iso,
    log_events,
    pg_run,
    read_state,
    record_faults,
    run_cron,
    terminate_backends,
    unrecognisable_running_rows,
    wait_until,
)

PASSWORD = "pw-SECRET-db-7f3a9c"
LONG_BACKFILL = {
    "BACKFILL_DAYS_5M": "20",
    "BACKFILL_DAYS_1H": "120",
    "BACKFILL_DAYS_4H": "120",
    "BACKFILL_DAYS_1D": "120",
}
TALLY = FaultTally()


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    record_faults("database", TALLY)
    print("\n" + format_tally("database", TALLY))


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+asyncpg"])
def test_unreachable_postgres_is_one_line_without_the_password(scheme: str, tmp_path: Path) -> None:
    port = free_port()
    url = f"{scheme}://fx_user:{PASSWORD}@127.0.0.1:{port}/fx_prod"
    home = tmp_path / "home"
    TALLY.faults_injected += 1
    TALLY.add_stage("connect refused")
    done = run_cron(cron_env(home, url), "--as-of", iso(AS_OF), out_dir=home / "out", timeout=120)

    assert done.returncode == 1, done.describe()
    assert len(done.stderr_lines) == 1, done.describe()
    line = done.stderr_lines[0]
    assert "127.0.0.1" in line and str(port) in line and "fx_prod" in line, line
    assert "Traceback" not in done.stderr
    everything = done.stdout + done.stderr + all_text_under(home / "logs")
    assert PASSWORD not in everything


@pytest.mark.postgres
@pytest.mark.slow
def test_connections_dropped_mid_cycle_fail_cleanly_and_the_next_run_succeeds(
    postgres_url: str, pg_admin_url: str, pg_template: str, tmp_path: Path
) -> None:
    reference_url = create_pg_database(pg_admin_url, pg_template, "ea_ref")
    try:
        ref_home = tmp_path / "reference"
        done = run_cron(
            cron_env(ref_home, reference_url, **LONG_BACKFILL),
            "--as-of",
            iso(AS_OF),
            out_dir=ref_home,
        )
        assert done.returncode == 0, done.describe()
        reference = read_state(reference_url)
    finally:
        drop_pg_database(pg_admin_url, reference_url)

    name = database_name(postgres_url)
    home = tmp_path / "home"
    env = cron_env(home, postgres_url, **LONG_BACKFILL)
    started = time.time()
    victim = CronProcess(env, ["--as-of", iso(AS_OF)], home / "out")

    def mid_backfill() -> bool:
        return any(
            e.get("event") == "backfill.chunk"
            and datetime.fromisoformat(str(e["timestamp"]).replace("Z", "+00:00")).timestamp()
            >= started
            for e in log_events(cycle_log(home))
        )

    TALLY.kills_tried += 1
    assert wait_until(mid_backfill, timeout=120, while_alive=victim), victim.wait(10).describe()
    terminated = 0
    try:
        pg_run(pg_admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        terminated = terminate_backends(pg_admin_url, name)
        failed = victim.wait(timeout=120)
    finally:
        pg_run(pg_admin_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    TALLY.faults_injected += 1
    TALLY.add_stage(f"backends terminated mid-backfill ({terminated})")

    assert terminated >= 1, "the cycle had no open session to drop"
    assert failed.returncode == 1, failed.describe()
    assert len(failed.stderr_lines) == 1, failed.describe()
    assert "Traceback" not in failed.stderr
    assert name in failed.stderr_lines[0], failed.stderr_lines[0]

    recovered = run_cron(env, "--as-of", iso(AS_OF), out_dir=home / "out")
    assert recovered.returncode == 0, recovered.describe()
    state = read_state(postgres_url)
    assert state.runs[-1]["status"] == "success", state.runs[-1]
    comparison = compare_states(reference, state)
    TALLY.duplicates_found += state.duplicate_total
    TALLY.bars_missing += len(comparison.missing_bars)
    TALLY.bars_differing += len(comparison.differing_bars)
    TALLY.runs_checked += len(state.runs)
    assert state.duplicate_total == 0
    assert not comparison.problems(), "; ".join(comparison.problems())
    assert not unrecognisable_running_rows(state), state.runs

"""The crontab (SPEC §12) rendered for an installation and every line executed the way cron
runs it: ``env -i`` with cron's few variables plus the crontab's own variable lines, the
command through ``sh -c``, the working directory somewhere unrelated. Also ``logs maintain``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange_analytics.cli.ops_cmd import crontab as crontab_command
from exchange_analytics.cli.ops_cmd import logs as logs_command
from exchange_analytics.maintenance.crontab import PROJECT_ROOT, CrontabPaths, render

CRON_PATH = "/usr/bin:/bin"
VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
SMALL_INSTALL = """\
MARKET_DATA_PROVIDER=demo
BACKFILL_DAYS_5M=2
BACKFILL_DAYS_1H=30
BACKFILL_DAYS_4H=30
BACKFILL_DAYS_1D=30
MIN_BARS=20
"""


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(variables, [(schedule, command)]) as cron reads them; ``\\%`` becomes ``%``."""
    variables: dict[str, str] = {}
    jobs: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        variable = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
        if variable:
            variables[variable.group(1)] = variable.group(2).strip().strip("\"'")
            continue
        fields = line.split(None, 5)
        assert len(fields) == 6, f"not a cron line: {line!r}"
        assert "%" not in fields[5].replace("\\%", ""), f"unescaped % in {line!r}"
        jobs.append((" ".join(fields[:5]), fields[5].replace("\\%", "%")))
    return variables, jobs


def run_like_cron(
    command: str, variables: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    cron_env = [f"HOME={cwd}", "LOGNAME=cron", "SHELL=/bin/sh", f"PATH={CRON_PATH}"]
    cron_env += [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(
        ["env", "-i", *cron_env, "sh", "-c", command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def installation(tmp_path: Path, sqlite_template: Path) -> Path:
    """A separate installation home: .env (mode 600) and a migrated SQLite database."""
    home = tmp_path / "install"
    (home / "data").mkdir(parents=True)
    shutil.copyfile(sqlite_template, home / "data" / "exchange_analytics.db")
    env_file = home / ".env"
    env_file.write_text(SMALL_INSTALL)
    env_file.chmod(0o600)
    return home


def rendered_for(home: Path) -> str:
    result = CliRunner().invoke(crontab_command, ["--home", str(home)])
    assert result.exit_code == 0, result.output
    return result.output


def test_rendered_crontab_has_every_job_with_absolute_paths(installation: Path) -> None:
    text = rendered_for(installation)
    assert not re.search(r"\{(PROJECT_ROOT|PYTHON|LOG_DIR|INSTALL_HOME|ENVIRONMENT)\}", text)
    variables, jobs = parse(text)
    assert variables == {"EXCHANGE_ANALYTICS_HOME": str(installation.resolve())}
    schedules = [schedule for schedule, _ in jobs]
    assert schedules == [
        "*/5 * * * *",
        "2-59/10 * * * *",
        "17 0 * * *",
        "23 0 * * *",
        "37 12 * * 6",
        "7 1 1 * *",
    ]
    cycle = jobs[0][1]
    assert cycle.startswith(
        f"{VENV_PYTHON} {PROJECT_ROOT}/scripts/cron/continuous_processing_cron.py"
    )
    assert "--health-check-only" in jobs[1][1]
    for _, command in jobs:
        program = command.split()[0]
        assert Path(program).is_absolute() and Path(program).exists()
        for target in re.findall(r"(?<![0-9])>>?\s*([^&\s]\S*)", command):
            assert target == "/dev/null" or target.startswith(str(installation.resolve()))
    assert (installation / "logs").is_dir()  # created: cron's redirections need it


def test_standard_install_needs_no_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k != "EXCHANGE_ANALYTICS_HOME"}
    done = subprocess.run(
        [sys.executable, "-m", "exchange_analytics", "crontab"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    variables, jobs = parse(done.stdout)
    assert variables == {}
    assert all(str(PROJECT_ROOT) in command for _, command in jobs)


def test_paths_are_quoted_and_percent_escaped() -> None:
    odd = Path("/srv/fx 100%/install")
    paths = CrontabPaths(odd, odd / ".venv/bin/python", odd / "logs", odd, {})
    text = render(paths)
    _, jobs = parse(text)
    assert "'/srv/fx 100\\%/install'/scripts/cron/continuous_processing_cron.py" in text
    assert "'/srv/fx 100%/install'/scripts/cron/continuous_processing_cron.py" in jobs[0][1]


def test_install_hint_is_comments_only(installation: Path) -> None:
    result = CliRunner().invoke(crontab_command, ["--home", str(installation), "--install-hint"])
    assert result.exit_code == 0
    hint = result.output.split("#\n# To install", 1)[1]
    assert all(line.startswith("#") for line in ("# To install" + hint).splitlines())


def test_every_line_runs_under_cron_minimal_environment(installation: Path, tmp_path: Path) -> None:
    variables, jobs = parse(rendered_for(installation))
    cron_home = tmp_path / "cron-home"
    cron_home.mkdir()
    logs = installation / "logs"
    by_name = {
        "cycle": jobs[0][1],
        "health": jobs[1][1],
        "logs": jobs[2][1],
        "track_records": jobs[3][1],
        "optimization": jobs[4][1],
        "analysis": jobs[5][1],
    }

    cycle = run_like_cron(by_name["cycle"], variables, cron_home)
    output = (logs / "cron_output.log").read_text() if (logs / "cron_output.log").exists() else ""
    assert cycle.returncode == 0, output
    summary = [
        json.loads(line)
        for line in (logs / "continuous_processing_cron.log").read_text().splitlines()
        if '"cycle.summary"' in line
    ]
    assert summary and "processing_time" in summary[-1]

    health = run_like_cron(by_name["health"], variables, cron_home)
    assert health.returncode in (0, 1), (logs / "cron_output.log").read_text()
    verdict = json.loads((logs / "health_check_cron.log").read_text().splitlines()[-1])
    assert verdict["event"] == "health.check"
    assert verdict["components"]["last_run"]["status"] == "ok"
    assert verdict["components"]["env_file"]["status"] == "ok"

    maintain = run_like_cron(by_name["logs"], variables, cron_home)
    assert maintain.returncode == 0
    assert f"logs in {logs.resolve()}" in (logs / "cron_output.log").read_text()

    records = run_like_cron(by_name["track_records"], variables, cron_home)
    output = (logs / "cron_output.log").read_text()
    assert records.returncode == 0, output
    assert "track record rows" in output

    optimization = run_like_cron(by_name["optimization"], variables, cron_home)
    report = (logs / "database_optimization.log").read_text()
    assert optimization.returncode == 0, report
    assert "retention" in report and "VACUUM" in report

    analysis = run_like_cron(by_name["analysis"], variables, cron_home)
    text = (logs / "performance_analysis.log").read_text()
    assert analysis.returncode == 0, text
    last_month = (datetime.now(UTC).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert f"system report {last_month}" in text
    assert (installation / "reports" / f"performance_{last_month}.png").is_file()
    # Nothing lands in cron's working directory ($HOME) but per-user caches (matplotlib's).
    assert [p.name for p in cron_home.iterdir() if not p.name.startswith(".")] == []


# --- logs maintain ------------------------------------------------------------------------


def age(path: Path, days: float) -> None:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "continuous_processing_cron.log").write_bytes(b"x" * (10 * 1024 * 1024 + 10))
    (logs / "health_check_cron.log").write_text("small\n")
    old_error = logs / "error_alert.log.20200101T000000000000.gz"
    old_error.write_bytes(gzip.compress(b"old"))
    age(old_error, 8)
    recent_error = logs / "error_alert.log.20200102T000000000000.gz"
    recent_error.write_bytes(gzip.compress(b"recent"))
    age(recent_error, 6)
    idle = logs / "cron_output.log.20200103T000000000000"
    idle.write_text("rotated yesterday\n")
    age(idle, 1)
    (logs / "cron_output.log").write_text("current\n")
    return logs


def maintain(log_dir: Path, *args: str) -> dict[str, object]:
    env = {"EXCHANGE_ANALYTICS_HOME": str(log_dir.parent), "LOG_FILE": str(log_dir)}
    result = CliRunner().invoke(logs_command, ["maintain", "--json", *args], env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_logs_maintain_dry_run_changes_nothing(log_dir: Path) -> None:
    before = sorted(p.name for p in log_dir.iterdir())
    plan = maintain(log_dir, "--dry-run")
    assert plan["rotated"] == ["continuous_processing_cron.log"]
    assert plan["deleted"] == ["error_alert.log.20200101T000000000000.gz"]
    assert plan["compressed"] == ["cron_output.log.20200103T000000000000"]
    assert sorted(p.name for p in log_dir.iterdir()) == before


def test_logs_maintain_rotates_compresses_and_expires(log_dir: Path) -> None:
    done = maintain(log_dir)
    assert done["rotated"] == ["continuous_processing_cron.log"]
    assert done["deleted"] == ["error_alert.log.20200101T000000000000.gz"]
    assert "cron_output.log.20200103T000000000000" in done["compressed"]  # type: ignore[operator]
    names = {p.name for p in log_dir.iterdir()}
    assert "error_alert.log.20200102T000000000000.gz" in names  # 6 days: kept
    assert "cron_output.log.20200103T000000000000.gz" in names
    assert gzip.decompress((log_dir / "cron_output.log.20200103T000000000000.gz").read_bytes())
    assert not (log_dir / "continuous_processing_cron.log").exists()  # renamed aside
    rotated = [n for n in names if n.startswith("continuous_processing_cron.log.")]
    assert len([n for n in rotated if not n.endswith(".lock")]) == 1

"""The command line as a user and as cron use it: help everywhere, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange_analytics.cli.main import COMMANDS, cli
from tests.support.paths import PROJECT_ROOT

CRON_SCRIPT = PROJECT_ROOT / "scripts" / "cron" / "continuous_processing_cron.py"
VENV_PYTHON = Path(sys.executable)
SMALL = {
    "BACKFILL_DAYS_5M": "3",
    "BACKFILL_DAYS_1H": "30",
    "BACKFILL_DAYS_4H": "30",
    "BACKFILL_DAYS_1D": "30",
    "MIN_BARS": "20",
}


def _all_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(group, prefix):  # type: ignore[no-untyped-def]
        ctx = group.make_context("x", [], resilient_parsing=True)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            found.append([*prefix, name])
            if hasattr(command, "list_commands"):
                walk(command, [*prefix, name])

    walk(cli, [])
    return found


@pytest.mark.parametrize("args", _all_commands(), ids=lambda a: " ".join(a))
def test_every_command_has_help_with_an_example(args):
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) > 3
    command = cli
    for name in args:
        command = command.get_command(None, name)  # type: ignore[attr-defined]
    if not hasattr(command, "list_commands"):
        assert "Example" in result.output, f"{' '.join(args)} --help has no example"


def test_every_lazy_command_is_documented_in_readme():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for name in COMMANDS:
        assert f"exchange-analytics {name}" in readme, name


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "MARKET_DATA_PROVIDER": "demo",
        **SMALL,
        **extra,
    }


def _run(args: list[str], env: dict[str, str], cwd: str = "/") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_bad_database_url_is_exit_2_naming_the_variable(tmp_path):
    result = _run(
        [str(VENV_PYTHON), "-m", "exchange_analytics", "cycle"],
        _env(tmp_path, DATABASE_URL="nonsense://x"),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL" in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_postgres_is_exit_1_with_host_and_no_password(tmp_path):
    url = "postgresql://fx:hunter2secret@127.0.0.1:1/fxdb"
    result = _run(
        [str(VENV_PYTHON), "-m", "exchange_analytics", "cycle"], _env(tmp_path, DATABASE_URL=url)
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "127.0.0.1:1/fxdb" in lines[0]
    assert "hunter2secret" not in result.stderr + result.stdout


def test_cron_script_by_absolute_path_from_root_under_minimal_env(tmp_path):
    """What cron does: system python3, cwd /, nearly empty environment, no venv activated."""
    env = _env(tmp_path)
    upgrade = _run([str(VENV_PYTHON), "-m", "exchange_analytics", "db", "upgrade"], env)
    assert upgrade.returncode == 0, upgrade.stderr
    first = _run(["python3", str(CRON_SCRIPT), "--as-of", "2026-07-01T12:02:00Z", "--json"], env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["status"] == "success"
    assert report["pairs"][0]["action"] == "backfill"
    second = _run(["python3", str(CRON_SCRIPT), "--as-of", "2026-07-01T12:02:00Z", "--json"], env)
    again = json.loads(second.stdout)
    assert again["pairs"][0]["action"] == "continuous"
    assert again["totals"]["rows_written"] == 0
    assert (tmp_path / "data" / "exchange_analytics.db").exists()
    log = (tmp_path / "logs" / "continuous_processing_cron.log").read_text()
    summaries = [json.loads(line) for line in log.splitlines() if '"cycle.summary"' in line]
    assert len(summaries) == 2 and all("processing_time" in s for s in summaries)


def test_dry_run_prints_messages_and_sends_nothing(tmp_path):
    env = _env(tmp_path)
    _run([str(VENV_PYTHON), "-m", "exchange_analytics", "db", "upgrade"], env)
    result = _run(
        [
            str(VENV_PYTHON),
            "-m",
            "exchange_analytics",
            "cycle",
            "--dry-run",
            "--as-of",
            "2026-07-01T12:02:00Z",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    assert "notifications sent 0" in result.stdout


def test_bad_as_of_is_a_usage_error(tmp_path):
    result = _run(
        [str(VENV_PYTHON), "-m", "exchange_analytics", "cycle", "--as-of", "yesterday"],
        _env(tmp_path),
    )
    assert result.returncode == 2
    assert "--as-of" in result.stderr


def test_bandit_finds_nothing_at_medium_or_above():
    """SPEC §14: bandit clean at medium severity and up (each exception justified inline)."""
    result = subprocess.run(
        [
            str(VENV_PYTHON),
            "-m",
            "bandit",
            "-q",
            "-c",
            "pyproject.toml",
            "-r",
            "src",
            "scripts",
            "--severity-level",
            "medium",
            "-f",
            "json",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ},
    )
    findings = json.loads(result.stdout)["results"]
    assert findings == [], [(f["filename"], f["line_number"], f["test_id"]) for f in findings]

"""Bad configuration, run the way cron runs it (SPEC §2, §11): one clear line, right exit code.

Every case is a real process with a cron-like environment, because what matters is what an
operator sees in the cron mail: exactly one line on stderr that names the variable (or file)
to fix, exit code 2 for configuration, no traceback, and no secret echoed back.

Permissions: the suite may run as root, for whom file modes stop neither reads nor writes.
A read-only directory is then made real with a read-only bind mount inside a private mount
namespace (``unshare --mount``; the host's mounts are untouched), which stops root too. An
unreadable ``.env`` is exercised with ``chmod 000`` when not root, and for root with a
directory named ``.env`` (reading it fails the same way an unreadable file does).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.support.faults import (
    AS_OF,
    CLI,
    CRON_SCRIPT,
    Finished,
    cron_env,
    iso,
    python,
    run_cron,
)

IS_ROOT = os.geteuid() == 0
#: Runs "$@" with directory $1 mounted read-only in a private mount namespace.
_RO_MOUNT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
SECRET_IN_VALUE = "tok-SECRET-in-bad-value-31337"

BAD_VALUES: list[tuple[str, str]] = [
    ("MAX_PROCESSING_TIME", "five minutes"),
    ("MIN_SUCCESS_RATE", "1.5"),
    ("MAX_ERROR_COUNT", "0"),
    ("LOG_LEVEL", "loud"),
    ("INTERVAL_MINUTES", "0"),
    ("BATCH_SIZE", "many"),
    ("MAX_RETRIES", "-1"),
    ("CURRENCY_PAIRS", "USD-JPY-EUR"),
    ("MARKET_DATA_PROVIDER", "bloomberg"),
    ("YAHOO_BASE_URL", "ftp://query1.finance.yahoo.com"),
    ("OANDA_ENVIRONMENT", "demo"),
    ("DAY_BOUNDARY", "tokyo"),
    ("DISCORD_CHANNEL_ID", "fx-alerts"),
    ("DISCORD_WEBHOOK_URL", "discord.com/api/webhooks/1/abc"),
    ("NOTIFY_COOLDOWN_MINUTES", "-5"),
    ("NOTIFY_POLICY", "composite_signal=loud"),
    ("NOTIFY_POLICY", "candles=digest"),
    ("NOTIFY_MIN_CONFIDENCE", "1.5"),
    ("NOTIFY_MAX_PER_PAIR_PER_DAY", "-1"),
    ("NOTIFY_DIGEST_HOURS", "0"),
    ("NOTIFY_OUTCOMES", "maybe"),
    ("TRACK_RECORD_DAYS", "0"),
    ("PROVIDER_CONCURRENCY", "0"),
    ("MIN_BARS", "0"),
    ("INDICATORS", "FOO:1"),
    ("PATTERN_THRESHOLDS", "[1, 2]"),
    ("PATTERN_THRESHOLDS", '{"rsi_battle": {"rsi_min": "low"}}'),
    ("BACKFILL_DAYS_5M", "0"),
    ("RUN_LOCK_SCOPE", "planet"),
    ("DATABASE_URL", "nonsense://x"),
    ("DATABASE_URL", "mysql://fx:" + SECRET_IN_VALUE + "@db/fx"),
]


def _cycle(env: dict[str, str], out: Path, read_only: Path | None = None) -> Finished:
    """``exchange-analytics cycle`` as cron would run it, ``read_only`` made unwritable."""
    command = [str(CLI)]
    if read_only is not None:
        command = _with_read_only(read_only, command)
    return run_cron(env, "cycle", "--as-of", iso(AS_OF), out_dir=out, command=command, timeout=120)


def _with_read_only(directory: Path, command: list[str]) -> list[str]:
    """``command`` wrapped so that ``directory`` is read-only for it, even for root."""
    if not IS_ROOT:
        directory.chmod(0o555)
        return command
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare(1): cannot make a directory read-only")
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        _RO_MOUNT,
        "sh",
        str(directory),
        *command,
    ]


def _assert_one_line(done: Finished, *names: str, code: int = 2) -> str:
    assert done.returncode == code, done.describe()
    assert len(done.stderr_lines) == 1, done.describe()
    assert "Traceback" not in done.stderr + done.stdout
    line = done.stderr_lines[0]
    for name in names:
        assert name in line, f"{name!r} not named in: {line}"
    return line


@pytest.mark.parametrize(
    ("variable", "value"), BAD_VALUES, ids=[f"{n}={v[:20]}" for n, v in BAD_VALUES]
)
def test_a_bad_value_is_one_line_naming_the_variable_and_exit_2(
    variable: str, value: str, sqlite_url: str, tmp_path: Path
) -> None:
    env = cron_env(tmp_path, sqlite_url, **{variable: value})
    line = _assert_one_line(_cycle(env, tmp_path / "out"), variable)
    assert SECRET_IN_VALUE not in line


def test_the_cron_script_reports_bad_configuration_the_same_way(
    sqlite_url: str, tmp_path: Path
) -> None:
    env = cron_env(tmp_path, sqlite_url, MAX_RETRIES="lots")
    done = run_cron(env, "--as-of", iso(AS_OF), out_dir=tmp_path / "out", timeout=120)
    _assert_one_line(done, "MAX_RETRIES")


def test_every_bad_variable_is_reported_at_once(sqlite_url: str, tmp_path: Path) -> None:
    env = cron_env(tmp_path, sqlite_url, MIN_BARS="none", DAY_BOUNDARY="mars", BATCH_SIZE="0")
    _assert_one_line(_cycle(env, tmp_path / "out"), "MIN_BARS", "DAY_BOUNDARY", "BATCH_SIZE")


def test_oanda_without_a_token_names_the_missing_variable(sqlite_url: str, tmp_path: Path) -> None:
    env = cron_env(tmp_path, sqlite_url, MARKET_DATA_PROVIDER="oanda")
    _assert_one_line(_cycle(env, tmp_path / "out"), "OANDA_API_TOKEN")


def test_dotenv_that_is_a_directory_is_one_line_naming_it(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    env = cron_env(tmp_path, sqlite_url)
    _assert_one_line(_cycle(env, tmp_path / "out"), ".env")


@pytest.mark.skipif(
    IS_ROOT,
    reason="root reads a file whatever its mode; "
    "test_dotenv_that_is_a_directory covers an unreadable .env for root",
)
def test_unreadable_dotenv_is_one_line_naming_it(sqlite_url: str, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("LOG_LEVEL=info\n")
    dotenv.chmod(0)
    env = cron_env(tmp_path, sqlite_url)
    line = _assert_one_line(_cycle(env, tmp_path / "out"), ".env")
    assert "permission" in line.lower(), line


def test_a_missing_log_directory_is_created(sqlite_url: str, tmp_path: Path) -> None:
    log_dir = tmp_path / "not" / "there" / "yet"
    env = cron_env(tmp_path, sqlite_url, LOG_FILE=str(log_dir))
    done = run_cron(env, "--as-of", iso(AS_OF), out_dir=tmp_path / "out")
    assert done.returncode == 0, done.describe()
    assert (log_dir / "continuous_processing_cron.log").stat().st_size > 0


def test_a_read_only_data_directory_is_one_clear_line(sqlite_url: str, tmp_path: Path) -> None:
    data = Path(sqlite_url.split(":///", 1)[1]).parent
    env = cron_env(tmp_path, sqlite_url)
    command = _with_read_only(data, [python(), str(CRON_SCRIPT)])
    done = run_cron(env, "--as-of", iso(AS_OF), out_dir=tmp_path / "out", command=command)
    if not IS_ROOT:
        data.chmod(0o755)
    # 1 (the run failed: the database cannot be written) or 2 (fix the configuration) are
    # both defensible; a traceback, silence or success are not.
    assert done.returncode in (1, 2), done.describe()
    _assert_one_line(done, str(data), code=done.returncode)


def test_a_data_directory_that_cannot_be_created_names_database_url(tmp_path: Path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    env = cron_env(tmp_path, f"sqlite+aiosqlite:///{parent}/data/exchange_analytics.db")
    done = _cycle(env, tmp_path / "out", read_only=parent)
    if not IS_ROOT:
        parent.chmod(0o755)
    _assert_one_line(done, "DATABASE_URL", str(parent))

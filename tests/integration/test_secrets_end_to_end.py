"""No secret leaves the installation in clear, end to end (SPEC §14).

A real installation is configured with all four kinds of secret (database password, Discord
webhook token, Discord bot token, OANDA token), some from the environment and some from
``.env``, and driven through the paths where they could leak: cycles that detect a pattern
and post it through the bot API (which the stand-in Discord refuses, so the error path with
the request's details is taken), an OANDA fetch refused for its token, an unreachable
database, and ``exchange-analytics health --json``. Then every byte an operator could see is
searched: stdout and stderr of every process, every log file (rotated ones included), and
every text column of processing_runs, notifications and alert_state.

The ``.env`` permission check: health reports that component degraded for mode 0644 and ok
for 0600.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.fake_discord import BOT_TOKEN, CHANNEL_ID, WEBHOOK_TOKEN, FakeDiscord
from tests.support.fake_oanda import FakeOanda
from tests.support.faults import (
    CLI,
    Finished,
    all_text_under,
    backend,
    cron_env,
    free_port,
    iso,
    pg_run,
    read_state,
    run_cron,
)

DB_PASSWORD = f"pw-SECRET-e2e-{uuid.uuid4().hex[:8]}"
OANDA_TOKEN = "oanda-SECRET-e2e-token-0f1e2d3c4b5a"
SECRETS = (DB_PASSWORD, WEBHOOK_TOKEN, BOT_TOKEN, OANDA_TOKEN)
#: Same relaxed rsi_battle as the kill tests: a detection (and a message) at STEPS[1].
RELAXED_PATTERNS = (
    '{"rsi_battle": {"rsi_min": 0, "rsi_max": 100, "macd_close_ratio": 1, '
    '"bb_middle_share": 1000, "cross_bars": 20, "min_crosses": 1, "bb_width_bars_ago": 1}}'
)
STEPS = (
    datetime(2026, 11, 19, 13, 37, 30, tzinfo=UTC),
    datetime(2026, 11, 19, 13, 42, 30, tzinfo=UTC),
)


@pytest.fixture
def secret_db_url(db_url: str, pg_admin_url_or_none: str | None) -> Iterator[str]:
    """``db_url``; on PostgreSQL through a role that has a password (DB_PASSWORD)."""
    if backend(db_url) == "sqlite" or pg_admin_url_or_none is None:
        yield db_url
        return
    role = f"ea_sec_{uuid.uuid4().hex[:8]}"
    pg_run(pg_admin_url_or_none, f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{DB_PASSWORD}'")
    parts = urlsplit(db_url)
    netloc = f"{role}:{DB_PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    try:
        yield urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    finally:
        pg_run(db_url, f"REASSIGN OWNED BY {role} TO CURRENT_USER", f"DROP OWNED BY {role}")
        pg_run(pg_admin_url_or_none, f"DROP ROLE IF EXISTS {role}")


@pytest.fixture
def pg_admin_url_or_none(db_url: str, request: pytest.FixtureRequest) -> str | None:
    if backend(db_url) == "sqlite":
        return None
    return str(request.getfixturevalue("pg_admin_url"))


def _leaks(text: str) -> list[str]:
    return [secret[:12] + "…" for secret in SECRETS if secret in text]


def _rows_text(url: str) -> str:
    state = read_state(url)
    rows: list[Any] = [*state.runs, *state.notifications.values()]
    return json.dumps(rows, default=str)


def _alert_state_text(url: str) -> str:
    import asyncio

    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from exchange_analytics.storage.models import AlertState
    from tests.support.faults import async_url

    async def read() -> str:
        engine = create_async_engine(async_url(url)[0])
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(AlertState.__table__))).mappings().all()
                return json.dumps([dict(r) for r in rows], default=str)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _health(env: dict[str, str], out: Path) -> tuple[Finished, dict[str, Any]]:
    done = run_cron(env, "health", "--json", out_dir=out, command=[str(CLI)], timeout=60)
    assert done.returncode in (0, 1, 2), done.describe()
    return done, json.loads(done.stdout)


@pytest.mark.slow
def test_no_secret_in_logs_errors_health_or_tables(
    secret_db_url: str, tmp_path: Path, local_server: Any
) -> None:
    discord = FakeDiscord(bot_token="a-different-bot-token")  # every bot post -> 401
    discord_server = local_server(discord)
    oanda_server = local_server(FakeOanda(now=datetime(2026, 2, 18, 12, 2, 30, tzinfo=UTC)))
    home = tmp_path / "home"
    home.mkdir()
    (home / ".env").write_text(f"OANDA_API_TOKEN={OANDA_TOKEN}\nDISCORD_BOT_TOKEN={BOT_TOKEN}\n")
    (home / ".env").chmod(0o600)
    env = cron_env(
        home,
        secret_db_url,
        DISCORD_WEBHOOK_URL=FakeDiscord.webhook_url(discord_server.base_url),
        DISCORD_ALERT_WEBHOOK_URL=FakeDiscord.webhook_url(discord_server.base_url),
        DISCORD_CHANNEL_ID=CHANNEL_ID,
        DISCORD_API_BASE=FakeDiscord.api_base(discord_server.base_url),
        DISCORD_ATTACH_CHART="false",
        PATTERN_THRESHOLDS=RELAXED_PATTERNS,
        NOTIFY_COOLDOWN_MINUTES="0",
        LOG_LEVEL="debug",
    )
    seen: list[str] = []
    for step in STEPS:
        done = run_cron(env, "--as-of", iso(step), out_dir=home / "out")
        # The refused bot post fails its message (marked failed, shown by health), not the run.
        assert done.returncode == 0, done.describe()
        assert "Traceback" not in done.stderr and len(done.stderr_lines) <= 1, done.describe()
        seen += [done.stdout, done.stderr]

    oanda_env = dict(env, MARKET_DATA_PROVIDER="oanda", OANDA_BASE_URL=oanda_server.base_url)
    refused = run_cron(
        oanda_env, "--as-of", "2026-02-18T12:02:30Z", "--pairs", "EUR/USD", out_dir=home / "out"
    )
    assert refused.returncode == 1, refused.describe()
    seen += [refused.stdout, refused.stderr]

    health, report = _health(env, home / "out")
    seen += [health.stdout, health.stderr]

    unreachable = dict(
        env, DATABASE_URL=f"postgresql://fx:{DB_PASSWORD}@127.0.0.1:{free_port()}/fx_prod"
    )
    down = run_cron(unreachable, "--as-of", iso(STEPS[0]), out_dir=home / "out", timeout=120)
    assert down.returncode == 1, down.describe()
    seen += [down.stdout, down.stderr]

    places = {
        "process output": "\n".join(seen),
        "log files": all_text_under(home / "logs"),
        "processing_runs + notifications": _rows_text(secret_db_url),
        "alert_state": _alert_state_text(secret_db_url),
    }
    leaks = {where: _leaks(text) for where, text in places.items() if _leaks(text)}
    assert not leaks, f"secrets in clear: {leaks}"
    assert report["components"], report
    # The paths under test were really taken: the bot post refused, OANDA refused the token.
    assert any(status == 401 for *_, status in discord.answers), discord.answers
    assert "OANDA_API_TOKEN" in refused.stdout + refused.stderr, refused.describe()


@pytest.mark.parametrize(("mode", "expected"), [(0o644, "degraded"), (0o600, "ok")])
def test_health_checks_dotenv_permissions(
    mode: int, expected: str, sqlite_url: str, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"OANDA_API_TOKEN={OANDA_TOKEN}\nDISCORD_BOT_TOKEN={BOT_TOKEN}\n")
    dotenv.chmod(mode)
    done, report = _health(cron_env(tmp_path, sqlite_url), tmp_path / "out")
    component = report["components"]["env_file"]
    assert component["status"] == expected, component
    if expected == "degraded":
        assert "600" in component["reason"], component["reason"]
        assert report["status"] != "ok" and done.returncode != 0
    assert not _leaks(done.stdout + done.stderr)

"""Real USD/CHF history in a test database, and the SPEC §17 notification path around it.

``prepare`` imports the real 5m file (``orkad_USDCHF_5m.csv``, up to ``UNTIL``) with the CLI,
as an operator would (``--skip-bad-rows``); ``replay_notify`` replays a range with the policy
gate and queues its digests and follow-ups, as ``replay --notify`` does; ``send`` runs the
real outbox sender against whatever Discord stand-in the settings point at.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from exchange_analytics.config.settings import Settings
from exchange_analytics.notifications.outbox import SendReport
from exchange_analytics.patterns.thresholds import build_thresholds
from exchange_analytics.pipeline.notify import PolicyGate, after_replay, send_outbox
from exchange_analytics.pipeline.replay import replay
from exchange_analytics.storage.engine import build_engine
from tests.support.faults import CLI
from tests.support.paths import REAL_DATA

PAIR = "USD/CHF"
UNTIL = "2026-03-14"
START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 4, 23, 55, tzinfo=UTC)


def prepare(home: Path, database_url: str) -> None:
    """Import the real file's bars before ``UNTIL`` into ``database_url``."""
    source = REAL_DATA / "orkad_USDCHF_5m.csv"
    sliced = home / "usdchf_5m.csv"
    with source.open() as fin, sliced.open("w") as fout:
        for line in fin:
            if line[:10] < UNTIL or not line[:1].isdigit():
                fout.write(line)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "DATABASE_URL": database_url,
        "LOG_FILE": str(home / "logs"),
        "DAY_BOUNDARY": "new_york",
    }
    done = subprocess.run(
        [str(CLI), "import", str(sliced), "--pair", PAIR, "--skip-bad-rows"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


async def replay_notify(settings: Settings, start: datetime = START, end: datetime = END) -> Any:
    """``replay --notify`` in-process: detections, held rows, digests and follow-ups queued."""
    engine = build_engine(settings)
    try:
        outcome = await replay(
            engine,
            pair=PAIR,
            start=start,
            end=end,
            day_boundary=settings.day_boundary,
            thresholds=build_thresholds(settings.pattern_thresholds),
            cooldown_minutes=settings.notify_cooldown_minutes,
            notify=True,
            is_demo=False,
            gate=PolicyGate(settings, datetime.now(UTC)),
        )
        await after_replay(engine, settings, start, end)
        return outcome
    finally:
        await engine.dispose()


async def stages(settings: Settings, as_of: datetime) -> dict[str, int]:
    """The cycle's digest and follow-up stages at ``as_of``."""
    from exchange_analytics.pipeline.notify import notification_stages

    engine = build_engine(settings)
    try:
        return await notification_stages(engine, settings, as_of, since=START)
    finally:
        await engine.dispose()


async def send(settings: Settings, now: datetime | None = None) -> SendReport:
    engine = build_engine(settings)
    try:
        return await send_outbox(engine, settings, now or datetime.now(UTC), None)
    finally:
        await engine.dispose()


async def rows(settings: Settings, sql: str, **params: Any) -> list[Any]:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())
    finally:
        await engine.dispose()


LATER = timedelta(hours=3)  # past the sender's first backoff steps

"""SIGKILL while ``replay --notify`` queues signals, digests and follow-ups (SPEC §17, §13).

A killed process runs no ``finally`` and no handler: what it leaves is what a power cut
leaves. Each seed kills a real ``replay --notify`` process at a seeded random instant of its
working time (detections and held rows, digests, follow-ups), runs the same command again to
completion, then sends with the real sender to the Discord stand-in. What reaches the channel
must equal a clean reference run's messages exactly: nothing lost, nothing posted twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support.fake_discord import FakeDiscord
from tests.support.faults import CLI
from tests.support.notify_month import PAIR, prepare, rows, send

pytestmark = pytest.mark.slow

SEEDS = range(3)
RANGE = ("--from", "2026-03-02T00:00:00Z", "--to", "2026-03-04T23:55:00Z")
POLICY = "composite_signal=digest"


def _env(home: Path, db: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "EXCHANGE_ANALYTICS_HOME": str(home),
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "LOG_FILE": str(home / "logs"),
        "DAY_BOUNDARY": "new_york",
        "CURRENCY_PAIRS": PAIR,
        "NOTIFY_POLICY": POLICY,
        "DISCORD_ATTACH_CHART": "false",
        **extra,
    }


def _replay(env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [str(CLI), "replay", "--pair", PAIR, *RANGE, "--notify"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()[-2000:]


def _channel(home: Path, db: Path, local_server) -> list[str]:
    """Send everything queued to a fresh stand-in; the dedupe markers it received, in order."""
    from exchange_analytics.config.settings import load_settings

    fake = FakeDiscord(rate_limit=1000)
    server = local_server(fake)
    env = _env(home, db, DISCORD_WEBHOOK_URL=FakeDiscord.webhook_url(server.base_url))
    settings = load_settings(env, env_file=False)
    asyncio.run(send(settings))
    left = asyncio.run(
        rows(
            settings,
            "SELECT count(*) FROM notifications WHERE status <> 'sent' AND status <> 'suppressed'",
        )
    )
    assert left[0][0] == 0
    return [m.embeds[0]["footer"]["text"].rsplit("ref ", 1)[1] for m in fake.messages]


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> tuple[Path, float]:
    """The imported history (a database file to copy) and a clean run's working time."""
    home = tmp_path_factory.mktemp("notify_kill_ref")
    db = home / "history.db"
    shutil.copyfile(sqlite_template, db)
    prepare(home, f"sqlite+aiosqlite:///{db}")
    clean = home / "clean.db"
    shutil.copyfile(db, clean)
    started = time.monotonic()
    _finish(_replay(_env(home, clean)))
    return db, time.monotonic() - started


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_while_queueing_loses_nothing_and_doubles_nothing(
    seed: int, reference: tuple[Path, float], tmp_path: Path, local_server
) -> None:
    history, working_s = reference
    clean = tmp_path / "clean.db"
    shutil.copyfile(history, clean)
    _finish(_replay(_env(tmp_path, clean)))
    expected = _channel(tmp_path, clean, local_server)
    assert len(expected) == len(set(expected)) > 5

    db = tmp_path / "killed.db"
    shutil.copyfile(history, db)
    # Kill as soon as the process has committed ``target`` outbox rows, so the kills land at
    # different steps of its queueing work: the detections with their messages and held rows
    # commit first, then each digest, then the follow-ups.
    total, patterns = _outbox_rows(clean), _outbox_rows(clean, "pattern")
    target = (1, random.Random(seed).randint(patterns + 1, total - 1), total)[seed % 3]
    process = _replay(_env(tmp_path, db))
    deadline = time.monotonic() + working_s * 5
    written = 0
    while process.poll() is None and written < target and time.monotonic() < deadline:
        written = _outbox_rows(db)
        time.sleep(0.005)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)  # reaps it and closes its stderr pipe
    left = _outbox_rows(db)
    _finish(_replay(_env(tmp_path, db)))  # the next run completes the work
    got = _channel(tmp_path, db, local_server)
    where = f"seed {seed}: killed={killed} with {left} rows committed (target {target})"
    print(where)
    assert Counter(got) == Counter(expected), where
    assert killed, where


def _outbox_rows(db: Path, kind: str = "%") -> int:
    con = sqlite3.connect(db, timeout=0.05)
    try:
        sql = "SELECT count(*) FROM notifications WHERE kind LIKE ?"
        return int(con.execute(sql, (kind,)).fetchone()[0])
    except sqlite3.OperationalError:  # busy: look again
        return 0
    finally:
        con.close()

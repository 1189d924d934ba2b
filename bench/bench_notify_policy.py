"""Measured effect of each notification policy (SPEC §17) on a real month, through the sender.

For each policy: a copy of one database holding the real USD/CHF 5m history
(``tests/data/real/orkad_USDCHF_5m.csv`` imported with ``--skip-bad-rows``, DAY_BOUNDARY
new_york) and the track records of January and February (``patterns evaluate --store`` over
2026-01-05..2026-03-01, so ``edge`` decides March on figures it could have known), then
``replay --notify`` over March 2026 with the policy's environment, then the real outbox sender
against the local Discord stand-in (``tests/support/fake_discord.py``) until nothing is left.
Printed per policy: signals, pattern messages sent at once, digest messages, follow-ups,
messages per trading day, the share of signals sent at once, and the hit rate (TP first / TP or
SL first, final outcome within 1,440 bars) of what was sent at once beside that of every signal.

A measurement, not a test: it exits 0 whatever the figures are.

Example:
    .venv/bin/python bench/bench_notify_policy.py
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd
import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fake_discord import FakeDiscord  # noqa: E402
from tests.support.http_server import LocalServer  # noqa: E402

from exchange_analytics.evaluation.outcomes import outcome  # noqa: E402

CSV = ROOT / "tests" / "data" / "real" / "orkad_USDCHF_5m.csv"
PAIR = "USD/CHF"
MONTH = ("2026-03-01T00:00:00Z", "2026-03-31T23:55:00Z")
RECORD = ("2026-01-05T00:00:00Z", "2026-03-01T00:00:00Z")  # 55 days before March
RECORD_DAYS = "55"
HORIZON = 1440
POLICIES: list[tuple[str, dict[str, str]]] = [
    ("immediate (default)", {}),
    ("composite_signal=digest", {"NOTIFY_POLICY": "composite_signal=digest"}),
    ("edge (every pattern)", {"NOTIFY_POLICY": "edge"}),
    ("digest (every pattern)", {"NOTIFY_POLICY": "digest"}),
    ("immediate, max 3/pair/day", {"NOTIFY_MAX_PER_PAIR_PER_DAY": "3"}),
    ("immediate, min confidence 0.6", {"NOTIFY_MIN_CONFIDENCE": "0.6"}),
]


def cli(env: dict[str, str], *args: str) -> None:
    exe = ROOT / ".venv" / "bin" / "exchange-analytics"
    done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed: {done.stderr.strip()[-400:]}")


def base_env(home: Path, db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "DISCORD_"))}
    env.update(
        EXCHANGE_ANALYTICS_HOME=str(home),
        DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        DAY_BOUNDARY="new_york",
        CURRENCY_PAIRS=PAIR,
        TRACK_RECORD_DAYS=RECORD_DAYS,
        DISCORD_ATTACH_CHART="false",
        LOG_FILE=str(home / "logs"),
    )
    return env


def prepare(work: Path) -> Path:
    template = work / "template.db"
    env = base_env(work, template)
    cli(env, "db", "upgrade")
    cli(env, "import", str(CSV), "--pair", PAIR, "--skip-bad-rows")
    cli(
        env,
        "patterns",
        "evaluate",
        "--pair",
        PAIR,
        "--from",
        RECORD[0],
        "--to",
        RECORD[1],
        "--store",
    )
    return template


async def send_all(env: dict[str, str]) -> None:
    from exchange_analytics.config.settings import load_settings
    from exchange_analytics.pipeline.notify import send_outbox
    from exchange_analytics.storage.engine import build_engine

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    settings = load_settings(env, env_file=False)
    engine = build_engine(settings)
    try:
        for _ in range(200):
            report = await send_outbox(engine, settings, datetime.now(UTC), None)
            if not report.pending_left and not report.deferred:
                return
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


def hit_rate(db: Path, statuses: tuple[str, ...] | None) -> tuple[int, float | None]:
    """(decided, hit rate) of pattern messages with ``statuses`` (None: every signal)."""
    con = sqlite3.connect(db)
    rows = [
        row[1:]
        for row in con.execute(
            "SELECT n.status, d.direction, d.bar_timestamp, d.take_profit, d.stop_loss "
            "FROM notifications n JOIN pattern_detections d ON d.id = n.pattern_detection_id "
            "WHERE n.kind = 'pattern' AND d.take_profit IS NOT NULL"
        )
        if statuses is None or row[0] in statuses
    ]
    bars = pd.read_sql_query(
        "SELECT timestamp, high, low FROM price_data WHERE currency_pair = ? AND timeframe = '5m' "
        "ORDER BY timestamp",
        con,
        params=(PAIR,),
        index_col="timestamp",
    )
    con.close()
    index = bars.index.tolist()
    position = {stamp: i for i, stamp in enumerate(index)}
    highs, lows = bars["high"].tolist(), bars["low"].tolist()
    wins = losses = 0
    for direction, bar, tp, sl in rows:
        i = position[bar] + 1
        result, _ = outcome(direction, tp, sl, highs[i : i + HORIZON], lows[i : i + HORIZON])
        wins += result == "take_profit"
        losses += result == "stop_loss"
    decided = wins + losses
    return decided, (wins / decided if decided else None)


def kinds(app: FakeDiscord) -> dict[str, int]:
    counts = {"pattern": 0, "digest": 0, "outcome": 0}
    for message in app.messages:
        footer = str(((message.payload.get("embeds") or [{}])[0].get("footer") or {}).get("text"))
        kind = (
            "digest"
            if "· digest ·" in footer
            else "outcome"
            if "· outcome ·" in footer
            else ("pattern")
        )
        counts[kind] += 1
    return counts


def measure(work: Path, template: Path, name: str, extra: dict[str, str]) -> dict[str, Any]:
    db = work / f"policy{abs(hash(name))}.db"
    shutil.copyfile(template, db)
    app = FakeDiscord(rate_limit=10_000)
    server = LocalServer(app).start()
    try:
        env = {
            **base_env(work, db),
            **extra,
            "DISCORD_WEBHOOK_URL": FakeDiscord.webhook_url(server.base_url),
        }
        cli(env, "replay", "--pair", PAIR, "--from", MONTH[0], "--to", MONTH[1], "--notify")
        asyncio.run(send_all(env))
    finally:
        server.stop()
    con = sqlite3.connect(db)
    signals = con.execute("SELECT count(*) FROM notifications WHERE kind='pattern'").fetchone()[0]
    stamps = con.execute(
        "SELECT DISTINCT substr(timestamp, 1, 10) FROM price_data WHERE timeframe='5m' "
        "AND currency_pair=? AND timestamp >= '2026-03-01' AND timestamp < '2026-04-01'",
        (PAIR,),
    ).fetchall()
    # Trading days: Monday to Friday (Sunday's 22:00 open belongs to Monday's session).
    days = sum(1 for (day,) in stamps if datetime.fromisoformat(day).weekday() < 5)
    con.close()
    counts = kinds(app)
    sent_decided, sent_hit = hit_rate(db, ("sent",))
    all_decided, all_hit = hit_rate(db, None)
    return {
        "policy": name,
        "signals": signals,
        **counts,
        "days": days,
        "per_day": sum(counts.values()) / days,
        "at_once_day": counts["pattern"] / days,
        "kept": counts["pattern"] / signals,
        "sent_hit": sent_hit,
        "sent_n": sent_decided,
        "all_hit": all_hit,
        "all_n": all_decided,
    }


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # -h as argparse had it


@click.command(help=__doc__.splitlines()[0], context_settings=HELP_OPTIONS)
@click.option("--keep", is_flag=True, help="Keep the temporary databases.")
def main(keep: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="ea_notify_policy_"))
    try:
        template = prepare(work)
        rows = [measure(work, template, name, extra) for name, extra in POLICIES]
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"USD/CHF, March 2026 ({rows[0]['days']} trading days), replay --notify + sender "
        "against the local Discord stand-in; track records: 2026-01-05..2026-03-01"
    )
    print(
        "| policy | signals | sent at once | digests | follow-ups | at once/day | messages/day "
        "| kept | hit rate sent at once (n) | hit rate all signals (n) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['policy']} | {r['signals']} | {r['pattern']} | {r['digest']} | "
            f"{r['outcome']} | {r['at_once_day']:.1f} | {r['per_day']:.1f} | {pct(r['kept'])} | "
            f"{pct(r['sent_hit'])} ({r['sent_n']}) | {pct(r['all_hit'])} ({r['all_n']}) |"
        )


if __name__ == "__main__":
    main()

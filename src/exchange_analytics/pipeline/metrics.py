"""METRICS_TEXTFILE: after every run, the run's figures for Prometheus' node_exporter
textfile collector (``--collector.textfile.directory``), written atomically (a temporary file
renamed over the old one, so the collector never reads half a file). Built by the pure
``reports.prometheus``; a failure to write is logged and never fails the run."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import structlog
from prometheus_client import generate_latest

from exchange_analytics.domain import Timeframe
from exchange_analytics.pipeline.report import CycleReport
from exchange_analytics.reports.prometheus import PairFigures, RunFigures, build_registry
from exchange_analytics.storage import candles as candle_store
from exchange_analytics.storage.engine import Database

log = structlog.get_logger(__name__)


async def run_figures(engine: Database, report: CycleReport) -> RunFigures:
    """The figures of ``report`` plus what the database says now (last bars, outbox)."""
    from exchange_analytics.notifications.outbox import count_by_status

    pairs = []
    async with engine.connect() as conn:
        for pair in report.pairs:
            latest = await candle_store.latest_timestamp(conn, pair.pair, Timeframe.M5)
            pairs.append(
                PairFigures(
                    pair.pair,
                    fetched=pair.rows_fetched,
                    rejected=pair.rejected_bars,
                    held_back=pair.held_back_bars,
                    stuck=pair.warning is not None,
                    latest_bar=latest,
                )
            )
    return RunFigures(
        status=report.status,
        finished_at=report.started_at + timedelta(seconds=report.processing_time),
        clock=report.as_of,
        processing_seconds=report.processing_time,
        pairs=pairs,
        notifications=await count_by_status(engine),
    )


def write_textfile(path: Path, figures: RunFigures) -> None:
    """Write ``figures`` to ``path`` atomically (tmp in the same directory + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(generate_latest(build_registry(figures)))
    os.replace(tmp, path)


async def write_run_metrics(engine: Database, path: Path, report: CycleReport) -> None:
    try:
        write_textfile(path, await run_figures(engine, report))
    except Exception as exc:  # metrics must never fail the run they describe
        log.error("metrics.write_failed", path=str(path), error=f"{type(exc).__name__}: {exc}")

"""``processing_runs`` rows: one per cron invocation, written in short own transactions so a
run that dies still leaves its 'running' row behind (and a later run can tell)."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange_analytics.storage.models import ProcessingRun, utcnow


def host_id() -> str:
    return socket.gethostname()


async def start_run(
    engine: AsyncEngine,
    *,
    mode: str,
    status: str = "running",
    as_of: datetime | None = None,
    provider: str | None = None,
    host: str | None = None,
) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(ProcessingRun)
            .values(
                mode=mode,
                started_at=utcnow(),
                status=status,
                as_of=as_of,
                provider=provider,
                host=host or host_id(),
                pid=os.getpid(),
            )
            .returning(ProcessingRun.id)
        )
        return int(result.scalar_one())


async def finish_run(engine: AsyncEngine, run_id: int, **values: object) -> None:
    """Set the run's closing columns (``values``: column name -> value, passed through)."""
    values.setdefault("finished_at", utcnow())
    async with engine.begin() as conn:
        await conn.execute(update(ProcessingRun).where(ProcessingRun.id == run_id).values(**values))

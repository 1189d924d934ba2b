"""Run lock and per-pair locks (SPEC §13.1).

PostgreSQL: session-level advisory locks held on a dedicated connection for the whole run, so
they vanish with the process if it dies (no stale locks after SIGKILL). SQLite: ``flock`` on
lock files beside the database file, which the kernel likewise releases when the process dies.

The run lock keeps two cycles from overlapping. Per-pair locks let several hosts share one
pair list: a pair whose lock is held elsewhere is skipped for this run, not waited for.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from typing import TextIO

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def _key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    digest = hashlib.sha256(f"exchange-analytics:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LockManager:
    """Try-locks that are released by ``release_all`` or by the process ending."""

    def __init__(self, engine: AsyncEngine, lock_dir: Path | None) -> None:
        self.engine = engine
        self.lock_dir = lock_dir
        self._conn: AsyncConnection | None = None
        self._pg_keys: list[int] = []
        self._files: dict[str, TextIO] = {}

    @property
    def _is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def try_acquire(self, name: str) -> bool:
        """Take lock ``name`` without waiting; False if another process holds it."""
        if self._is_postgres:
            if self._conn is None:
                self._conn = await self.engine.connect()
                await self._conn.execution_options(isolation_level="AUTOCOMMIT")
            key = _key(name)
            got = (
                await self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            ).scalar()
            if got:
                self._pg_keys.append(key)
            return bool(got)
        if self.lock_dir is None:
            raise RuntimeError("SQLite locks need a lock directory")
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        safe = name.replace("/", "_").replace(":", "_")
        # Opening a local lock file takes microseconds; held open on purpose until release.
        handle = open(self.lock_dir / f"{safe}.lock", "a+")  # noqa: SIM115, ASYNC230
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._files[name] = handle
        return True

    async def release(self, name: str) -> None:
        if self._is_postgres:
            key = _key(name)
            if key in self._pg_keys and self._conn is not None:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                self._pg_keys.remove(key)
            return
        handle = self._files.pop(name, None)
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    async def release_all(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
            finally:
                await self._conn.close()
                self._conn = None
                self._pg_keys.clear()
        for name in list(self._files):
            await self.release(name)

    def release_all_sync(self) -> None:
        """For signal handlers: drop file locks at once (PostgreSQL ones go with the socket)."""
        for handle in self._files.values():
            try:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            except OSError:
                pass
        self._files.clear()

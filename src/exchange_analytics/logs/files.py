"""Append-only log files that several processes write at once, with size rotation.

Why not ``logging.handlers.RotatingFileHandler``: it is only safe inside one process, and the
cycle and the health check (two cron jobs) write the same directory at the same time. Here:

* every line is one ``write()`` on an ``O_APPEND`` descriptor, so lines from different
  processes never interleave inside a line;
* before writing, the path's inode is compared with the open descriptor's (like
  ``WatchedFileHandler``), so a writer follows a rotation done by another process;
* rotation happens under an ``flock`` on ``<file>.lock``: the file over ``max_bytes`` is
  renamed to ``<file>.<UTC timestamp>``; rotated files are gzip-compressed once they have been
  left alone for ``COMPRESS_GRACE_SECONDS`` (a writer that had the old inode open a moment ago
  may still append its last line), by the next rotation or by ``maintain_logs`` (daily cron).
* ``error_alert.log`` rotated files are deleted after 7 days.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024
COMPRESS_GRACE_SECONDS = 60.0
ERROR_LOG_KEEP_DAYS = 7


@dataclass
class _Open:
    fd: int
    inode: int


class AppendOnlyLog:
    """One log file; ``write`` is safe across threads and processes."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._open: _Open | None = None
        self._lock = threading.Lock()

    def _reopen(self) -> _Open:
        if self._open is not None:
            os.close(self._open.fd)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._open = _Open(fd, os.fstat(fd).st_ino)
        return self._open

    def _current(self) -> _Open:
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = -1
        if self._open is None or self._open.inode != inode:
            return self._reopen()
        return self._open

    def write(self, line: str) -> None:
        data = (line.rstrip("\n") + "\n").encode("utf-8", "replace")
        with self._lock:
            handle = self._current()
            os.write(handle.fd, data)
            if os.fstat(handle.fd).st_size > self.max_bytes:
                rotate(self.path, self.max_bytes)

    def close(self) -> None:
        with self._lock:
            if self._open is not None:
                os.close(self._open.fd)
                self._open = None


def rotate(path: Path, max_bytes: int = MAX_BYTES, *, force: bool = False) -> Path | None:
    """Rename ``path`` aside if it is over ``max_bytes`` (or ``force``); returns the new name."""
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return None
            if size == 0 or (not force and size <= max_bytes):
                return None
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            target = path.with_name(f"{path.name}.{stamp}")
            path.rename(target)
            compress_rotated(path.parent, path.name)
            return target
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def compress_rotated(directory: Path, base_name: str, grace: float = COMPRESS_GRACE_SECONDS) -> int:
    """Gzip rotated files of ``base_name`` untouched for ``grace`` seconds; returns how many."""
    compressed = 0
    now = time.time()
    for rotated in directory.glob(f"{base_name}.*"):
        if rotated.suffix in (".gz", ".lock") or now - rotated.stat().st_mtime < grace:
            continue
        target = rotated.with_name(rotated.name + ".gz")
        with rotated.open("rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        shutil.copystat(rotated, target)  # keep the rotation time: expiry counts from it
        rotated.unlink()
        compressed += 1
    return compressed


def delete_older_than(directory: Path, base_name: str, days: float) -> int:
    """Delete rotated (compressed or not) files of ``base_name`` older than ``days``."""
    cutoff = time.time() - days * 86400
    removed = 0
    for rotated in directory.glob(f"{base_name}.*"):
        if rotated.suffix == ".lock":
            continue
        if rotated.stat().st_mtime < cutoff:
            rotated.unlink()
            removed += 1
    return removed

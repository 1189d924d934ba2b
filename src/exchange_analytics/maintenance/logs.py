"""Daily log maintenance (``exchange-analytics logs maintain``, SPEC §10).

One mechanism, no logrotate: the writers rotate in-process (``logs.files``: a file over
10 MB is renamed aside under an ``flock``, and every writer notices the new inode before its
next line), and this daily command does what a writer would only do on its next rotation:

1. rotate every ``*.log`` in the log directory that is over 10 MB, including the files cron
   redirects output into, which no writer of ours rotates;
2. delete rotated ``error_alert.log`` files older than 7 days, other rotated files older than
   ``keep_days`` (30 by default);
3. gzip rotated files that nobody has written for a minute (``COMPRESS_GRACE_SECONDS``: a
   process that had the old file open may still append its last line).

Everything goes through ``logs.files`` (the same lock and the same rules as the writers), so
running it while a cycle and a health check are writing is safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from exchange_analytics.logs.files import (
    COMPRESS_GRACE_SECONDS,
    ERROR_LOG_KEEP_DAYS,
    MAX_BYTES,
    compress_rotated,
    delete_older_than,
    rotate,
)
from exchange_analytics.logs.setup import LOG_FILES

DEFAULT_KEEP_DAYS = 30


@dataclass
class LogMaintenance:
    directory: str
    dry_run: bool
    rotated: list[str] = field(default_factory=list)
    compressed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "directory": self.directory,
            "dry_run": self.dry_run,
            "rotated": self.rotated,
            "compressed": self.compressed,
            "deleted": self.deleted,
        }


def log_names(directory: Path) -> list[str]:
    """The project's log files plus any other ``*.log`` (cron output, reports) found there."""
    names = set(LOG_FILES.values())
    names.update(p.name for p in directory.glob("*.log") if p.is_file())
    return sorted(names)


def _rotated(directory: Path, base: str) -> list[Path]:
    return sorted(
        p
        for p in directory.glob(f"{base}.*")
        if p.suffix != ".lock" and p.is_file() and p.name != base
    )


def keep_days_for(base: str, keep_days: float) -> float:
    return ERROR_LOG_KEEP_DAYS if base == LOG_FILES["errors"] else keep_days


def maintain_logs(
    directory: Path,
    *,
    dry_run: bool = False,
    max_bytes: int = MAX_BYTES,
    keep_days: float = DEFAULT_KEEP_DAYS,
    grace: float = COMPRESS_GRACE_SECONDS,
) -> LogMaintenance:
    result = LogMaintenance(str(directory), dry_run)
    if not directory.is_dir():
        return result
    for base in log_names(directory):
        path = directory / base
        days = keep_days_for(base, keep_days)
        if dry_run:
            _plan(result, directory, base, path, max_bytes, days, grace)
            continue
        before = set(_rotated(directory, base))
        target = rotate(path, max_bytes)
        if target is not None:
            result.rotated.append(base)
            before.add(target)
        delete_older_than(directory, base, days)
        compress_rotated(directory, base, grace)
        after = set(_rotated(directory, base))
        for gone in sorted(before - after):
            zipped = gone.with_name(gone.name + ".gz")
            if gone.suffix != ".gz" and zipped in after:
                result.compressed.append(gone.name)
            else:
                result.deleted.append(gone.name)
    return result


def _plan(
    result: LogMaintenance,
    directory: Path,
    base: str,
    path: Path,
    max_bytes: int,
    days: float,
    grace: float,
) -> None:
    """What ``maintain_logs`` would do, by the same rules, without touching anything."""
    now = time.time()
    if path.exists() and path.stat().st_size > max_bytes:
        result.rotated.append(base)
    for rotated in _rotated(directory, base):
        age = now - rotated.stat().st_mtime
        if age > days * 86400:
            result.deleted.append(rotated.name)
        elif rotated.suffix != ".gz" and age >= grace:
            result.compressed.append(rotated.name)

"""Facts about the machine the health check runs on: disk, memory, running cycles, .env mode.

Kept apart from ``gather`` (database and provider) because these are local, synchronous and
cheap: psutil reads ``/proc`` once for command lines and only inspects the cycles it finds.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from exchange_analytics.config.settings import Settings
from exchange_analytics.health.facts import DiskFacts, EnvFileFacts, MemoryFacts, ProcessMemory

_CYCLE_CMD = re.compile(r"continuous_processing_cron|exchange[-_]analytics\S*\s+(cycle|backfill)\b")


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (a log directory may not exist yet)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def disk_facts(settings: Settings) -> tuple[DiskFacts, ...]:
    """Usage of the file systems holding the data directory and the logs (once each)."""
    data_dir = settings.sqlite_path.parent if settings.sqlite_path else settings.home / "data"
    by_device: dict[int, tuple[list[str], Path]] = {}
    errors: list[DiskFacts] = []
    for label, path in (("data", data_dir), ("logs", settings.log_dir)):
        existing = _existing(path)
        try:
            device = existing.stat().st_dev
        except OSError as exc:
            errors.append(DiskFacts(label, str(path), error=exc.strerror or str(exc)))
            continue
        by_device.setdefault(device, ([], existing))[0].append(label)
    found: list[DiskFacts] = list(errors)
    for labels, existing in by_device.values():
        try:
            usage = shutil.disk_usage(existing)
        except OSError as exc:
            found.append(DiskFacts(", ".join(labels), str(existing), error=str(exc)))
            continue
        found.append(
            DiskFacts(", ".join(labels), str(existing), usage.total, usage.used, usage.free)
        )
    return tuple(found)


def _is_cycle(cmdline: list[str]) -> bool:
    if not cmdline or "--health-check-only" in cmdline:
        return False
    program = os.path.basename(cmdline[0])
    if not (program.startswith("python") or program == "exchange-analytics"):
        return False  # e.g. the `sh -c` cron starts, whose command line names the script too
    return bool(_CYCLE_CMD.search(" ".join(cmdline)))


def memory_facts() -> MemoryFacts:
    """RSS of this process and of every running cycle; the system's available memory.

    Only the command line is read for every process; memory only for the cycles found.
    """
    import psutil

    try:
        me = psutil.Process()
        processes = [ProcessMemory(me.pid, "health", me.memory_info().rss)]
        now = time.time()
        for proc in psutil.process_iter(["cmdline"]):
            if proc.pid == me.pid or not _is_cycle(proc.info.get("cmdline") or []):
                continue
            try:
                rss = proc.memory_info().rss
                age = now - proc.create_time()
            except psutil.Error:
                continue  # it finished (or is not ours to inspect) since it was listed
            processes.append(ProcessMemory(proc.pid, "cycle", rss, age))
        vm = psutil.virtual_memory()
    except (psutil.Error, OSError) as exc:
        return MemoryFacts((), error=str(exc))
    return MemoryFacts(tuple(processes), vm.total, vm.available)


def env_file_facts(path: Path | None) -> EnvFileFacts:
    if path is None:
        return EnvFileFacts(None)
    try:
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        return EnvFileFacts(str(path), error=exc.strerror or str(exc))
    return EnvFileFacts(str(path), mode)

"""Shared plumbing for commands: settings, logging, asyncio with signal handling, exit codes.

This module (and everything the ``health`` command imports) stays free of pandas, numpy and
TA-Lib so that light commands start fast.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import click

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.errors import ConfigurationError, NeedsInterventionError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from exchange_analytics.storage.engine import Database

T = TypeVar("T")


class Interrupted(Exception):
    """The process got SIGTERM/SIGINT; the run recorded itself as interrupted."""


def settings_or_exit() -> Settings:
    return load_settings()


def parse_timestamp(value: str, option: str = "--as-of") -> datetime:
    """ISO-8601; naive values are UTC. ``Z`` accepted."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"{option} {value!r} is not a timestamp: use ISO-8601 like 2026-07-01T12:00:00Z"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


#: Seconds a graceful stop may take before the run is cancelled outright.
STOP_GRACE_SECONDS = 10.0


def run_async(factory: Callable[[], Awaitable[T]], *, graceful: bool = False) -> T:
    """Run a coroutine with SIGTERM/SIGINT handling.

    ``graceful``: the first signal asks the work to stop at its next step boundary
    (``exchange_analytics.stopping``) and cancels it only after ``STOP_GRACE_SECONDS`` or a
    second signal.
    Otherwise a signal cancels at once, so ``finally`` blocks record and unlock.
    """

    async def main() -> T:
        from exchange_analytics import stopping as stop

        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        received: list[str] = []

        def cancel(name: str) -> None:
            received.append(name)
            if task is None:
                return
            if graceful and len(received) == 1:
                stop.request_stop(f"interrupted by {name}")
                loop.call_later(STOP_GRACE_SECONDS, task.cancel)
            else:
                task.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, cancel, sig.name)
        try:
            return await factory()
        except asyncio.CancelledError as exc:
            if received:
                raise Interrupted(f"interrupted by {received[0]}") from exc
            raise

    return asyncio.run(main())


async def with_engine(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Open the engine, check the schema is at head, run ``work(engine)``, always dispose.

    Connection failures become one operator line (DatabaseUnavailable: which database, what
    went wrong, no password). Imports stay inside so light commands do not pay for them.
    """
    from exchange_analytics.storage.engine import (
        CONNECTION_ERRORS,
        build_engine,
        translate_db_error,
    )
    from exchange_analytics.storage.schema import ensure_migrated

    engine = build_engine(settings)
    try:
        try:
            await ensure_migrated(engine)
            return await work(engine)
        except CONNECTION_ERRORS as exc:
            raise translate_db_error(settings, exc) from exc
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_database(settings: Settings, *, need_schema: bool = True) -> AsyncIterator[Database]:
    """The engine of a report command, after checking it answers (and has a schema).

    A missing SQLite file is an error, not something to create: a report on an empty new
    file would only hide that DATABASE_URL points to the wrong place. Connection failures
    inside the block become one operator line (DatabaseUnavailable); always disposed.
    """
    from exchange_analytics.storage.engine import (
        CONNECTION_ERRORS,
        build_engine,
        describe_database,
        ping,
        translate_db_error,
    )
    from exchange_analytics.storage.schema import current_revision

    path = settings.sqlite_path
    if path is not None and not path.exists():
        raise NeedsInterventionError(
            f"database file {path} does not exist: check DATABASE_URL or run "
            "`exchange-analytics db upgrade`"
        )
    engine = build_engine(settings)
    try:
        await ping(engine, settings)
        if need_schema and await current_revision(engine) is None:
            raise NeedsInterventionError(
                f"database {describe_database(settings)} has no schema: run "
                "`exchange-analytics db upgrade`"
            )
        try:
            yield engine
        except CONNECTION_ERRORS as exc:
            raise translate_db_error(settings, exc) from exc
    finally:
        await engine.dispose()


def emit_json(data: object) -> None:
    """Every command's ``--json``: the one JSON rendering (``render.to_json``, which takes a
    JSON document, a TypedDict of one or a plain list; anything else is shown as ``str``)."""
    from exchange_analytics.render import to_json

    click.echo(to_json(data))


def fail(message: str, code: int) -> None:
    """Print one line to stderr and exit with ``code``."""
    click.echo(f"error: {redact(message)}", err=True)
    sys.exit(code)


def progress_bar(label: str, total: int) -> ProgressBar[int]:
    """click's bar on stderr, drawn at once, as every long command shows its work (the callers
    create one only for a terminal: never under cron or ``--json``)."""
    bar = click.progressbar(
        length=max(total, 1),
        label=label,
        file=sys.stderr,
        show_pos=True,
        show_percent=False,
        width=30,
    )
    bar.render_progress()
    return bar

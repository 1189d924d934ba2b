"""What every operations script shares: argument parsing, settings, the database, exit codes.

The scripts under ``scripts/`` are thin wrappers that call a module's ``main``; this module
gives them the CLI's contract (SPEC §2): exit 0 on success, 1 when the run failed (database
unreachable, schema missing), 2 for a usage or configuration error, and always one clear line
instead of a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncEngine

from exchange_analytics.config.redact import redact
from exchange_analytics.config.settings import Settings, load_settings
from exchange_analytics.errors import ExchangeAnalyticsError, NeedsInterventionError
from exchange_analytics.storage.engine import (
    CONNECTION_ERRORS,
    build_engine,
    describe_database,
    ping,
    translate_db_error,
)
from exchange_analytics.storage.schema import current_revision

ScriptBody = Callable[[argparse.Namespace, Settings], Awaitable[int]]


def parser(prog: str, description: str, example: str) -> argparse.ArgumentParser:
    """An argparse parser whose --help ends with an example, like the click commands."""
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=f"Example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def run_script(
    arguments: argparse.ArgumentParser, body: ScriptBody, argv: Sequence[str] | None
) -> None:
    """Parse, load settings, run ``body`` and exit with its code (errors: one line)."""
    from exchange_analytics.cli.runtime import Interrupted, run_async
    from exchange_analytics.logs import configure_logging

    args = arguments.parse_args(argv)
    try:
        settings = load_settings()
    except ExchangeAnalyticsError as exc:
        _fail(str(exc), exc.exit_code)
    try:
        configure_logging(settings.log_dir, "cycle", level=settings.log_level)
    except OSError:
        configure_logging(None, level=settings.log_level)  # reports still print
    try:
        code = run_async(lambda: body(args, settings))
    except ExchangeAnalyticsError as exc:
        _fail(str(exc), exc.exit_code)
    except CONNECTION_ERRORS as exc:
        _fail(str(translate_db_error(settings, exc)), 1)
    except (Interrupted, KeyboardInterrupt):
        _fail("interrupted", 1)
    sys.exit(code)


def _fail(message: str, code: int) -> NoReturn:
    print(f"error: {redact(message)}", file=sys.stderr)
    sys.exit(code)


@asynccontextmanager
async def open_database(
    settings: Settings, *, need_schema: bool = True
) -> AsyncIterator[AsyncEngine]:
    """The engine, after checking it answers (and has a schema); disposed on exit.

    A missing SQLite file is an error, not something to create: a report on an empty new
    file would only hide that DATABASE_URL points to the wrong place.
    """
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


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return str(value)


def human_bytes(size: float | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"

"""``exchange-analytics``: the click group and the one place errors become exit codes.

Exit codes (SPEC §2): 0 success; 1 the run failed; 2 usage or configuration error. Every
error ends in one line naming what to fix, never a traceback.
"""

from __future__ import annotations

import gc
import sys

import click

from exchange_analytics import __version__
from exchange_analytics.cli.runtime import Interrupted, fail
from exchange_analytics.errors import ExchangeAnalyticsError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: CPython's cyclic garbage collector, tuned for a batch process (issue 17). A backfill
#: allocates millions of short-lived, acyclic containers (rows, tuples, dicts); with the
#: default thresholds (700, 10, 10) a young collection runs every 700 of them and the full
#: ones walk every live row, about a tenth of an initialization's CPU. Reference counting
#: still frees everything at once; only cycles wait a little longer to be collected.
GC_THRESHOLDS = (50_000, 20, 100)


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs, so ``health`` stays light."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self._lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self._lazy:
            import importlib

            module_name, attr = self._lazy[name]
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_name}.{attr} is not a click command")
            return command
        return super().get_command(ctx, name)


COMMANDS = {
    "cycle": ("exchange_analytics.cli.cycle_cmd", "cycle"),
    "backfill": ("exchange_analytics.cli.cycle_cmd", "backfill"),
    "db": ("exchange_analytics.cli.db_cmd", "db"),
    "health": ("exchange_analytics.cli.health_cmd", "health"),
    "import": ("exchange_analytics.cli.import_cmd", "import_file"),
    "data": ("exchange_analytics.cli.data_cmd", "data"),
    "replay": ("exchange_analytics.cli.patterns_cmd", "replay"),
    "patterns": ("exchange_analytics.cli.patterns_cmd", "patterns"),
    "notify": ("exchange_analytics.cli.notify_cmd", "notify"),
    "crontab": ("exchange_analytics.cli.ops_cmd", "crontab"),
    "logs": ("exchange_analytics.cli.ops_cmd", "logs"),
    "ops": ("exchange_analytics.cli.ops_cmd", "ops"),
    "serve": ("exchange_analytics.cli.serve_cmd", "serve"),
}


def _available() -> dict[str, tuple[str, str]]:
    import importlib.util

    return {k: v for k, v in COMMANDS.items() if importlib.util.find_spec(v[0]) is not None}


@click.group(cls=LazyGroup, lazy=_available(), context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="exchange-analytics")
def cli() -> None:
    """FX analytics pipeline: candles, 1h/4h/1d aggregation, indicators, patterns, Discord.

    \b
    Example:
        exchange-analytics db upgrade
        exchange-analytics cycle --provider demo
        exchange-analytics health --json
    """


def main(argv: list[str] | None = None) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        code = cli.main(args=argv, prog_name="exchange-analytics", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except Interrupted as exc:
        fail(f"{exc}; the run was recorded as interrupted and its locks released", 1)
    except ExchangeAnalyticsError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 1)
    except Exception as exc:  # the last line of defence: never a bare traceback
        import structlog

        from exchange_analytics.logs.setup import is_configured

        where = ""
        if is_configured():
            structlog.get_logger("exchange_analytics.cli").exception("internal_error")
            where = " (traceback in the log files)"
        fail(f"internal error: {type(exc).__name__}: {exc}{where}", 1)
    sys.exit(code if isinstance(code, int) else 0)

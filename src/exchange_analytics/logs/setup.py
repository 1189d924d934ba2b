"""structlog configuration shared by every entry point.

Events go to the component's file as JSON lines; errors and alerts (``alert=True``) also go to
``error_alert.log``; on a terminal a readable key=value rendering goes to stderr. Every event
passes through the redactor before it is rendered anywhere.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import structlog
from structlog.typing import EventDict, WrappedLogger

from exchange_analytics.config.redact import redact
from exchange_analytics.logs.files import MAX_BYTES, AppendOnlyLog

LOG_FILES = {
    "cycle": "continuous_processing_cron.log",
    "health": "health_check_cron.log",
    "errors": "error_alert.log",
}
_ERROR_LEVELS = {"error", "critical", "exception"}
_configured = False


def is_configured() -> bool:
    """Whether ``configure_logging`` ran in this process (the CLI's last-resort handler asks)."""
    return _configured


def _redact_value(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    return {k: _redact_value(v) for k, v in event_dict.items()}


class _FileSink:
    """Final processor: writes JSON to files, returns the console rendering (or drops)."""

    def __init__(self, main: AppendOnlyLog | None, errors: AppendOnlyLog | None, console: bool):
        self.main = main
        self.errors = errors
        self.console = console
        # Built only for a terminal: structlog.dev pulls in rich, which costs the health
        # check (a cron job with no terminal) tens of milliseconds.
        self._renderer = structlog.dev.ConsoleRenderer(colors=False) if console else None

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        line = json.dumps(event_dict, default=str, ensure_ascii=False)
        if self.main is not None:
            self.main.write(line)
        level = str(event_dict.get("level", ""))
        if self.errors is not None and (level in _ERROR_LEVELS or event_dict.get("alert")):
            self.errors.write(line)
        if self._renderer is None:
            raise structlog.DropEvent
        shown = dict(event_dict)
        if shown.pop("exception", None):
            shown["traceback"] = "in the log files"
        return str(self._renderer(logger, name, shown))


def configure_logging(
    log_dir: Path | None,
    component: str = "cycle",
    *,
    level: str = "INFO",
    console: bool | None = None,
    max_bytes: int = MAX_BYTES,
) -> None:
    """Point structlog at ``log_dir`` for ``component`` ('cycle' or 'health').

    ``log_dir=None`` logs to the console only (tests, one-off commands without a directory).
    ``console=None`` means: readable output on stderr only when stderr is a terminal (never
    under cron, where it would end up in mail).
    """
    global _configured
    _configured = True
    main = errors = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        main = AppendOnlyLog(log_dir / LOG_FILES[component], max_bytes)
        errors = AppendOnlyLog(log_dir / LOG_FILES["errors"], max_bytes)
    if console is None:
        console = sys.stderr.isatty()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_processor,
            _FileSink(main, errors, console),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )

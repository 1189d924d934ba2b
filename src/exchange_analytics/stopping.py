"""Cooperative stop (a shared leaf: the pipeline, the outbox and the CLI read it, so it sits below
all of them): SIGTERM (the manual's `pkill -f continuous_processing_cron`) asks the run to
stop at the next step boundary instead of cancelling it mid-statement.

Why not plain task cancellation: a cancellation that lands inside a database call can leave that
connection checked out with its transaction open (SQLite then keeps its write lock until the
process exits), so the run could not even record itself as interrupted. Every step here is one
short transaction (a backfill chunk, one bar's detections, one message), so checking between
steps stops "at once" in practice; the CLI still cancels hard after a grace period or on a
second signal.
"""

from __future__ import annotations

_requested: str | None = None


class StopRequested(Exception):
    """Raised at a step boundary after a stop was requested."""


def request_stop(reason: str) -> None:
    global _requested
    _requested = reason


def stop_requested() -> str | None:
    return _requested


def check() -> None:
    """Call between steps: raises StopRequested once a stop was asked for."""
    if _requested is not None:
        raise StopRequested(_requested)


def reset() -> None:
    global _requested
    _requested = None

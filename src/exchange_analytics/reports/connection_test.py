"""``ops test-db`` (``scripts/test/database_connection_test.py``): can this installation reach
its database?

Connects (timed), reads the server version and the migration revision (compared with the
newest migration in the code), and measures round-trip latency over a few ``SELECT 1``.
Exit 0 when connected and at head, 1 when unreachable or the schema is not at head.
"""

from __future__ import annotations

import statistics
from typing import TypedDict

from exchange_analytics.config.settings import Settings
from exchange_analytics.storage.dialect import server_version
from exchange_analytics.storage.engine import Database, describe_database
from exchange_analytics.storage.schema import current_revision, head_revision
from exchange_analytics.storage.stats_queries import round_trip_ms


class RoundTrips(TypedDict):
    """``SELECT 1`` round trips, in milliseconds."""

    rounds: int
    median: float
    min: float
    max: float


class DbProbe(TypedDict):
    """The report's data, printed as it is by ``--json``."""

    database: str
    server: str
    connect_ms: float
    round_trip_ms: RoundTrips
    revision: str | None
    head: str
    at_head: bool


async def probe(engine: Database, settings: Settings, rounds: int, *, connect_ms: float) -> DbProbe:
    """The report's data; ``connect_ms`` is how long opening the database took (the caller
    times it: connecting and the first ``SELECT 1``)."""
    async with engine.connect() as conn:
        server = await server_version(conn)
        samples = [await round_trip_ms(conn) for _ in range(rounds)]
    revision = await current_revision(engine)
    head = head_revision()
    return {
        "database": describe_database(settings),
        "server": server,
        "connect_ms": round(connect_ms, 2),
        "round_trip_ms": {
            "rounds": rounds,
            "median": round(statistics.median(samples), 3),
            "min": round(min(samples), 3),
            "max": round(max(samples), 3),
        },
        "revision": revision,
        "head": head,
        "at_head": revision == head,
    }


def render(report: DbProbe) -> str:
    rtt = report["round_trip_ms"]
    if report["at_head"]:
        schema = f"at head ({report['head']})"
    else:
        schema = (
            f"at {report['revision'] or 'nothing'}, code expects {report['head']}: "
            "run `exchange-analytics db upgrade`"
        )
    return "\n".join(
        [
            f"database   {report['database']}",
            f"server     {report['server']}",
            f"connect    {report['connect_ms']:.1f} ms (includes the first SELECT 1)",
            f"round trip median {rtt['median']:.3f} ms, min {rtt['min']:.3f}, "
            f"max {rtt['max']:.3f} over {rtt['rounds']} x SELECT 1",
            f"schema     {schema}",
            "result     OK" if report["at_head"] else "result     SCHEMA NOT AT HEAD",
        ]
    )

"""Per-pair stuck-feed state (the rule is ``health.feed_watch``), kept in the pair's
initialization row (``pair_initialization.progress``) beside the backfill marks: no schema
change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    ColumnElement,
    Integer,
    Text,
    Update,
    bindparam,
    case,
    func,
    literal,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange_analytics.jsontypes import JSONValue
from exchange_analytics.storage.dialect import is_postgresql
from exchange_analytics.storage.initialization import get_progress
from exchange_analytics.storage.models import PairInitialization, utcnow

_INIT = PairInitialization.__table__

LATEST = "feed_latest"
STALE_RUNS = "feed_stale_runs"


FeedRow = tuple[datetime | None, int]


def feed_state_of(progress: Mapping[str, object] | None) -> FeedRow:
    """``(newest bar seen, stale runs)`` stored in a ``progress`` JSON object."""
    progress = progress or {}
    latest = progress.get(LATEST)
    runs = progress.get(STALE_RUNS)
    return (
        datetime.fromisoformat(latest) if isinstance(latest, str) else None,
        int(runs) if isinstance(runs, int | float) else 0,
    )


async def feed_state(conn: AsyncConnection, pair: str) -> FeedRow:
    """``(newest 5m bar the last run saw, consecutive runs without a new one)``."""
    return feed_state_of(await get_progress(conn, pair))


async def save_feed_state(
    conn: AsyncConnection, pair: str, latest: datetime | None, stale_runs: int
) -> None:
    """Store the feed state in the pair's row in one UPDATE (nothing when the pair has no
    row yet): the other keys of ``progress`` are kept, as ``initialization.set_markers``
    does. The statement is built once per engine (every run saves every pair's state, and
    building the JSON expression cost more than executing it); only its values are bound."""
    await conn.execute(
        _save_statement(is_postgresql(conn)),
        {
            "feed_pair": pair,
            "feed_latest": latest.isoformat() if latest else None,
            "feed_stale_runs": stale_runs,
            "feed_updated_at": utcnow(),
        },
    )


@lru_cache(maxsize=2)
def _save_statement(postgresql: bool) -> Update:
    """``UPDATE pair_initialization SET progress = progress with LATEST and STALE_RUNS set``
    (a NULL or non-object ``progress`` becomes ``{}`` first), values bound by name."""
    progress = _INIT.c.progress
    latest = bindparam("feed_latest", type_=Text)
    runs = bindparam("feed_stale_runs", type_=Integer)
    value: ColumnElement[JSONValue]
    if postgresql:  # asyncpg cannot infer a variadic's argument types: each is cast
        base = case(
            (func.jsonb_typeof(progress) == "object", progress),
            else_=sql_cast(literal("{}"), JSONB),
        )
        keys = (literal(LATEST, Text), literal(STALE_RUNS, Text))
        value = base.op("||")(
            func.jsonb_build_object(
                keys[0], sql_cast(latest, Text), keys[1], sql_cast(runs, Integer)
            )
        )
    else:
        base = case((func.json_type(progress) == "object", progress), else_=literal("{}"))
        value = func.json_set(base, f'$."{LATEST}"', latest, f'$."{STALE_RUNS}"', runs)
    return (
        update(_INIT)
        .where(_INIT.c.currency_pair == bindparam("feed_pair"))
        .values(
            progress=value, updated_at=bindparam("feed_updated_at", type_=_INIT.c.updated_at.type)
        )
    )

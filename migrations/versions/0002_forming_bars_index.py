"""Partial index on forming bars (is_complete = false), read every cycle.

The incremental derive stage asks for the buckets still forming per pair and timeframe; without
this index that question scans every bar of the pair, so its cost would grow with history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_price_data_forming",
        "price_data",
        ["currency_pair", "timeframe"],
        postgresql_where=sa.text("NOT is_complete"),
        sqlite_where=sa.text("is_complete = 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_price_data_forming", table_name="price_data")

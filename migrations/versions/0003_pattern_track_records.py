"""Pattern track records (SPEC §17) and the index follow-ups use to find their outbox rows.

``pattern_track_records`` holds the §16 evaluation per pair, pattern, direction and trailing
window, written by ``patterns evaluate --store`` (at most daily). A pattern message reads its row
when it is built, so a cycle never recomputes the evaluation and a slow evaluation cannot slow a
cycle. ``ix_notifications_detection_kind`` serves "has this notified signal had its follow-up
yet?" (SPEC §17 outcome follow-ups): the follow-up's outbox row is its own state, so no other
table is needed for follow-ups or digests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLOAT_COLUMNS = (
    "hit_rate",
    "hit_rate_low",
    "hit_rate_high",
    "expectancy_r",
    "baseline_hit_rate",
    "baseline_expectancy_r",
    "edge",
    "edge_low",
    "edge_high",
)


def upgrade() -> None:
    floats_before_baseline = [
        sa.Column(name, sa.Float(precision=53), nullable=True) for name in _FLOAT_COLUMNS[:4]
    ]
    floats_after_baseline = [
        sa.Column(name, sa.Float(precision=53), nullable=True) for name in _FLOAT_COLUMNS[4:]
    ]
    op.create_table(
        "pattern_track_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("currency_pair", sa.String(length=16), nullable=False),
        sa.Column("pattern_type", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("period_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signals", sa.Integer(), nullable=False),
        sa.Column("take_profit", sa.Integer(), nullable=False),
        sa.Column("stop_loss", sa.Integer(), nullable=False),
        sa.Column("ambiguous", sa.Integer(), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        *floats_before_baseline,
        sa.Column("baseline_entries", sa.Integer(), nullable=True),
        *floats_after_baseline,
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "currency_pair",
            "pattern_type",
            "direction",
            "window_days",
            name="uq_pattern_track_records_key",
        ),
    )
    op.create_index(
        "ix_notifications_detection_kind",
        "notifications",
        ["pattern_detection_id", "kind"],
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_detection_kind", table_name="notifications")
    op.drop_table("pattern_track_records")

"""Agent-connected outbound: per-attempt tier, offer, agent, wait and abandon; the
pacer's last decision per dialer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ATTEMPT_COLUMNS: tuple[sa.Column[object], ...] = (
    sa.Column("tier", sa.String(length=32), nullable=True),
    sa.Column("offered_to", sa.String(length=32), nullable=True),
    sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("agent", sa.String(length=32), nullable=True),
    sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("waited_ms", sa.Integer(), nullable=True),
    sa.Column("abandoned", sa.Boolean(), server_default=sa.false(), nullable=False),
)


def upgrade() -> None:
    with op.batch_alter_table("campaign_attempts") as batch:
        for column in _ATTEMPT_COLUMNS:
            batch.add_column(column._copy())
        batch.create_index(
            "ix_campaign_attempts_abandoned_number", ["abandoned", "number", "ended_at"]
        )
    with op.batch_alter_table("dialers") as batch:
        batch.add_column(sa.Column("pacing", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dialers") as batch:
        batch.drop_column("pacing")
    with op.batch_alter_table("campaign_attempts") as batch:
        batch.drop_index("ix_campaign_attempts_abandoned_number")
        for column in reversed(_ATTEMPT_COLUMNS):
            batch.drop_column(column.name)

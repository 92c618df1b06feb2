"""Outbound campaigns: call lists, attempts (one live per number), do-not-call list,
campaign states and dialers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 05:15:25.910482
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_states",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('idle', 'running', 'paused', 'stopped', 'done')",
            name=op.f("ck_campaign_states_status"),
        ),
        sa.PrimaryKeyConstraint("site", "campaign", name=op.f("pk_campaign_states")),
    )
    op.create_table(
        "dialers",
        sa.Column("dialer_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "heartbeat_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("dialer_id", name=op.f("pk_dialers")),
    )
    op.create_table(
        "dnc_numbers",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "source IN ('manual', 'import', 'optout')", name=op.f("ck_dnc_numbers_source")
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_dnc_numbers")),
    )
    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("manager", sa.String(length=32), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_disposition", sa.String(length=32), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "source IN ('audience', 'csv')", name=op.f("ck_campaign_contacts_source")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed', 'optout', 'dnc')",
            name=op.f("ck_campaign_contacts_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_campaign_contacts_attempts")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_campaign_contacts_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.UniqueConstraint(
            "site", "campaign", "number", name=op.f("uq_campaign_contacts_site_campaign_number")
        ),
    )
    op.create_index(op.f("ix_campaign_contacts_customer_id"), "campaign_contacts", ["customer_id"])
    op.create_index(
        "ix_campaign_contacts_due",
        "campaign_contacts",
        ["site", "campaign", "status", "next_attempt_at"],
    )

    op.create_table(
        "campaign_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("live_number", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("amd_status", sa.String(length=32), nullable=True),
        sa.Column("verdict", sa.Text(), nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_after_minutes", sa.Integer(), nullable=False),
        sa.Column("dialer_id", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("dialled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(state = 'ended' AND live_number IS NULL) OR "
            "(state <> 'ended' AND live_number = number)",
            name=op.f("ck_campaign_attempts_live_number"),
        ),
        sa.CheckConstraint(
            "state IN ('reserved', 'dialling', 'answered', 'ended')",
            name=op.f("ck_campaign_attempts_state"),
        ),
        sa.CheckConstraint("attempt_no >= 1", name=op.f("ck_campaign_attempts_attempt_no")),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["campaign_contacts.id"],
            name=op.f("fk_campaign_attempts_contact_id_campaign_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_attempts")),
        sa.UniqueConstraint("live_number", name=op.f("uq_campaign_attempts_live_number")),
    )
    op.create_index(op.f("ix_campaign_attempts_contact_id"), "campaign_attempts", ["contact_id"])
    op.create_index(op.f("ix_campaign_attempts_dialer_id"), "campaign_attempts", ["dialer_id"])
    op.create_index(
        "ix_campaign_attempts_number_created_at", "campaign_attempts", ["number", "created_at"]
    )
    op.create_index(
        "ix_campaign_attempts_site_campaign_state",
        "campaign_attempts",
        ["site", "campaign", "state"],
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_attempts_site_campaign_state", table_name="campaign_attempts")
    op.drop_index("ix_campaign_attempts_number_created_at", table_name="campaign_attempts")
    op.drop_index(op.f("ix_campaign_attempts_dialer_id"), table_name="campaign_attempts")
    op.drop_index(op.f("ix_campaign_attempts_contact_id"), table_name="campaign_attempts")

    op.drop_table("campaign_attempts")
    op.drop_index("ix_campaign_contacts_due", table_name="campaign_contacts")
    op.drop_index(op.f("ix_campaign_contacts_customer_id"), table_name="campaign_contacts")

    op.drop_table("campaign_contacts")
    op.drop_table("dnc_numbers")
    op.drop_table("dialers")
    op.drop_table("campaign_states")

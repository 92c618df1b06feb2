"""Initial schema: staff, customers (+ phones, tags), call records, survey responses.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 00:10:04.285408
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("device", sa.String(length=96), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("account_manager_id", sa.String(length=32), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_manager_id"],
            ["staff.id"],
            name=op.f("fk_customers_account_manager_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_account_manager_id"), "customers", ["account_manager_id"])
    op.create_index(op.f("ix_customers_region"), "customers", ["region"])
    op.create_index(op.f("ix_customers_tier"), "customers", ["tier"])

    op.create_table(
        "staff_groups",
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_groups_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", "name", name=op.f("pk_staff_groups")),
    )
    op.create_index(op.f("ix_staff_groups_name"), "staff_groups", ["name"])

    op.create_table(
        "call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("linkedid", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("caller", sa.String(length=80), nullable=True),
        sa.Column("dialled", sa.String(length=80), nullable=True),
        sa.Column("entry", sa.String(length=64), nullable=True),
        sa.Column("node_trace", sa.Text(), nullable=False),
        sa.Column("destination", sa.String(length=128), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("path", sa.String(length=32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=True),
        sa.Column("agent", sa.String(length=32), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("talk_seconds", sa.Integer(), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("recording_file", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name=op.f("ck_call_records_direction")
        ),
        sa.CheckConstraint("talk_seconds >= 0", name=op.f("ck_call_records_talk_seconds")),
        sa.CheckConstraint("wait_seconds >= 0", name=op.f("ck_call_records_wait_seconds")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_call_records_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_records")),
        sa.UniqueConstraint("linkedid", name=op.f("uq_call_records_linkedid")),
    )
    op.create_index(op.f("ix_call_records_agent"), "call_records", ["agent"])
    op.create_index(op.f("ix_call_records_customer_id"), "call_records", ["customer_id"])
    op.create_index(op.f("ix_call_records_queue"), "call_records", ["queue"])
    op.create_index(op.f("ix_call_records_started_at"), "call_records", ["started_at"])

    op.create_table(
        "customer_phones",
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_phones_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_customer_phones")),
    )
    op.create_index(op.f("ix_customer_phones_customer_id"), "customer_phones", ["customer_id"])

    op.create_table(
        "customer_tags",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_tags_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "tag", name=op.f("pk_customer_tags")),
    )
    op.create_index(op.f("ix_customer_tags_tag"), "customer_tags", ["tag"])

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_record_id", sa.Integer(), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["call_record_id"],
            ["call_records.id"],
            name=op.f("fk_survey_responses_call_record_id_call_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
    )
    op.create_index(
        op.f("ix_survey_responses_call_record_id"), "survey_responses", ["call_record_id"]
    )
    op.create_index(op.f("ix_survey_responses_campaign"), "survey_responses", ["campaign"])


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_responses_campaign"), table_name="survey_responses")
    op.drop_index(op.f("ix_survey_responses_call_record_id"), table_name="survey_responses")

    op.drop_table("survey_responses")
    op.drop_index(op.f("ix_customer_tags_tag"), table_name="customer_tags")

    op.drop_table("customer_tags")
    op.drop_index(op.f("ix_customer_phones_customer_id"), table_name="customer_phones")

    op.drop_table("customer_phones")
    op.drop_index(op.f("ix_call_records_started_at"), table_name="call_records")
    op.drop_index(op.f("ix_call_records_queue"), table_name="call_records")
    op.drop_index(op.f("ix_call_records_customer_id"), table_name="call_records")
    op.drop_index(op.f("ix_call_records_agent"), table_name="call_records")

    op.drop_table("call_records")
    op.drop_index(op.f("ix_staff_groups_name"), table_name="staff_groups")

    op.drop_table("staff_groups")
    op.drop_index(op.f("ix_customers_tier"), table_name="customers")
    op.drop_index(op.f("ix_customers_region"), table_name="customers")
    op.drop_index(op.f("ix_customers_account_manager_id"), table_name="customers")

    op.drop_table("customers")
    op.drop_table("staff")

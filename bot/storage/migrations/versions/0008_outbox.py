"""Outbox: notices kept until they reach the person (live, or at their next message).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_how", sa.String(length=8), nullable=True),
        sa.CheckConstraint("kind IN ('referent', 'badge', 'follow_up')", name=op.f("ck_outbox_kind")),
        sa.CheckConstraint("delivered_how IS NULL OR delivered_how IN ('live', 'later')",
                           name=op.f("ck_outbox_delivered_how")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name=op.f("fk_outbox_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    # the per-turn question « anything pending for this person? » is one index lookup
    op.create_index("ix_outbox_person_pending", "outbox", ["person_id", "delivered_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_person_pending", table_name="outbox")
    op.drop_table("outbox")

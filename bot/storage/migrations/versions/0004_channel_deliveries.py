"""Channels: deliveries already handled (dedupe of platform retries across restarts).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "channel_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_deliveries")),
        sa.UniqueConstraint("channel", "delivery_id", name=op.f("uq_channel_deliveries_channel")),
    )
    op.create_index(op.f("ix_channel_deliveries_received_at"), "channel_deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_channel_deliveries_received_at"), table_name="channel_deliveries")
    op.drop_table("channel_deliveries")

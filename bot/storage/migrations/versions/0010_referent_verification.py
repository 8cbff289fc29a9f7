"""Referent verification: a keyed hash of the referent's address and a one-time code.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("referent_invitations") as batch:
        batch.add_column(sa.Column("referent_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("code_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("code_sends", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    # answers given before verification existed were not checked: they stop counting
    # until a referent confirms (nothing to migrate: they are simply not verified)


def downgrade() -> None:
    with op.batch_alter_table("referent_invitations") as batch:
        for name in ("verified_at", "code_sends", "code_attempts", "code_expires_at", "code_hash",
                     "referent_key"):
            batch.drop_column(name)

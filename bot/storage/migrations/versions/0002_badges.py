"""Issued badges (Challenger): the signed credential and its revocation index.

A new table only: plain CREATE TABLE works on SQLite too, no batch rebuild is
needed (``render_as_batch`` in env.py covers later ALTERs).

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-27
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "badges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("jwt", sa.Text(), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("level IN ('confirme', 'expert')", name=op.f("ck_badges_level")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_badges_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badges")),
        sa.UniqueConstraint("status_index", name=op.f("uq_badges_status_index")),
    )
    op.create_index(op.f("ix_badges_person_id"), "badges", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_badges_person_id"), table_name="badges")
    op.drop_table("badges")

"""Progresser: preferences (formats, time, department, minor, reminders) and the
resources proposed with what the person said of them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "progress_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=True),
        sa.Column("max_minutes", sa.Integer(), nullable=True),
        sa.Column("department", sa.String(length=3), nullable=True),
        sa.Column("is_minor", sa.Boolean(), nullable=True),
        sa.Column("follow_ups", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_progress_profiles_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_profiles")),
        sa.UniqueConstraint("person_id", name=op.f("uq_progress_profiles_person_id")),
    )
    op.create_table(
        "resource_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=100), nullable=False),
        sa.Column("skill_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('proposed', 'done', 'not_for_me')",
                           name=op.f("ck_resource_feedback_status")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_resource_feedback_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_feedback")),
        sa.UniqueConstraint("person_id", "resource_id", name=op.f("uq_resource_feedback_person_id")),
    )
    op.create_index(op.f("ix_resource_feedback_person_id"), "resource_feedback", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_resource_feedback_person_id"), table_name="resource_feedback")
    op.drop_table("resource_feedback")
    op.drop_table("progress_profiles")

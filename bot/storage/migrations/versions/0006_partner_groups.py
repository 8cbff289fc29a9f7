"""Partner groups: a partner's group code and page token hash, and who joined it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "partner_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_groups")),
        sa.UniqueConstraint("code", name=op.f("uq_partner_groups_code")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_partner_groups_token_hash")),
    )
    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["partner_groups.id"],
            name=op.f("fk_group_members_group_id_partner_groups"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_group_members_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint("group_id", "person_id", name=op.f("uq_group_members_group_id")),
    )
    op.create_index(op.f("ix_group_members_person_id"), "group_members", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_group_members_person_id"), table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("partner_groups")

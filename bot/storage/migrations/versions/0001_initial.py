"""Initial schema: persons, experiences, skill_claims, export_tokens.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("first_name", sa.String(length=50), nullable=True),
        sa.Column("consent_given", sa.Boolean(), nullable=False),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notice_version", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    )
    op.create_index(op.f("ix_persons_sender_id"), "persons", ["sender_id"], unique=True)

    op.create_table(
        "experiences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("context", sa.String(length=100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_experiences_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiences")),
    )
    op.create_index(op.f("ix_experiences_person_id"), "experiences", ["person_id"])

    op.create_table(
        "skill_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experience_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=100), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 1", name=op.f("ck_skill_claims_confidence_range")
        ),
        sa.CheckConstraint(
            "status IN ('confirmed', 'rejected')", name=op.f("ck_skill_claims_status")
        ),
        sa.ForeignKeyConstraint(
            ["experience_id"], ["experiences.id"],
            name=op.f("fk_skill_claims_experience_id_experiences"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skill_claims")),
    )
    op.create_index(op.f("ix_skill_claims_experience_id"), "skill_claims", ["experience_id"])

    op.create_table(
        "export_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_export_tokens_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_export_tokens_token_hash")),
    )
    op.create_index(op.f("ix_export_tokens_person_id"), "export_tokens", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_export_tokens_person_id"), table_name="export_tokens")
    op.drop_table("export_tokens")
    op.drop_index(op.f("ix_skill_claims_experience_id"), table_name="skill_claims")
    op.drop_table("skill_claims")
    op.drop_index(op.f("ix_experiences_person_id"), table_name="experiences")
    op.drop_table("experiences")
    op.drop_index(op.f("ix_persons_sender_id"), table_name="persons")
    op.drop_table("persons")

"""Challenger: self-assessments, referent invitations and referent answers.

New tables only (plain CREATE TABLE, fine on SQLite).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

RELATIONSHIPS = ("coach", "tuteur", "responsable_benevole", "enseignant", "employeur", "collegue", "autre")


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=100), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_assessments_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
        sa.UniqueConstraint("person_id", "skill_id", name=op.f("uq_assessments_person_id")),
    )
    op.create_index(op.f("ix_assessments_person_id"), "assessments", ["person_id"])
    op.create_table(
        "referent_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("referent_name", sa.String(length=50), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("skill_ids", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "relation IN (" + ", ".join(f"'{r}'" for r in RELATIONSHIPS) + ")",
            name=op.f("ck_referent_invitations_relation"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"],
            name=op.f("fk_referent_invitations_person_id_persons"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referent_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_referent_invitations_token_hash")),
    )
    op.create_index(op.f("ix_referent_invitations_person_id"), "referent_invitations", ["person_id"])
    op.create_table(
        "referent_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.String(length=100), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["referent_invitations.id"],
            name=op.f("fk_referent_responses_invitation_id_referent_invitations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referent_responses")),
        sa.UniqueConstraint("invitation_id", "skill_id", name=op.f("uq_referent_responses_invitation_id")),
    )
    op.create_index(op.f("ix_referent_responses_invitation_id"), "referent_responses", ["invitation_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_referent_responses_invitation_id"), table_name="referent_responses")
    op.drop_table("referent_responses")
    op.drop_index(op.f("ix_referent_invitations_person_id"), table_name="referent_invitations")
    op.drop_table("referent_invitations")
    op.drop_index(op.f("ix_assessments_person_id"), table_name="assessments")
    op.drop_table("assessments")

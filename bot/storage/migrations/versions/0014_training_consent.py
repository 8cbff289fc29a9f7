"""Training consent: whether the person lets their stories, without their name, become
candidate training examples that a trainer reviews (issue 11, `make review`). Null:
never asked.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("training_consent", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("training_consent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        batch.drop_column("training_consent_at")
        batch.drop_column("training_consent")

"""Retention: when the person was told their space would be erased for inactivity; the
notice itself is kept in the outbox (a new kind, « retention »).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


KINDS_BEFORE = "kind IN ('referent', 'badge', 'follow_up')"
KINDS_AFTER = "kind IN ('referent', 'badge', 'follow_up', 'retention')"


def _outbox_kinds(check: str) -> None:
    # "auto": SQLite copies the table (it cannot alter a constraint); PostgreSQL alters it
    # in place. ("always" made PostgreSQL copy it too, with a new id sequence starting at 1:
    # the next notice collided with the rows kept — see 0012 for databases already there.)
    with op.batch_alter_table("outbox", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_kind"), check)


def upgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("retention_notice_at", sa.DateTime(timezone=True), nullable=True))
    _outbox_kinds(KINDS_AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind = 'retention'")
    _outbox_kinds(KINDS_BEFORE)
    with op.batch_alter_table("persons") as batch:
        batch.drop_column("retention_notice_at")

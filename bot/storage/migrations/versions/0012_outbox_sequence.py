"""PostgreSQL only: put the outbox id sequence back after the rows it holds.

0011 used to copy the outbox table on PostgreSQL too, which gave it a new id sequence
starting at 1 while the rows kept their ids: the next notice failed on the primary key.
0011 no longer does that; this repairs a database that already ran the old 0011. No-op
on SQLite and on a sound sequence.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("SELECT setval(pg_get_serial_sequence('outbox', 'id'), "
               "GREATEST((SELECT COALESCE(MAX(id), 0) FROM outbox), 1), "
               "(SELECT COUNT(*) > 0 FROM outbox))")


def downgrade() -> None:
    pass  # nothing to undo

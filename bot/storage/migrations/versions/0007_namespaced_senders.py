"""Sender ids namespaced per channel: ``tg:<chat id>``, ``fb:<psid>``, ``web:<session>``,
``rest:<sender>`` (see bot/sender_ids.py). Existing people are rewritten from the
channel recorded with their consent; a person without a known channel keeps a bare id,
which no channel produces any more (reachable by nobody; erased by the operator).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# persons.channel (Rasa's input channel name at consent) -> prefix; as bot.sender_ids
CHANNEL_PREFIXES = {"telegram": "tg", "messenger": "fb", "facebook": "fb", "socketio": "web", "rest": "rest"}

persons = sa.table("persons", sa.column("sender_id", sa.String), sa.column("channel", sa.String))


def upgrade() -> None:
    # an id without its own channel's prefix gets it, even one that looks like another
    # channel's (a REST sender "tg:123" becomes "rest:tg:123", never Telegram's chat 123)
    for channel, prefix in CHANNEL_PREFIXES.items():
        op.execute(
            persons.update()
            .where(persons.c.channel == channel, sa.not_(persons.c.sender_id.like(f"{prefix}:%")))
            .values(sender_id=sa.literal(f"{prefix}:", sa.String) + persons.c.sender_id)
        )


def downgrade() -> None:
    for channel, prefix in CHANNEL_PREFIXES.items():
        op.execute(
            persons.update()
            .where(persons.c.channel == channel, persons.c.sender_id.like(f"{prefix}:%"))
            .values(sender_id=sa.func.substr(persons.c.sender_id, len(prefix) + 2))
        )

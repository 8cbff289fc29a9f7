"""SQL tracker store that can forget a person completely.

When the ``action_delete_my_data`` action sets the slot ``data_erased``, the
turn is not written: every stored event of that conversation is deleted
instead, so nothing about the sender remains in the Rasa database either.
Configured in ``endpoints.yml`` (``type: bot.tracker_store.ErasableSQLTrackerStore``).
"""
from __future__ import annotations

import logging

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups
from bot.privacy.files import private_sqlite
from bot.privacy.tracker import RedactingStore
from bot.storage.db import checkpoint

logger = logging.getLogger(__name__)

ERASE_SLOT = "data_erased"


def erasure_requested(tracker: DialogueStateTracker) -> bool:
    """True when this turn (events since the last user message) asked for erasure."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, SlotSet) and event.key == ERASE_SLOT and event.value is True:
            return True
    return False


class ErasableSQLTrackerStore(RedactingStore, SQLTrackerStore):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if kwargs.get("dialect", "sqlite") == "sqlite":  # the file 0600 before SQLite creates it
            private_sqlite(str(kwargs.get("db") or "rasa.db"))
        super().__init__(*args, **kwargs)
        rasa_speedups.apply()
        if self.engine.dialect.name == "sqlite":
            from sqlalchemy import event

            from bot.storage.db import tune_sqlite

            event.listen(self.engine, "connect", tune_sqlite)
            self.engine.dispose()  # connections opened during set-up get the settings too

    async def save(self, tracker: DialogueStateTracker) -> None:
        if erasure_requested(tracker):
            await self.erase(tracker.sender_id)
            return
        await super().save(tracker)  # new events redacted: RedactingStore._additional_events
        self.forget_after_use(tracker)  # « Je ne garde rien »: a story without consent, a place

    async def erase(self, sender_id: str) -> int:
        with self.session_scope() as session:
            deleted = (
                session.query(self.SQLEvent)
                .filter(self.SQLEvent.sender_id == sender_id)
                .delete(synchronize_session=False)
            )
            session.commit()
        checkpoint(self.engine)  # no copy left in the write-ahead log
        logger.info("Erased a conversation (%d events).", deleted)
        return deleted

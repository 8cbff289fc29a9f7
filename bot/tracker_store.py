"""SQL tracker store that can forget a person completely.

When the ``action_delete_my_data`` action sets the slot ``data_erased``, the
turn is not written: every stored event of that conversation is deleted
instead, so nothing about the sender remains in the Rasa database either.
Configured in ``endpoints.yml`` (``type: bot.tracker_store.ErasableSQLTrackerStore``).

Before events are written, each passes through ``REDACTORS`` (a list of functions
``event dict -> event dict``): a crisis message (intent ``crisis``, set by the safety
layer) is stored as « [message masqué] », without its entities or skill evidence.
Add a redactor to that list to mask something else (tokens, addresses…).

A turn loads a bounded window of the current session (``bot.tracker_window``).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Dict, Iterator, List

import sqlalchemy as sa

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups
from bot.sender_ids import CHANNEL_PREFIXES
from bot.privacy.files import private_sqlite
from bot.privacy.tracker import RedactingStore
from bot.tracker_window import WindowedStore
from bot.storage.db import checkpoint

logger = logging.getLogger(__name__)

ERASE_SLOT = "data_erased"
MASKED = "[message masqué]"
CRISIS_INTENT = "crisis"

EventDict = Dict[str, Any]
Redactor = Callable[[EventDict], EventDict]


def redact_crisis_message(data: EventDict) -> EventDict:
    """A user message the safety layer flagged as a crisis keeps its intent and
    categories (what the bot did and why) but not its words."""
    if data.get("event") != "user":
        return data
    parse = data.get("parse_data") if isinstance(data.get("parse_data"), dict) else {}
    if (parse.get("intent") or {}).get("name") != CRISIS_INTENT:
        return data
    data = dict(data, text=MASKED)
    parse = dict(parse, text=MASKED, entities=[])
    if "soft_skills" in parse:
        parse["soft_skills"] = []
    data["parse_data"] = parse
    return data


# Applied in order to every event before it is stored.
REDACTORS: List[Redactor] = [redact_crisis_message]


NOT_KEPT = "[message non gardé]"


def _without_evidence(skills: Any) -> Any:
    if not isinstance(skills, list):
        return skills
    return [dict(item, evidence="") if isinstance(item, dict) and item.get("evidence") else item for item in skills]


def redact_words(data: EventDict) -> EventDict:
    """A person who refused consent: their messages are stored without their words, nor
    the quotes the skill detector took from them (the turn already used them; the story
    slots hold a story only until its end, bot.privacy), and the story kept for
    corrections after the summary (`last_story`) without its text: a later correction
    works on the skill ids alone."""
    if data.get("event") == "slot" and data.get("name") == "last_story" and isinstance(data.get("value"), dict):
        value = data["value"]
        return dict(data, value=dict(value, text="", skills=_without_evidence(value.get("skills"))))
    if data.get("event") != "user" or not isinstance(data.get("text"), str) or data["text"].startswith("/"):
        return data
    data = dict(data, text=NOT_KEPT)
    if isinstance(data.get("parse_data"), dict):
        parse = dict(data["parse_data"], text=NOT_KEPT)
        if "soft_skills" in parse:
            parse["soft_skills"] = _without_evidence(parse["soft_skills"])
        data["parse_data"] = parse
    return data


def redact(data: EventDict, redactors: List[Redactor] | None = None) -> EventDict:
    for redactor in REDACTORS if redactors is None else redactors:
        data = redactor(data)
    return data


def erasure_requested(tracker: DialogueStateTracker) -> bool:
    """True when this turn (events since the last user message) asked for erasure."""
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, SlotSet) and event.key == ERASE_SLOT and event.value is True:
            return True
    return False


class ErasableSQLTrackerStore(RedactingStore, WindowedStore, SQLTrackerStore):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if kwargs.get("dialect", "sqlite") == "sqlite":  # the file 0600 before SQLite creates it
            private_sqlite(str(kwargs.get("db") or "rasa.db"))
        super().__init__(*args, **kwargs)
        rasa_speedups.apply()
        if self.engine.dialect.name == "sqlite":
            from sqlalchemy import event

            from bot.storage.db import tune_sqlite

            # SQLAlchemy 1.4 opens a new SQLite connection for every session of a file
            # database (NullPool), and tune_sqlite's pragmas ran each time: a small pool
            # instead (py-spy under make bench: connect + close + pragmas ≈ 3 % of the CPU)
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=sa.pool.QueuePool, pool_size=4, max_overflow=4,
                                           connect_args={"check_same_thread": False})
            event.listen(self.engine, "connect", tune_sqlite)
            self.sessionmaker.configure(bind=self.engine)
        self.namespace_senders()

    MIGRATIONS_TABLE = "atouts_tracker_migrations"

    def namespace_senders(self) -> int:
        """Conversations stored before sender ids were namespaced per channel (issue 10)
        get their channel's prefix (``tg:``, ``fb:``, ``web:``, ``rest:``), read from their
        latest user message, as the app database's migration 0007 does for people: their
        conversation, export and erasure stay whole. An id without its own channel's
        prefix gets it even when it looks like another channel's (a REST sender "tg:123"
        becomes "rest:tg:123"). Runs once (marked in ``atouts_tracker_migrations``);
        a conversation without a user message keeps its bare id (no channel reaches it)."""
        name = "0007_namespaced_senders"
        moved = 0
        with self.session_scope() as session:
            session.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {self.MIGRATIONS_TABLE} "
                                    "(name VARCHAR(100) PRIMARY KEY)"))
            done = session.execute(sa.text(f"SELECT 1 FROM {self.MIGRATIONS_TABLE} WHERE name = :n"),
                                   {"n": name}).first()
            if done is None:
                latest = (session.query(sa.func.max(self.SQLEvent.id))
                          .filter(self.SQLEvent.type_name == "user").group_by(self.SQLEvent.sender_id))
                rows = (session.query(self.SQLEvent.sender_id, self.SQLEvent.data)
                        .filter(self.SQLEvent.id.in_(latest.scalar_subquery())).all())
                for sender_id, data in rows:
                    try:
                        channel = json.loads(data).get("input_channel")
                    except (TypeError, ValueError, AttributeError):
                        channel = None
                    prefix = CHANNEL_PREFIXES.get(channel or "")
                    if prefix is None or sender_id.startswith(prefix + ":"):
                        continue
                    session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).update(
                        {self.SQLEvent.sender_id: f"{prefix}:{sender_id}"}, synchronize_session=False)
                    moved += 1
                session.execute(sa.text(f"INSERT INTO {self.MIGRATIONS_TABLE} (name) VALUES (:n)"), {"n": name})
            session.commit()
        if moved:
            logger.info("Namespaced the sender ids of %d stored conversations.", moved)
        return moved

    async def save(self, tracker: DialogueStateTracker) -> None:
        if erasure_requested(tracker):
            await self.erase(tracker.sender_id)
            return
        await super().save(tracker)  # new events redacted: RedactingStore._additional_events
        self.forget_after_use(tracker)  # « Je ne garde rien »: a story without consent, a place

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The new events, redacted by bot.privacy (links, addresses, e-mails, stories
        without consent) and then by ``REDACTORS`` (crisis messages)."""
        keep_nothing = tracker.get_slot("consent") == "non"  # « Je ne garde rien »
        out = []
        for event in super()._additional_events(session, tracker):
            before = event.as_dict()
            after = redact(dict(before))
            if keep_nothing:
                after = redact_words(after)
            out.append(event if after == before else Event.from_parameters(after))
        return iter(out)

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

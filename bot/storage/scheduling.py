"""Scheduled proactive messages (the follow-up reminder), kept in the app database.

Mixed into ``bot.storage.Store`` (which provides ``_session`` and ``_person``). A row
belongs to a person and is reached through their ``sender_id`` only — except by the
scheduler, which takes the due rows of everyone (``claim_due``) to send them.

Fired once across processes and replicas: a due row is taken by a conditional UPDATE
whose rowcount says who won (the same on SQLite and PostgreSQL, as in the outbox), with
a lease; the sender then settles it — done when Rasa accepted the trigger, released
otherwise (tried again at the next poll). A process that dies mid-send leaves a lease
that expires after ``LEASE``. Rows due while every server was down are simply due at
the next poll: caught up once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.storage.models import SCHEDULED_KINDS, Person, Scheduled, aware, iso, utcnow
from bot.storage.outbox import unleased

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

LEASE = timedelta(minutes=2)  # longest a send may hold a row before another process retries it


@dataclass(frozen=True)
class DueMessage:
    id: int
    sender_id: str
    kind: str
    entities: Dict[str, Any] = field(default_factory=dict)


def _free(now: datetime):
    return unleased(Scheduled.done_at, Scheduled.claimed_at, now, LEASE)


class ScheduleStore:
    _session: "sessionmaker"

    @staticmethod
    def _person(s: Session, sender_id: str) -> Person | None:  # provided by Store
        raise NotImplementedError

    def schedule(self, sender_id: str, kind: str, due_at: datetime,
                 entities: Optional[Dict[str, Any]] = None) -> Optional[int]:
        """Keep a message to send at ``due_at`` (replacing the pending one of that kind);
        its id, or None without a consenting person (nothing is kept for them)."""
        if kind not in SCHEDULED_KINDS:
            raise ValueError(f"kind must be one of {SCHEDULED_KINDS}")
        clean = {str(k)[:40]: str(v)[:200] for k, v in (entities or {}).items()}
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return None
            s.execute(delete(Scheduled).where(Scheduled.person_id == person.id, Scheduled.kind == kind,
                                              Scheduled.done_at.is_(None)))
            row = Scheduled(person_id=person.id, kind=kind, due_at=aware(due_at), entities=clean)
            s.add(row)
            s.flush()
            return int(row.id)

    def cancel_scheduled(self, sender_id: str, kind: Optional[str] = None) -> int:
        """Drop the person's pending messages (of ``kind``); how many."""
        owned = Scheduled.person_id == select(Person.id).where(Person.sender_id == sender_id).scalar_subquery()
        query = delete(Scheduled).where(owned, Scheduled.done_at.is_(None))
        if kind is not None:
            query = query.where(Scheduled.kind == kind)
        with self._session() as s, s.begin():
            return int(s.execute(query.execution_options(synchronize_session=False)).rowcount or 0)

    def claim_due(self, now: Optional[datetime] = None, limit: int = 50) -> List[DueMessage]:
        """Take the due messages no other process holds, each under a lease."""
        now = aware(now) if now else utcnow()
        with self._session() as s:
            candidates = s.execute(
                select(Scheduled.id, Person.sender_id, Scheduled.kind, Scheduled.entities)
                .join(Person, Person.id == Scheduled.person_id)
                .where(Scheduled.due_at <= now, _free(now))
                .order_by(Scheduled.due_at).limit(limit)).all()
        claimed = []
        for row_id, sender_id, kind, entities in candidates:
            with self._session() as s, s.begin():
                won = s.execute(update(Scheduled).where(Scheduled.id == row_id, _free(now))
                                .values(claimed_at=now).execution_options(synchronize_session=False)).rowcount
            if won == 1:
                claimed.append(DueMessage(int(row_id), sender_id, kind, dict(entities or {})))
        return claimed

    def settle_scheduled(self, row_id: int, sent: bool) -> None:
        """Done when sent; released (tried again at the next poll) otherwise."""
        values = {"done_at": utcnow()} if sent else {"claimed_at": None}
        with self._session() as s, s.begin():
            s.execute(update(Scheduled).where(Scheduled.id == int(row_id), Scheduled.done_at.is_(None))
                      .values(**values).execution_options(synchronize_session=False))

    def pending_scheduled(self, sender_id: str) -> List[Dict[str, Any]]:
        with self._session() as s:
            person = self._person(s, sender_id)
            if person is None:
                return []
            rows = s.execute(select(Scheduled).where(Scheduled.person_id == person.id,
                                                     Scheduled.done_at.is_(None))).scalars()
            return [{"kind": r.kind, "due_at": iso(r.due_at), "entities": dict(r.entities or {})} for r in rows]

    # --- rights ---------------------------------------------------------------------------

    @staticmethod
    def _export_scheduled(s: Session, person_id: int) -> dict:
        rows = s.execute(select(Scheduled).where(Scheduled.person_id == person_id).order_by(Scheduled.id)).scalars()
        return {"scheduled": [
            {"kind": r.kind, "due_at": iso(r.due_at), "entities": dict(r.entities or {}),
             "created_at": iso(r.created_at), "done_at": iso(r.done_at)}
            for r in rows
        ]}

    @staticmethod
    def _erase_scheduled(person_id: int):
        return delete(Scheduled).where(Scheduled.person_id == person_id)

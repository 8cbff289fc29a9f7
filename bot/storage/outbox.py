"""The outbox: notices kept until they are known to have reached the person.

Mixed into ``bot.storage.Store`` (which provides ``_session`` and ``_person``). Every
method takes the person's own key (``sender_id``): a notice is never reached through
anything else. Nothing is kept without a consenting person; exported and erased with
the person.

Two ways out, each claiming rows with a conditional UPDATE whose rowcount says who
won (the same on SQLite and PostgreSQL, no RETURNING needed), so that two concurrent
deliveries never send one notice twice:

- **live**: the output channel that sends a notice first takes a short lease
  (``claim_notice``), then settles it: delivered when the platform accepted the
  message, released otherwise (``settle_notice``). A process that dies mid-send
  leaves a lease that expires after ``LEASE``: the notice then comes later.
- **later**: at the person's next message, ``claim_missed`` takes every pending
  notice (not delivered, not leased) and marks it delivered in the same transaction;
  ``unclaim_missed`` puts them back when that send failed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.storage.models import NOTICE_KINDS, NOTICE_TEXT_MAX, Notice, Person, aware, iso, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

NOTICE_KEY = "atouts_notice"  # in a bot message's metadata: the outbox id of the notice it belongs to
LEASE = timedelta(minutes=2)  # longest a live send may hold a notice before it comes later


@dataclass(frozen=True)
class PendingNotice:
    id: int
    kind: str
    text: str
    created_at: datetime


def unleased(done: Any, claimed: Any, now: datetime, lease: timedelta):
    """Not done yet and held by nobody (or the holder's lease ran out): a row another
    process may take with a conditional UPDATE."""
    return and_(done.is_(None), or_(claimed.is_(None), claimed < now - lease))


def _free(now: datetime):
    """Not delivered and not held by a live send (or its lease ran out)."""
    return unleased(Notice.delivered_at, Notice.claimed_at, now, LEASE)


class OutboxStore:
    _session: "sessionmaker"

    @staticmethod
    def _person(s: Session, sender_id: str) -> Person | None:  # provided by Store
        raise NotImplementedError

    @staticmethod
    def _owned(sender_id: str):
        return Notice.person_id == select(Person.id).where(Person.sender_id == sender_id).scalar_subquery()

    def add_notice(self, sender_id: str, kind: str, text: str) -> Optional[int]:
        """Keep a notice for the person; its id, or None without a consenting person."""
        if kind not in NOTICE_KINDS:
            raise ValueError(f"kind must be one of {NOTICE_KINDS}")
        text = (text or "").strip()
        if not text:
            raise ValueError("a notice needs a text")
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return None
            row = Notice(person_id=person.id, kind=kind, text=text[:NOTICE_TEXT_MAX], created_at=utcnow())
            s.add(row)
            s.flush()
            return row.id

    # --- live ---------------------------------------------------------------------------

    def claim_notice(self, sender_id: str, notice_id: int) -> bool:
        """Take the lease to send this notice live; False when it is already delivered
        (or being delivered): then it must not be sent again."""
        now = utcnow()
        with self._session() as s, s.begin():
            return s.execute(
                update(Notice)
                .where(Notice.id == int(notice_id), self._owned(sender_id), _free(now))
                .values(claimed_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount == 1

    def settle_notice(self, sender_id: str, notice_id: int, delivered: bool) -> None:
        """After a live send: delivered (the platform took it), or released for later."""
        values = (dict(delivered_at=utcnow(), delivered_how="live", claimed_at=None) if delivered
                  else dict(delivered_at=None, delivered_how=None, claimed_at=None))
        with self._session() as s, s.begin():
            s.execute(update(Notice).where(Notice.id == int(notice_id), self._owned(sender_id))
                      .values(**values).execution_options(synchronize_session=False))

    # --- later: at the person's next message ------------------------------------------------

    def claim_missed(self, sender_id: str) -> List[PendingNotice]:
        """The person's pending notices, oldest first, marked delivered (``later``) in one
        transaction; a notice taken meanwhile by a concurrent claim is left out.
        With nothing pending — nearly every turn — this is one indexed SELECT."""
        now = utcnow()
        with self._session() as s:
            rows = s.execute(
                select(Notice.id, Notice.kind, Notice.text, Notice.created_at)
                .join(Person, Notice.person_id == Person.id)
                .where(Person.sender_id == sender_id, _free(now))
                .order_by(Notice.created_at, Notice.id)
            ).all()
            if not rows:  # nearly every turn: a read, no write transaction
                return []
            claimed: List[PendingNotice] = []
            for row in rows:
                won = s.execute(
                    update(Notice).where(Notice.id == row.id, _free(now))
                    .values(delivered_at=now, delivered_how="later", claimed_at=None)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if won == 1:
                    claimed.append(PendingNotice(row.id, row.kind, row.text, aware(row.created_at)))  # type: ignore[arg-type]
            s.commit()
            return claimed

    def unclaim_missed(self, sender_id: str, notice_ids: Sequence[int]) -> None:
        """Sending the missed notices failed: they stay pending for the next message."""
        if not notice_ids:
            return
        with self._session() as s, s.begin():
            s.execute(update(Notice)
                      .where(Notice.id.in_([int(i) for i in notice_ids]), self._owned(sender_id),
                             Notice.delivered_how == "later")
                      .values(delivered_at=None, delivered_how=None)
                      .execution_options(synchronize_session=False))

    # --- rights ---------------------------------------------------------------------------

    @staticmethod
    def _export_outbox(s: Session, person_id: int) -> dict:
        rows = s.execute(select(Notice).where(Notice.person_id == person_id).order_by(Notice.id)).scalars()
        return {"notices": [
            {"kind": n.kind, "text": n.text, "created_at": iso(n.created_at),
             "delivered_at": iso(n.delivered_at), "delivered_how": n.delivered_how}
            for n in rows
        ]}

    @staticmethod
    def _erase_outbox(person_id: int):
        return delete(Notice).where(Notice.person_id == person_id)

"""Progresser storage: preferences asked once, resources proposed and their fate.

Mixed into ``bot.storage.Store`` (which provides ``_session`` and ``_person``).
Nothing without a consenting person; exported and erased with the person.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import RESOURCE_STATUSES, Person, ProgressProfile, ResourceFeedback, iso, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

_UNSET = object()


@dataclass(frozen=True)
class ProgressPrefs:
    kinds: Optional[tuple] = None  # None: not asked yet; (): any kind
    max_minutes: Optional[int] = None
    department: Optional[str] = None
    is_minor: Optional[bool] = None
    follow_ups: Optional[bool] = None
    history: dict = field(default_factory=dict)  # resource id -> status


class ProgressStore:
    _session: "sessionmaker"

    @staticmethod
    def _person(s: Session, sender_id: str) -> Person | None:  # provided by Store
        raise NotImplementedError

    def progress_prefs(self, sender_id: str) -> ProgressPrefs:
        with self._session() as s:
            person = self._person(s, sender_id)
            if person is None:
                return ProgressPrefs()
            history = {r.resource_id: r.status for r in person.resources}
            row = person.progress
            if row is None:
                return ProgressPrefs(history=history)
            kinds = None if row.kinds is None else tuple(row.kinds)
            return ProgressPrefs(kinds, row.max_minutes, row.department, row.is_minor, row.follow_ups, history)

    def set_progress_prefs(self, sender_id: str, *, kinds: object = _UNSET, max_minutes: object = _UNSET,
                           department: object = _UNSET, is_minor: object = _UNSET,
                           follow_ups: object = _UNSET) -> bool:
        """Change what is given (others untouched); False without a consenting person."""
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return False
            row = person.progress or ProgressProfile(person=person)
            if kinds is not _UNSET:
                row.kinds = None if kinds is None else sorted(set(kinds))  # type: ignore[arg-type]
            if max_minutes is not _UNSET:
                row.max_minutes = max_minutes
            if department is not _UNSET:
                row.department = department
            if is_minor is not _UNSET:
                row.is_minor = is_minor
            if follow_ups is not _UNSET:
                row.follow_ups = follow_ups
            row.updated_at = utcnow()
            s.add(row)
            return True

    def record_resources(self, sender_id: str, skill_id: str, resource_ids: Sequence[str],
                         status: str = "proposed") -> bool:
        """Remember resources proposed (or done / not for me); a proposal never
        overrides what the person already said."""
        if status not in RESOURCE_STATUSES:
            raise ValueError(f"status must be one of {RESOURCE_STATUSES}")
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return False
            rows = {r.resource_id: r for r in s.execute(
                select(ResourceFeedback).where(ResourceFeedback.person_id == person.id)).scalars()}
            for resource_id in resource_ids:
                row = rows.get(resource_id)
                if row is None:
                    s.add(ResourceFeedback(person_id=person.id, resource_id=resource_id, skill_id=skill_id,
                                           status=status, updated_at=utcnow()))
                elif status != "proposed":
                    row.status, row.updated_at = status, utcnow()
            return True

    @staticmethod
    def _export_progress(person: Person) -> dict:
        row = person.progress
        return {
            "progress": None if row is None else {
                "kinds": row.kinds, "max_minutes": row.max_minutes, "department": row.department,
                "is_minor": row.is_minor, "follow_ups": row.follow_ups, "updated_at": iso(row.updated_at),
            },
            "resources": [
                {"resource_id": r.resource_id, "skill_id": r.skill_id, "status": r.status,
                 "updated_at": iso(r.updated_at)}
                for r in person.resources
            ],
        }

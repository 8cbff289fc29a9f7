"""Application database: consent, experiences, skill claims, export and erasure.

Privacy rules enforced here: nothing is stored about a person before consent;
withdrawing consent erases everything; `export_person` returns all that is
stored; export tokens are kept only as sha256 hashes. Nothing personal is logged.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from alembic import command
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.storage.db import DEFAULT_URL, alembic_config, make_engine, migration_connection, url_from_env
from bot.storage.models import (
    CLAIM_STATUSES,
    FIRST_NAME_MAX,
    Base,
    Experience,
    ExportToken,
    Person,
    SkillClaim,
    utcnow,
)

__all__ = [
    "DEFAULT_URL", "Base", "Experience", "ExportToken", "Person", "SkillClaim",
    "SkillSummary", "Store",
]

log = logging.getLogger(__name__)

DETAIL_KEYS = frozenset({"action", "difficulty", "result"})
_TOKEN_MAX_LEN = 256  # token_urlsafe(32) is 43 characters


@dataclass(frozen=True)
class SkillSummary:
    skill_id: str
    count: int
    evidences: list[str] = field(default_factory=list)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite gives back naive datetimes, stored in UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)
        self._session = sessionmaker(bind=self._engine, expire_on_commit=False, future=True)

    @classmethod
    def from_env(cls) -> "Store":
        return cls(url_from_env())

    def migrate(self) -> None:
        config = alembic_config(self.url)
        with migration_connection(self._engine) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self._engine.dispose()

    # --- consent and profile ---------------------------------------------

    @staticmethod
    def _person(s: Session, sender_id: str) -> Person | None:
        return s.execute(select(Person).where(Person.sender_id == sender_id)).scalar_one_or_none()

    def record_consent(
        self, sender_id: str, given: bool, notice_version: str, channel: str | None = None
    ) -> None:
        if not given:  # refusal stores nothing; withdrawal erases everything
            self.erase_person(sender_id)
            return
        with self._session() as s, s.begin():
            now = utcnow()
            person = self._person(s, sender_id)
            if person is None:
                person = Person(sender_id=sender_id, created_at=now)
                s.add(person)
            person.consent_given = True
            person.consent_at = now
            person.notice_version = notice_version
            if channel is not None:
                person.channel = channel

    def has_consent(self, sender_id: str) -> bool:
        with self._session() as s:
            person = self._person(s, sender_id)
            return bool(person and person.consent_given)

    def set_first_name(self, sender_id: str, first_name: str | None) -> None:
        """Stored stripped and cut to 50 characters; empty or None clears it."""
        value = (first_name or "").strip()[:FIRST_NAME_MAX] or None
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is not None and person.consent_given:
                person.first_name = value

    # --- experiences and skills ------------------------------------------

    def add_experience(
        self,
        sender_id: str,
        text: str,
        details: dict[str, str] | None = None,
        context: str | None = None,
    ) -> int | None:
        details = dict(details or {})
        unknown = set(details) - DETAIL_KEYS
        if unknown:
            raise ValueError(f"unknown detail keys: {sorted(unknown)}")
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return None
            experience = Experience(person=person, text=text, details=details, context=context)
            s.add(experience)
            s.flush()
            return experience.id

    def add_skill_claim(
        self,
        experience_id: int,
        skill_id: str,
        confidence: float,
        status: str,
        evidence: str | None = None,
    ) -> int:
        if status not in CLAIM_STATUSES:
            raise ValueError(f"status must be one of {CLAIM_STATUSES}")
        confidence = float(confidence)
        if not 0.0 <= confidence <= 1.0:  # also rejects NaN
            raise ValueError("confidence must be between 0 and 1")
        with self._session() as s, s.begin():
            if s.get(Experience, experience_id) is None:
                raise ValueError("unknown experience")
            claim = SkillClaim(
                experience_id=experience_id,
                skill_id=skill_id,
                confidence=confidence,
                status=status,
                evidence=evidence,
            )
            s.add(claim)
            s.flush()
            return claim.id

    def confirmed_skills(self, sender_id: str) -> list[SkillSummary]:
        """Confirmed skills, most evidenced first; evidences in chronological order."""
        with self._session() as s:
            rows = s.execute(
                select(SkillClaim.skill_id, SkillClaim.evidence)
                .join(Experience, SkillClaim.experience_id == Experience.id)
                .join(Person, Experience.person_id == Person.id)
                .where(Person.sender_id == sender_id, SkillClaim.status == "confirmed")
                .order_by(SkillClaim.created_at, SkillClaim.id)
            ).all()
        counts: dict[str, int] = {}
        evidences: dict[str, list[str]] = {}
        for skill_id, evidence in rows:
            counts[skill_id] = counts.get(skill_id, 0) + 1
            evidences.setdefault(skill_id, [])
            if evidence:
                evidences[skill_id].append(evidence)
        return [
            SkillSummary(skill_id, counts[skill_id], evidences[skill_id])
            for skill_id in sorted(counts, key=lambda k: (-counts[k], k))
        ]

    # --- rights of access and erasure ------------------------------------

    def export_person(self, sender_id: str) -> dict[str, Any]:
        with self._session() as s:
            person = s.execute(
                select(Person)
                .where(Person.sender_id == sender_id)
                .options(
                    selectinload(Person.experiences).selectinload(Experience.claims),
                    selectinload(Person.export_tokens),
                )
            ).scalar_one_or_none()
            if person is None:
                return {"person": None, "experiences": [], "export_tokens": []}
            return {
                "person": {
                    "sender_id": person.sender_id,
                    "channel": person.channel,
                    "first_name": person.first_name,
                    "consent_given": person.consent_given,
                    "consent_at": _iso(person.consent_at),
                    "notice_version": person.notice_version,
                    "created_at": _iso(person.created_at),
                },
                "experiences": [
                    {
                        "id": exp.id,
                        "text": exp.text,
                        "context": exp.context,
                        "details": dict(exp.details or {}),
                        "created_at": _iso(exp.created_at),
                        "skills": [
                            {
                                "id": claim.id,
                                "skill_id": claim.skill_id,
                                "confidence": claim.confidence,
                                "status": claim.status,
                                "evidence": claim.evidence,
                                "created_at": _iso(claim.created_at),
                            }
                            for claim in exp.claims
                        ],
                    }
                    for exp in person.experiences
                ],
                # the token hashes themselves are a security detail, not personal data
                "export_tokens": [
                    {"expires_at": _iso(t.expires_at), "used_at": _iso(t.used_at)}
                    for t in person.export_tokens
                ],
            }

    def erase_person(self, sender_id: str) -> int:
        """Delete the person and everything linked; returns the number of rows deleted.

        Explicit deletes (children first) rather than relying on ON DELETE CASCADE
        alone, so the count is exact and erasure works even without FK enforcement.
        """
        with self._session() as s, s.begin():
            person_id = s.execute(
                select(Person.id).where(Person.sender_id == sender_id)
            ).scalar_one_or_none()
            if person_id is None:
                return 0
            experience_ids = select(Experience.id).where(Experience.person_id == person_id)
            statements = [
                delete(SkillClaim).where(SkillClaim.experience_id.in_(experience_ids)),
                delete(Experience).where(Experience.person_id == person_id),
                delete(ExportToken).where(ExportToken.person_id == person_id),
                delete(Person).where(Person.id == person_id),
            ]
            deleted = sum(
                s.execute(stmt.execution_options(synchronize_session=False)).rowcount
                for stmt in statements
            )
        log.info("erased a person (%d rows)", deleted)
        return deleted

    # --- export links ----------------------------------------------------

    def create_export_token(self, sender_id: str, ttl_seconds: int = 3600) -> str | None:
        """A single-use secret for downloading the export; only its hash is kept."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None:
                return None
            # minimum data: forget this person's spent or expired tokens
            s.execute(
                delete(ExportToken)
                .where(
                    ExportToken.person_id == person.id,
                    (ExportToken.used_at.is_not(None)) | (ExportToken.expires_at <= now),
                )
                .execution_options(synchronize_session=False)
            )
            s.add(
                ExportToken(
                    person_id=person.id,
                    token_hash=_hash_token(token),
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
            )
        return token

    def resolve_export_token(self, token: str) -> str | None:
        """The sender_id if the token is known, unexpired and unused; it is then spent."""
        if not isinstance(token, str) or not 0 < len(token) <= _TOKEN_MAX_LEN:
            return None
        if not token.isascii():
            return None
        token_hash = _hash_token(token)
        now = utcnow()
        with self._session() as s, s.begin():
            # one conditional UPDATE: two concurrent requests cannot both spend it
            spent = s.execute(
                update(ExportToken)
                .where(
                    ExportToken.token_hash == token_hash,
                    ExportToken.used_at.is_(None),
                    ExportToken.expires_at > now,
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if spent != 1:
                return None
            return s.execute(
                select(Person.sender_id)
                .join(ExportToken, ExportToken.person_id == Person.id)
                .where(ExportToken.token_hash == token_hash)
            ).scalar_one()

"""Application database: consent, experiences, skill claims, export and erasure.

Privacy rules enforced here: nothing is stored about a person before consent;
withdrawing consent erases everything; `export_person` returns all that is
stored; export tokens are kept only as sha256 hashes. Nothing personal is logged.

Badges: the signed credential (VC-JWT) is kept to serve its public verification
page and is part of the export (it is the person's own credential). Erasing a
person also *revokes* their badges in the status list, through the
``revoke_status`` callback (``BadgeIssuer.revoke``) given to the Store, before
the rows are deleted: a copy of the credential may live on elsewhere (a CV, a
wallet) and must no longer verify once its page is gone. If that revocation
fails, the erasure fails (nothing is deleted) and can be retried: never a
silent half-erasure. Without a callback, only the rows are deleted.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from alembic import command
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from bot.storage.db import (
    DEFAULT_URL,
    alembic_config,
    checkpoint,
    make_engine,
    migration_connection,
    url_from_env,
)
from bot.storage.challenge import (
    ChallengeStore,
    InvitationInfo,
    InvitationView,
    ReferentAnswers,
    SelfAssessment,
    Submission,
)
from bot.storage.outbox import OutboxStore, PendingNotice
from bot.storage.scheduling import DueMessage, ScheduleStore
from bot.storage.training import TrainingCandidate, TrainingStore
from bot.storage.progress import ProgressPrefs, ProgressStore
from bot.storage.partners import GroupInfo, GroupStats, PartnerStore
from bot.storage.models import (
    BADGE_LEVELS,
    CLAIM_STATUSES,
    FIRST_NAME_MAX,
    Assessment,
    Badge,
    ChannelDelivery,
    Base,
    Experience,
    ExportToken,
    GroupMember,
    Invitation,
    Notice,
    Person,
    ProgressProfile,
    ReferentResponse,
    ResourceFeedback,
    SkillClaim,
    aware,
    iso,
    utcnow,
)
from bot.storage.tokens import hash_token, new_token, plausible

__all__ = [
    "DEFAULT_URL", "Assessment", "Badge", "Base", "Experience", "ExportToken", "GroupInfo", "GroupStats",
    "Invitation",
    "InvitationInfo", "InvitationView", "Notice", "PendingNotice", "Person", "ProgressPrefs", "ReferentAnswers", "ReferentResponse",
    "SelfAssessment", "SkillClaim", "SkillSummary", "Store", "StoredBadge", "Submission", "TrainingCandidate",
    "badge_uuid",
]

log = logging.getLogger(__name__)

DETAIL_KEYS = frozenset({"action", "difficulty", "result"})


@dataclass(frozen=True)
class SkillSummary:
    skill_id: str
    count: int
    evidences: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StoredBadge:
    id: str  # the credential's uuid: its id is f"urn:uuid:{id}"
    skill_id: str
    level: str
    jwt: str = field(repr=False)
    status_index: int
    issued_at: datetime
    valid_until: datetime | None
    revoked_at: datetime | None


def badge_uuid(badge_id: object) -> str | None:
    """The canonical lower-case uuid of a badge id (``urn:uuid:…`` or bare), else None."""
    if not isinstance(badge_id, str) or len(badge_id) > 45:
        return None
    text = badge_id[9:] if badge_id.lower().startswith("urn:uuid:") else badge_id
    try:
        value = str(uuid.UUID(text))
    except ValueError:
        return None
    return value if value == text.lower() else None  # only the canonical 8-4-4-4-12 form


def _stored(badge: Badge) -> StoredBadge:
    return StoredBadge(
        id=badge.id, skill_id=badge.skill_id, level=badge.level, jwt=badge.jwt,
        status_index=badge.status_index, issued_at=aware(badge.issued_at),  # type: ignore[arg-type]
        valid_until=aware(badge.valid_until), revoked_at=aware(badge.revoked_at),
    )


class Store(ChallengeStore, ProgressStore, PartnerStore, OutboxStore, ScheduleStore, TrainingStore):
    def __init__(self, url: str, revoke_status: Callable[[int], None] | None = None) -> None:
        """``revoke_status(index)`` revokes a badge in the status list (``BadgeIssuer.revoke``)."""
        self.url = url
        self.revoke_status = revoke_status
        self._engine = make_engine(url)
        self._session = sessionmaker(bind=self._engine, expire_on_commit=False, future=True)

    @classmethod
    def from_env(cls) -> "Store":
        return cls(url_from_env())

    def migrate(self) -> None:
        """Upgrade to the latest schema. Processes that start together (the action
        server, each web app replica) take turns: the first upgrades, the others find
        the database at head."""
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
        sender_id: str,
        experience_id: int,
        skill_id: str,
        confidence: float,
        status: str,
        evidence: str | None = None,
    ) -> int | None:
        """A claim on one of ``sender_id``'s own experiences; None (nothing written) when
        the experience is unknown or someone else's: an id from a request is never
        trusted for another person's rows."""
        if not isinstance(sender_id, str) or isinstance(experience_id, bool) or not isinstance(experience_id, int):
            raise TypeError("add_skill_claim(sender_id: str, experience_id: int, …)")
        if status not in CLAIM_STATUSES:
            raise ValueError(f"status must be one of {CLAIM_STATUSES}")
        confidence = float(confidence)
        if not 0.0 <= confidence <= 1.0:  # also rejects NaN
            raise ValueError("confidence must be between 0 and 1")
        with self._session() as s, s.begin():
            owned = s.execute(
                select(Experience.id).join(Person, Experience.person_id == Person.id)
                .where(Experience.id == experience_id, Person.sender_id == sender_id,
                       Person.consent_given.is_(True))
            ).scalar_one_or_none()
            if owned is None:
                log.warning("skill claim refused: the experience is not the conversation's own")
                return None
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

    def reject_claims(self, sender_id: str, experience_id: int, skill_id: str) -> int:
        """The person takes a confirmed skill back (« enlève la rigueur »): its
        confirmed claims for this experience become rejected. Returns how many.
        Scoped to ``sender_id``'s own experiences: a forged id changes nothing."""
        with self._session() as s, s.begin():
            claims = s.scalars(
                select(SkillClaim)
                .join(Experience, SkillClaim.experience_id == Experience.id)
                .join(Person, Experience.person_id == Person.id)
                .where(
                    Person.sender_id == sender_id,
                    SkillClaim.experience_id == experience_id,
                    SkillClaim.skill_id == skill_id,
                    SkillClaim.status == "confirmed",
                )
            ).all()
            for claim in claims:
                claim.status = "rejected"
            return len(claims)

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

    # --- badges ------------------------------------------------------------

    def save_badge(
        self,
        sender_id: str,
        badge_id: str,
        skill_id: str,
        level: str,
        jwt: str,
        status_index: int,
        issued_at: datetime,
        valid_until: datetime | None = None,
    ) -> str | None:
        """Keep an issued badge; returns its uuid, or None without a consenting person."""
        key = badge_uuid(badge_id)
        if key is None:
            raise ValueError("badge id must be a uuid (or urn:uuid:…)")
        if level not in BADGE_LEVELS:
            raise ValueError(f"level must be one of {BADGE_LEVELS}")
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return None
            s.add(Badge(id=key, person=person, skill_id=skill_id, level=level, jwt=jwt,
                        status_index=int(status_index), issued_at=issued_at,
                        valid_until=valid_until))
        return key

    def badge(self, badge_id: str) -> StoredBadge | None:
        key = badge_uuid(badge_id)
        if key is None:
            return None
        with self._session() as s:
            row = s.get(Badge, key)
            return None if row is None else _stored(row)

    def badges_of(self, sender_id: str) -> list[StoredBadge]:
        with self._session() as s:
            rows = s.execute(
                select(Badge).join(Person, Badge.person_id == Person.id)
                .where(Person.sender_id == sender_id).order_by(Badge.issued_at, Badge.id)
            ).scalars().all()
            return [_stored(row) for row in rows]

    def revoke_badge(self, badge_id: str) -> StoredBadge | None:
        """Revoke in the status list (if a callback is set) then mark the row; idempotent."""
        key = badge_uuid(badge_id)
        if key is None:
            return None
        with self._session() as s, s.begin():
            row = s.get(Badge, key)
            if row is None:
                return None
            if self.revoke_status is not None:
                self.revoke_status(row.status_index)
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            s.flush()
            return _stored(row)

    # --- rights of access and erasure ------------------------------------

    def export_person(self, sender_id: str) -> dict[str, Any]:
        with self._session() as s:
            person = s.execute(
                select(Person)
                .where(Person.sender_id == sender_id)
                .options(
                    selectinload(Person.experiences).selectinload(Experience.claims),
                    selectinload(Person.export_tokens),
                    selectinload(Person.badges),
                    selectinload(Person.assessments),
                    selectinload(Person.invitations).selectinload(Invitation.responses),
                    selectinload(Person.progress),
                    selectinload(Person.resources),
                )
            ).scalar_one_or_none()
            if person is None:
                return {"person": None, "experiences": [], "export_tokens": [], "badges": [],
                        "assessments": [], "referent_invitations": [], "progress": None, "resources": [],
                        "groups": [], "notices": [], "scheduled": []}
            return {
                "person": {
                    "sender_id": person.sender_id,
                    "channel": person.channel,
                    "first_name": person.first_name,
                    "consent_given": person.consent_given,
                    "consent_at": iso(person.consent_at),
                    "notice_version": person.notice_version,
                    "created_at": iso(person.created_at),
                    "training_consent": person.training_consent,
                    "training_consent_at": iso(person.training_consent_at),
                },
                "experiences": [
                    {
                        "id": exp.id,
                        "text": exp.text,
                        "context": exp.context,
                        "details": dict(exp.details or {}),
                        "created_at": iso(exp.created_at),
                        "skills": [
                            {
                                "id": claim.id,
                                "skill_id": claim.skill_id,
                                "confidence": claim.confidence,
                                "status": claim.status,
                                "evidence": claim.evidence,
                                "created_at": iso(claim.created_at),
                            }
                            for claim in exp.claims
                        ],
                    }
                    for exp in person.experiences
                ],
                # the token hashes themselves are a security detail, not personal data
                "export_tokens": [
                    {"expires_at": iso(t.expires_at), "used_at": iso(t.used_at)}
                    for t in person.export_tokens
                ],
                # the signed credential is the person's own: exported whole
                "badges": [
                    {
                        "id": b.id,
                        "skill_id": b.skill_id,
                        "level": b.level,
                        "issued_at": iso(b.issued_at),
                        "valid_until": iso(b.valid_until),
                        "revoked_at": iso(b.revoked_at),
                        "status_index": b.status_index,
                        "jwt": b.jwt,
                    }
                    for b in person.badges
                ],
                **self._export_challenge(person),
                **self._export_progress(person),
                **self._export_partners(s, person.id),
                **self._export_outbox(s, person.id),
                **self._export_scheduled(s, person.id),
            }

    def erase_person(self, sender_id: str) -> int:
        """Delete the person and everything linked; returns the number of rows deleted.

        Explicit deletes (children first) rather than relying on ON DELETE CASCADE
        alone, so the count is exact and erasure works even without FK enforcement.
        The person's badges are first revoked in the status list (see the module
        docstring); an index the list never allocated has nothing to revoke.
        """
        with self._session() as s, s.begin():
            person_id = s.execute(
                select(Person.id).where(Person.sender_id == sender_id)
            ).scalar_one_or_none()
            if person_id is None:
                return 0
            if self.revoke_status is not None:
                indexes = s.execute(
                    select(Badge.status_index).where(Badge.person_id == person_id)
                ).scalars().all()
                for index in indexes:
                    try:
                        self.revoke_status(index)
                    except KeyError:
                        log.warning("erase: a badge status index was never allocated")
            experience_ids = select(Experience.id).where(Experience.person_id == person_id)
            invitation_ids = select(Invitation.id).where(Invitation.person_id == person_id)
            statements = [
                self._erase_outbox(person_id),
                self._erase_scheduled(person_id),
                delete(ReferentResponse).where(ReferentResponse.invitation_id.in_(invitation_ids)),
                delete(Invitation).where(Invitation.person_id == person_id),
                delete(Assessment).where(Assessment.person_id == person_id),
                delete(ProgressProfile).where(ProgressProfile.person_id == person_id),
                delete(GroupMember).where(GroupMember.person_id == person_id),
                delete(ResourceFeedback).where(ResourceFeedback.person_id == person_id),
                delete(Badge).where(Badge.person_id == person_id),
                delete(SkillClaim).where(SkillClaim.experience_id.in_(experience_ids)),
                delete(Experience).where(Experience.person_id == person_id),
                delete(ExportToken).where(ExportToken.person_id == person_id),
                delete(Person).where(Person.id == person_id),
            ]
            deleted = sum(
                s.execute(stmt.execution_options(synchronize_session=False)).rowcount
                for stmt in statements
            )
        checkpoint(self._engine)  # no copy of the erased rows left in the write-ahead log
        log.info("erased a person (%d rows)", deleted)
        return deleted

    def consent_dates(self) -> list[tuple[str, datetime | None, datetime | None]]:
        """(sender id, consent date or creation date, date of the retention notice or None)
        of every stored person: the retention job's list (bot/privacy/retention.py)."""
        with self._session() as s:
            rows = s.execute(select(Person.sender_id, Person.consent_at, Person.created_at,
                                    Person.retention_notice_at)).all()
        return [(sender, aware(consent_at or created_at), aware(notice_at) if notice_at else None)
                for sender, consent_at, created_at, notice_at in rows]

    def retention_notice_of(self, sender_id: str) -> datetime | None:
        with self._session() as s:
            at = s.execute(select(Person.retention_notice_at).where(Person.sender_id == sender_id)).scalar()
        return aware(at) if at else None

    def mark_retention_notice(self, sender_id: str, at: datetime | None) -> None:
        """Record when the person was told of the coming erasure (None: forget it)."""
        with self._session() as s, s.begin():
            s.execute(update(Person).where(Person.sender_id == sender_id).values(retention_notice_at=at)
                      .execution_options(synchronize_session=False))

    # --- channel deliveries (platform retries) -----------------------------

    def claim_delivery(self, channel: str, delivery_id: str) -> bool:
        """True the first time (channel, delivery_id) is seen, False for a duplicate."""
        from sqlalchemy.exc import IntegrityError

        try:
            with self._session() as s, s.begin():
                s.add(ChannelDelivery(channel=channel, delivery_id=str(delivery_id)[:128], received_at=utcnow()))
            return True
        except IntegrityError:
            return False

    def release_delivery(self, channel: str, delivery_id: str) -> None:
        """Forget a delivery whose handling failed, so that the platform's retry is handled."""
        with self._session() as s, s.begin():
            s.execute(delete(ChannelDelivery).where(
                ChannelDelivery.channel == channel, ChannelDelivery.delivery_id == str(delivery_id)[:128]))

    def prune_deliveries(self, older_than: datetime) -> int:
        """Platforms stop retrying after a day or so: older rows are useless."""
        with self._session() as s, s.begin():
            return s.execute(delete(ChannelDelivery).where(ChannelDelivery.received_at < older_than)
                             .execution_options(synchronize_session=False)).rowcount

    # --- export links ----------------------------------------------------

    def create_export_token(self, sender_id: str, ttl_seconds: int = 3600) -> str | None:
        """A single-use secret for downloading the export; only its hash is kept."""
        token = new_token()
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
                    token_hash=hash_token(token),
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
            )
        return token

    def export_token_open(self, token: str) -> bool:
        """True if the token is known, unexpired and unused (it is not spent)."""
        if not plausible(token):
            return False
        with self._session() as s:
            return s.execute(
                select(ExportToken.id).where(
                    ExportToken.token_hash == hash_token(token),
                    ExportToken.used_at.is_(None),
                    ExportToken.expires_at > utcnow(),
                )
            ).first() is not None

    def resolve_export_token(self, token: str) -> str | None:
        """The sender_id if the token is known, unexpired and unused; it is then spent."""
        if not plausible(token):
            return None
        token_hash = hash_token(token)
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

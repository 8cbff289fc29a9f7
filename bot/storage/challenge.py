"""Challenger storage: self-assessments, referent invitations and referent answers.

Mixed into ``bot.storage.Store`` (which provides ``_session`` and ``_person``).
Same privacy rules as the rest of the store: nothing without a consenting person;
invitation tokens are kept only as sha256 hashes; a referent is only a first name
and a relationship; everything here is exported and erased with the person.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Mapping, Optional, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.text import clean_text
from bot.storage.models import (
    COMMENT_MAX,
    EXAMPLE_MAX,
    REFERENT_NAME_MAX,
    RELATIONSHIPS,
    Assessment,
    Invitation,
    Person,
    ReferentResponse,
    aware,
    iso,
    utcnow,
)
from bot.storage.tokens import hash_token, new_token, plausible

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

InvitationState = Literal["open", "used", "expired", "revoked"]
SubmitOutcome = Literal["ok", "used", "expired", "revoked", "unknown"]
VerifyOutcome = Literal["ok", "unknown", "not_answered", "revoked", "verified", "duplicate", "too_many",
                        "wrong", "expired", "no_code"]
MAX_CODE_SENDS = 3
MAX_CODE_ATTEMPTS = 5
MAX_SKILLS_PER_INVITATION = 4


@dataclass(frozen=True)
class SelfAssessment:
    skill_id: str
    answers: Mapping[str, int]  # item id -> 0..3
    examples: Mapping[str, str]  # item id -> the person's example
    started_at: datetime
    completed_at: Optional[datetime]

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class InvitationInfo:
    id: int
    referent_name: str
    relation: str
    skill_ids: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    used_at: Optional[datetime]
    revoked_at: Optional[datetime]
    state: InvitationState
    verified_at: Optional[datetime] = None  # the referent confirmed an address they control
    code_sent: bool = False  # a verification code was sent and is still valid

    @property
    def awaiting_verification(self) -> bool:
        """Answered, but the referent has not confirmed their address yet: not counted."""
        return self.state == "used" and self.verified_at is None


@dataclass(frozen=True)
class InvitationView:
    """What the referent page needs: never the young person's id."""

    invitation: InvitationInfo
    person_first_name: Optional[str]


@dataclass(frozen=True)
class Submission:
    """A referent's accepted answers: who to notify, and about what."""

    sender_id: str
    channel: Optional[str]
    invitation: InvitationInfo


@dataclass(frozen=True)
class ReferentAnswers:
    invitation_id: int
    referent_name: str
    relation: str
    answers: Mapping[str, Optional[int]] = field(default_factory=dict)
    comment: Optional[str] = None
    submitted_at: Optional[datetime] = None


def row_id(value: object) -> Optional[int]:
    """A database id from a request (int or digit string), or None: never an overflow."""
    if isinstance(value, bool):
        return None
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    number = int(text)
    return number if number > 0 else None


def _state(row: Invitation, now: datetime) -> InvitationState:
    if row.revoked_at is not None:
        return "revoked"
    if row.used_at is not None:
        return "used"
    if aware(row.expires_at) <= now:  # type: ignore[operator]
        return "expired"
    return "open"


def _info(row: Invitation, now: Optional[datetime] = None) -> InvitationInfo:
    return InvitationInfo(
        id=row.id, referent_name=row.referent_name, relation=row.relation,
        skill_ids=tuple(row.skill_ids or ()), created_at=aware(row.created_at),  # type: ignore[arg-type]
        expires_at=aware(row.expires_at), used_at=aware(row.used_at),  # type: ignore[arg-type]
        revoked_at=aware(row.revoked_at), state=_state(row, now or utcnow()),
        verified_at=aware(row.verified_at),  # type: ignore[arg-type]
        code_sent=row.code_hash is not None and row.code_expires_at is not None
        and aware(row.code_expires_at) > (now or utcnow()),  # type: ignore[operator]
    )


def _self(row: Assessment) -> SelfAssessment:
    return SelfAssessment(
        skill_id=row.skill_id, answers=dict(row.answers or {}), examples=dict(row.examples or {}),
        started_at=aware(row.started_at), completed_at=aware(row.completed_at),  # type: ignore[arg-type]
    )


class ChallengeStore:
    _session: "sessionmaker"

    @staticmethod
    def _person(s: Session, sender_id: str) -> Person | None:  # provided by Store
        raise NotImplementedError

    # --- self-assessment ---------------------------------------------------

    @staticmethod
    def _assessment(s: Session, person: Person, skill_id: str) -> Assessment | None:
        return s.execute(
            select(Assessment).where(Assessment.person_id == person.id, Assessment.skill_id == skill_id)
        ).scalar_one_or_none()

    def self_assessment(self, sender_id: str, skill_id: str) -> SelfAssessment | None:
        with self._session() as s:
            person = self._person(s, sender_id)
            row = None if person is None else self._assessment(s, person, skill_id)
            return None if row is None else _self(row)

    def self_assessments(self, sender_id: str) -> list[SelfAssessment]:
        with self._session() as s:
            rows = s.execute(
                select(Assessment).join(Person, Assessment.person_id == Person.id)
                .where(Person.sender_id == sender_id).order_by(Assessment.id)
            ).scalars().all()
            return [_self(row) for row in rows]

    def open_self_assessment(self, sender_id: str, skill_id: str, restart: bool = False) -> SelfAssessment | None:
        """The person's questionnaire for ``skill_id``, created if needed (``restart``
        clears a previous one); None without a consenting person."""
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return None
            row = self._assessment(s, person, skill_id)
            now = utcnow()
            if row is None:
                row = Assessment(person=person, skill_id=skill_id, answers={}, examples={},
                                 started_at=now, updated_at=now)
                s.add(row)
            elif restart:
                row.answers, row.examples = {}, {}
                row.started_at = row.updated_at = now
                row.completed_at = None
            s.flush()
            return _self(row)

    def _update_assessment(self, sender_id: str, skill_id: str, change) -> SelfAssessment | None:
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            row = None if person is None or not person.consent_given else self._assessment(s, person, skill_id)
            if row is None:
                return None
            change(row)
            row.updated_at = utcnow()
            s.flush()
            return _self(row)

    def record_self_answer(self, sender_id: str, skill_id: str, item_id: str, value: int) -> SelfAssessment | None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
            raise ValueError("value must be 0..3")

        def change(row: Assessment) -> None:
            row.answers = {**(row.answers or {}), item_id: value}  # a new dict: JSON change tracked

        return self._update_assessment(sender_id, skill_id, change)

    def record_example(self, sender_id: str, skill_id: str, item_id: str, text: str) -> SelfAssessment | None:
        example = " ".join((text or "").split())[:EXAMPLE_MAX]

        def change(row: Assessment) -> None:
            examples = dict(row.examples or {})
            if example:
                examples[item_id] = example
            else:
                examples.pop(item_id, None)
            row.examples = examples

        return self._update_assessment(sender_id, skill_id, change)

    def complete_self_assessment(self, sender_id: str, skill_id: str) -> SelfAssessment | None:
        def change(row: Assessment) -> None:
            if row.completed_at is None:
                row.completed_at = utcnow()

        return self._update_assessment(sender_id, skill_id, change)

    # --- invitations ---------------------------------------------------------

    def create_invitation(
        self,
        sender_id: str,
        referent_name: str,
        relation: str,
        skill_ids: Sequence[str],
        ttl_seconds: int = 30 * 24 * 3600,
    ) -> tuple[str, InvitationInfo] | None:
        """A single-use link secret for a referent (only its hash is kept); None
        without a consenting person."""
        name = " ".join((referent_name or "").split())[:REFERENT_NAME_MAX]
        skills = list(dict.fromkeys(s for s in skill_ids if isinstance(s, str) and s))
        if not name:
            raise ValueError("referent name is empty")
        if relation not in RELATIONSHIPS:
            raise ValueError(f"relation must be one of {RELATIONSHIPS}")
        if not 0 < len(skills) <= MAX_SKILLS_PER_INVITATION:
            raise ValueError(f"between 1 and {MAX_SKILLS_PER_INVITATION} skills")
        if ttl_seconds <= 0:
            raise ValueError("ttl must be positive")
        token = new_token()
        now = utcnow()
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return None
            row = Invitation(
                person=person, referent_name=name, relation=relation, skill_ids=skills,
                token_hash=hash_token(token), created_at=now,
                expires_at=now + timedelta(seconds=ttl_seconds),
            )
            s.add(row)
            s.flush()
            return token, _info(row, now)

    def invitations_of(self, sender_id: str) -> list[InvitationInfo]:
        now = utcnow()
        with self._session() as s:
            rows = s.execute(
                select(Invitation).join(Person, Invitation.person_id == Person.id)
                .where(Person.sender_id == sender_id).order_by(Invitation.id)
            ).scalars().all()
            return [_info(row, now) for row in rows]

    def invitations_created_since(self, sender_id: str, since: datetime) -> int:
        """How many links the person created since ``since`` (the e-mail limit)."""
        with self._session() as s:
            return s.execute(
                select(func.count(Invitation.id)).join(Person, Invitation.person_id == Person.id)
                .where(Person.sender_id == sender_id, Invitation.created_at >= since)
            ).scalar_one()

    def invitation_of(self, sender_id: str, invitation_id: object) -> InvitationInfo | None:
        """One of ``sender_id``'s own invitations by id; None if unknown or someone else's."""
        key = row_id(invitation_id)
        if key is None:
            return None
        with self._session() as s:
            row = s.execute(
                select(Invitation).join(Person, Invitation.person_id == Person.id)
                .where(Invitation.id == key, Person.sender_id == sender_id)
            ).scalar_one_or_none()
            return None if row is None else _info(row)

    def revoke_invitation(self, sender_id: str, invitation_id: int) -> InvitationInfo | None:
        """Revoke one of the person's own links if still open; returns its (new) state,
        None if it is not theirs."""
        now = utcnow()
        key = row_id(invitation_id)
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            row = s.get(Invitation, key) if person is not None and key is not None else None
            if row is None or row.person_id != person.id:  # type: ignore[union-attr]
                return None
            if _state(row, now) == "open":
                row.revoked_at = now
                s.flush()
            return _info(row, now)

    def invitation_by_token(self, token: str) -> InvitationView | None:
        """The invitation behind a link (any state), for the referent page; not spent."""
        if not plausible(token):
            return None
        with self._session() as s:
            row = s.execute(
                select(Invitation).where(Invitation.token_hash == hash_token(token))
            ).scalar_one_or_none()
            if row is None:
                return None
            return InvitationView(_info(row), row.person.first_name)

    def submit_referent(
        self,
        token: str,
        answers: Mapping[str, Mapping[str, Optional[int]]],
        comments: Mapping[str, str] | None = None,
    ) -> tuple[SubmitOutcome, Submission | None]:
        """Record a referent's answers (skill id -> item id -> 0..3 or None) and spend the
        link, atomically: of two concurrent submissions, one wins."""
        if not plausible(token):
            return "unknown", None
        comments = comments or {}
        now = utcnow()
        token_hash = hash_token(token)
        with self._session() as s, s.begin():
            row = s.execute(
                select(Invitation).where(Invitation.token_hash == token_hash)
            ).scalar_one_or_none()
            if row is None:
                return "unknown", None
            state = _state(row, now)
            if state != "open":
                return state, None
            if set(answers) != set(row.skill_ids or ()):
                raise ValueError("answers must cover exactly the invitation's skills")
            spent = s.execute(
                update(Invitation)
                .where(Invitation.id == row.id, Invitation.used_at.is_(None),
                       Invitation.revoked_at.is_(None), Invitation.expires_at > now)
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if spent != 1:
                return "used", None
            for skill_id in row.skill_ids:
                comment = " ".join(clean_text(comments.get(skill_id) or "").split())[:COMMENT_MAX] or None
                s.add(ReferentResponse(invitation_id=row.id, skill_id=skill_id,
                                       answers=dict(answers[skill_id]), comment=comment, submitted_at=now))
            s.flush()
            s.refresh(row)
            return "ok", Submission(row.person.sender_id, row.person.channel, _info(row, now))

    def referent_answers(self, sender_id: str, skill_id: str) -> list[ReferentAnswers]:
        """Every referent's answers about ``skill_id``, oldest first."""
        with self._session() as s:
            rows = s.execute(
                select(ReferentResponse, Invitation)
                .join(Invitation, ReferentResponse.invitation_id == Invitation.id)
                .join(Person, Invitation.person_id == Person.id)
                .where(Person.sender_id == sender_id, ReferentResponse.skill_id == skill_id,
                       Invitation.verified_at.is_not(None))
                .order_by(Invitation.verified_at, ReferentResponse.id)
            ).all()
            seen: set[str] = set()
            kept = []
            for resp, inv in rows:  # one referent (one confirmed address) counts once
                if inv.referent_key in seen:
                    continue
                seen.add(inv.referent_key)
                kept.append(ReferentAnswers(inv.id, inv.referent_name, inv.relation, dict(resp.answers or {}),
                                            resp.comment, aware(resp.submitted_at)))
            return sorted(kept, key=lambda r: (r.submitted_at, r.invitation_id))

    # --- referent verification -----------------------------------------------------

    @staticmethod
    def _answered(s: Session, token: str) -> Invitation | None:
        if not plausible(token):
            return None
        return s.execute(
            select(Invitation).where(Invitation.token_hash == hash_token(token))
        ).scalar_one_or_none()

    @staticmethod
    def _check_answered(row: Invitation | None, now: datetime) -> VerifyOutcome | None:
        if row is None:
            return "unknown"
        if row.verified_at is not None:
            return "verified"
        if row.revoked_at is not None:
            return "revoked"
        if row.used_at is None:
            return "not_answered"
        return None

    @staticmethod
    def _duplicate(s: Session, row: Invitation, referent_key: str) -> bool:
        """The same confirmed address already answered for this person on one of these skills."""
        others = s.execute(
            select(Invitation).where(Invitation.person_id == row.person_id, Invitation.id != row.id,
                                     Invitation.referent_key == referent_key,
                                     Invitation.verified_at.is_not(None))
        ).scalars().all()
        skills = set(row.skill_ids or ())
        return any(skills & set(other.skill_ids or ()) for other in others)

    def start_verification(self, token: str, referent_key: str, code_hash: str,
                           ttl_seconds: int = 1800) -> VerifyOutcome:
        """After the answers: remember the keyed hash of the address the referent gave and
        of the code sent to it. Refused for an address that already answered for the same
        person and skill, and after MAX_CODE_SENDS codes."""
        now = utcnow()
        with self._session() as s, s.begin():
            row = self._answered(s, token)
            problem = self._check_answered(row, now)
            if problem is not None:
                return problem
            assert row is not None
            if self._duplicate(s, row, referent_key):
                return "duplicate"
            if row.code_sends >= MAX_CODE_SENDS:
                return "too_many"
            row.referent_key, row.code_hash = referent_key, code_hash
            row.code_expires_at = now + timedelta(seconds=ttl_seconds)
            row.code_attempts = 0
            row.code_sends = row.code_sends + 1
            return "ok"

    def confirm_verification(self, token: str, code_hash: str) -> tuple[VerifyOutcome, Submission | None]:
        """The referent typed the code: their answers count from now on (once per address)."""
        now = utcnow()
        with self._session() as s, s.begin():
            row = self._answered(s, token)
            problem = self._check_answered(row, now)
            if problem is not None:
                return problem, None
            assert row is not None
            if row.code_hash is None or row.referent_key is None:
                return "no_code", None
            if row.code_attempts >= MAX_CODE_ATTEMPTS:
                return "too_many", None
            if aware(row.code_expires_at) <= now:  # type: ignore[operator]
                return "expired", None
            if not hmac.compare_digest(row.code_hash, code_hash):
                row.code_attempts = row.code_attempts + 1
                return ("too_many" if row.code_attempts >= MAX_CODE_ATTEMPTS else "wrong"), None
            if self._duplicate(s, row, row.referent_key):
                return "duplicate", None
            row.verified_at = now
            row.code_hash = None
            row.code_expires_at = None
            s.flush()
            return "ok", Submission(row.person.sender_id, row.person.channel, _info(row, now))

    # --- export ------------------------------------------------------------------

    @staticmethod
    def _export_challenge(person: Person) -> dict:
        now = utcnow()
        return {
            "assessments": [
                {"skill_id": a.skill_id, "answers": dict(a.answers or {}), "examples": dict(a.examples or {}),
                 "started_at": iso(a.started_at), "completed_at": iso(a.completed_at)}
                for a in person.assessments
            ],
            # the token hashes are a security detail, not personal data
            "referent_invitations": [
                {
                    "id": inv.id, "referent_name": inv.referent_name, "relation": inv.relation,
                    "skill_ids": list(inv.skill_ids or ()), "created_at": iso(inv.created_at),
                    "expires_at": iso(inv.expires_at), "used_at": iso(inv.used_at),
                    "revoked_at": iso(inv.revoked_at), "state": _state(inv, now),
                    "referent_verified_at": iso(inv.verified_at),
                    "answers": [
                        {"skill_id": r.skill_id, "answers": dict(r.answers or {}), "comment": r.comment,
                         "submitted_at": iso(r.submitted_at)}
                        for r in inv.responses
                    ],
                }
                for inv in person.invitations
            ],
        }

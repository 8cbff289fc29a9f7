"""Partner groups: a partner (mission locale, university, association) gets a group
code; a young person who types it in the chat joins the group; the partner's page
(secret token, only its sha256 is kept) shows aggregate, anonymous figures.

Mixed into ``bot.storage.Store`` (which provides ``_session`` and ``_person``).
Privacy: figures are counts only (no name, no text, no id), computed over the group's
current members, and withheld entirely for a group of fewer than ``MIN_GROUP_SIZE``
people. Memberships are exported and erased with the person.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.models import (
    CONTACT_MAX,
    GROUP_CODE_LEN,
    GROUP_NAME_MAX,
    Assessment,
    Badge,
    Experience,
    GroupMember,
    Invitation,
    PartnerGroup,
    Person,
    ReferentResponse,
    SkillClaim,
    aware,
    iso,
    utcnow,
)
from bot.storage.tokens import hash_token, new_token, plausible

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

MIN_GROUP_SIZE = 5
# no 0/O, 1/I/L: easy to read aloud and to type on a phone
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_ATTEMPTS = 20


def normalize_code(code: object) -> Optional[str]:
    """The code as stored (upper case, spaces and dashes dropped), or None if it cannot be one."""
    if not isinstance(code, str) or len(code) > 40:
        return None
    value = "".join(code.split()).replace("-", "").upper()
    if len(value) != GROUP_CODE_LEN or any(c not in CODE_ALPHABET for c in value):
        return None
    return value


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(GROUP_CODE_LEN))


@dataclass(frozen=True)
class GroupInfo:
    id: int
    name: str
    code: str
    created_at: datetime
    contact_name: Optional[str] = None  # the partner's person or desk to reach
    contact: Optional[str] = None       # a phone number, an email or a web address


_PHONE = re.compile(r"^\+?[0-9][0-9 .-]{2,18}[0-9]$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,180}\.[a-z]{2,}$", re.IGNORECASE)
_URL = re.compile(r"^https://[^\s]{3,190}$")


def normalize_contact(value: object) -> Optional[str]:
    """A partner's contact as stored: a phone number, an email or an https address;
    None when it is none of these."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text or len(text) > CONTACT_MAX:
        return None
    if _PHONE.match(text) or _EMAIL.match(text) or _URL.match(text):
        return text
    return None


@dataclass(frozen=True)
class GroupStats:
    """A group's figures. When ``breakdown_allowed`` is False (fewer than
    MIN_GROUP_SIZE people) every figure is None and ``skills`` is empty."""

    group: GroupInfo
    breakdown_allowed: bool
    people: Optional[int] = None
    experiences: Optional[int] = None
    skills_identified: Optional[int] = None  # confirmed skill claims
    assessments_completed: Optional[int] = None
    referent_answers: Optional[int] = None
    badges: Optional[int] = None  # issued and not revoked
    skills: tuple[tuple[str, int], ...] = ()  # (skill id, confirmed claims), most first


def _info(row: PartnerGroup) -> GroupInfo:
    return GroupInfo(id=row.id, name=row.name, code=row.code, created_at=aware(row.created_at),  # type: ignore[arg-type]
                     contact_name=row.contact_name, contact=row.contact)


class PartnerStore:
    _session: "sessionmaker"

    @staticmethod
    def _person(s: Session, sender_id: str) -> Person | None:  # provided by Store
        raise NotImplementedError

    def create_group(self, name: str) -> tuple[str, str]:
        """A new group: (code for the young people, secret token of the partner page).
        The token is returned once; only its hash is kept."""
        value = " ".join(str(name or "").split())
        if not value or len(value) > GROUP_NAME_MAX:
            raise ValueError(f"a group name is 1 to {GROUP_NAME_MAX} characters")
        token = new_token()
        for _ in range(CODE_ATTEMPTS):
            code = new_code()
            try:
                with self._session() as s, s.begin():
                    taken = s.execute(select(PartnerGroup.id).where(PartnerGroup.code == code)).first()
                    if taken is not None:
                        continue
                    s.add(PartnerGroup(name=value, code=code, token_hash=hash_token(token), created_at=utcnow()))
                return code, token
            except IntegrityError:  # a concurrent creation took the code
                continue
        raise RuntimeError("no free group code found")

    def set_group_contact(self, code: str, contact_name: str, contact: str) -> Optional[GroupInfo]:
        """The partner's contact for its group (shown to a member who asks for a human).
        ValueError for a contact that is not a phone, an email or an https address;
        None for an unknown code."""
        value = normalize_contact(contact)
        name = " ".join(str(contact_name or "").split())
        if value is None:
            raise ValueError("le contact doit être un numéro de téléphone, un e-mail ou une adresse https://")
        if not name or len(name) > GROUP_NAME_MAX:
            raise ValueError(f"le nom du contact fait 1 à {GROUP_NAME_MAX} caractères")
        group_code = normalize_code(code)
        if group_code is None:
            return None
        with self._session() as s, s.begin():
            group = s.execute(select(PartnerGroup).where(PartnerGroup.code == group_code)).scalar_one_or_none()
            if group is None:
                return None
            group.contact_name, group.contact = name, value
            s.flush()
            return _info(group)

    def list_groups(self) -> list[tuple[GroupInfo, int]]:
        """Every group with its number of members (for the operator's CLI)."""
        with self._session() as s:
            rows = s.execute(
                select(PartnerGroup, func.count(GroupMember.id))
                .outerjoin(GroupMember, GroupMember.group_id == PartnerGroup.id)
                .group_by(PartnerGroup.id).order_by(PartnerGroup.id)
            ).all()
            return [(_info(group), count) for group, count in rows]

    def join_group(self, sender_id: str, code: str) -> Optional[GroupInfo]:
        """Join the group of ``code`` (case and spaces ignored); idempotent. None for an
        unknown code or without a consenting person."""
        value = normalize_code(code)
        if value is None:
            return None
        try:
            with self._session() as s, s.begin():
                person = self._person(s, sender_id)
                if person is None or not person.consent_given:
                    return None
                group = s.execute(select(PartnerGroup).where(PartnerGroup.code == value)).scalar_one_or_none()
                if group is None:
                    return None
                member = s.execute(select(GroupMember.id).where(
                    GroupMember.group_id == group.id, GroupMember.person_id == person.id)).first()
                if member is None:
                    s.add(GroupMember(group_id=group.id, person_id=person.id, joined_at=utcnow()))
                return _info(group)
        except IntegrityError:  # joined twice at the same time: already a member
            with self._session() as s:
                group = s.execute(select(PartnerGroup).where(PartnerGroup.code == value)).scalar_one_or_none()
                return None if group is None else _info(group)

    def groups_of(self, sender_id: str) -> list[GroupInfo]:
        with self._session() as s:
            rows = s.execute(
                select(PartnerGroup)
                .join(GroupMember, GroupMember.group_id == PartnerGroup.id)
                .join(Person, GroupMember.person_id == Person.id)
                .where(Person.sender_id == sender_id)
                .order_by(GroupMember.joined_at, GroupMember.id)
            ).scalars().all()
            return [_info(row) for row in rows]

    def leave_groups(self, sender_id: str) -> int:
        """Leave every group; the number of groups left."""
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None:
                return 0
            return s.execute(delete(GroupMember).where(GroupMember.person_id == person.id)
                             .execution_options(synchronize_session=False)).rowcount

    def group_by_token(self, token: str) -> Optional[GroupInfo]:
        if not plausible(token):
            return None
        with self._session() as s:
            row = s.execute(
                select(PartnerGroup).where(PartnerGroup.token_hash == hash_token(token))
            ).scalar_one_or_none()
            return None if row is None else _info(row)

    def group_stats(self, group_id: int) -> GroupStats:
        """The group's aggregate figures (see GroupStats); KeyError for an unknown group."""
        with self._session() as s:
            group = s.get(PartnerGroup, group_id)
            if group is None:
                raise KeyError(group_id)
            info = _info(group)
            members = (
                select(GroupMember.person_id)
                .join(Person, GroupMember.person_id == Person.id)
                .where(GroupMember.group_id == group_id, Person.consent_given.is_(True))
            )
            people = s.execute(select(func.count()).select_from(members.subquery())).scalar_one()
            if people < MIN_GROUP_SIZE:
                return GroupStats(group=info, breakdown_allowed=False)

            def count(stmt) -> int:
                return int(s.execute(stmt).scalar_one())

            experiences = count(select(func.count(Experience.id)).where(Experience.person_id.in_(members)))
            skill_rows = s.execute(
                select(SkillClaim.skill_id, func.count(SkillClaim.id))
                .join(Experience, SkillClaim.experience_id == Experience.id)
                .where(Experience.person_id.in_(members), SkillClaim.status == "confirmed")
                .group_by(SkillClaim.skill_id)
            ).all()
            skills = tuple(sorted(((k, int(n)) for k, n in skill_rows), key=lambda kn: (-kn[1], kn[0])))
            assessments = count(select(func.count(Assessment.id)).where(
                Assessment.person_id.in_(members), Assessment.completed_at.is_not(None)))
            answers = count(
                select(func.count(ReferentResponse.id))
                .join(Invitation, ReferentResponse.invitation_id == Invitation.id)
                .where(Invitation.person_id.in_(members)))
            badges = count(select(func.count(Badge.id)).where(
                Badge.person_id.in_(members), Badge.revoked_at.is_(None)))
            return GroupStats(
                group=info, breakdown_allowed=True, people=people, experiences=experiences,
                skills_identified=sum(n for _, n in skills), assessments_completed=assessments,
                referent_answers=answers, badges=badges, skills=skills,
            )

    @staticmethod
    def _export_partners(s: Session, person_id: int) -> dict:
        rows = s.execute(
            select(PartnerGroup.name, GroupMember.joined_at)
            .join(GroupMember, GroupMember.group_id == PartnerGroup.id)
            .where(GroupMember.person_id == person_id)
            .order_by(GroupMember.joined_at, GroupMember.id)
        ).all()
        return {"groups": [{"name": name, "joined_at": iso(joined_at)} for name, joined_at in rows]}

"""ORM schema of the application database (minimum data: see docs in `Store`)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship

# Named constraints, so that future (batch) migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

FIRST_NAME_MAX = 50
CLAIM_STATUSES = ("confirmed", "rejected")
BADGE_LEVELS = ("confirme", "expert")  # the certified levels (bot.badges.credential.Level)
REFERENT_NAME_MAX = 50
COMMENT_MAX = 1000
EXAMPLE_MAX = 500
# who a referent is for the young person (the buttons of the invitation form)
RELATIONSHIPS = (
    "coach", "tuteur", "responsable_benevole", "enseignant", "employeur", "collegue", "autre",
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes (in UTC): make them aware again."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def iso(value: datetime | None) -> str | None:
    value = aware(value)
    return None if value is None else value.isoformat()


class Person(Base):
    __tablename__ = "persons"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, unique=True, index=True)
    channel = Column(String(50), nullable=True)
    first_name = Column(String(FIRST_NAME_MAX), nullable=True)
    consent_given = Column(Boolean, nullable=False, default=False)
    consent_at = Column(DateTime(timezone=True), nullable=True)
    notice_version = Column(String(32), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    # when the retention job told the person their space would be erased (bot.privacy.retention)
    retention_notice_at = Column(DateTime(timezone=True), nullable=True)
    # whether their stories, without their name, may become training candidates a
    # trainer reviews (bot.storage.training, `make review`); None: never asked
    training_consent = Column(Boolean, nullable=True)
    training_consent_at = Column(DateTime(timezone=True), nullable=True)

    experiences = relationship(
        "Experience",
        back_populates="person",
        order_by="(Experience.created_at, Experience.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    export_tokens = relationship(
        "ExportToken",
        back_populates="person",
        order_by="ExportToken.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    assessments = relationship(
        "Assessment",
        back_populates="person",
        order_by="Assessment.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    invitations = relationship(
        "Invitation",
        back_populates="person",
        order_by="Invitation.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    progress = relationship(
        "ProgressProfile",
        back_populates="person",
        uselist=False,
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    resources = relationship(
        "ResourceFeedback",
        back_populates="person",
        order_by="ResourceFeedback.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    badges = relationship(
        "Badge",
        back_populates="person",
        order_by="(Badge.issued_at, Badge.id)",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Experience(Base):
    __tablename__ = "experiences"

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    text = Column(Text, nullable=False)
    context = Column(String(100), nullable=True)
    # follow-up answers: optional keys "action", "difficulty", "result"
    details = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    person = relationship("Person", back_populates="experiences")
    claims = relationship(
        "SkillClaim",
        back_populates="experience",
        order_by="SkillClaim.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class SkillClaim(Base):
    __tablename__ = "skill_claims"
    __table_args__ = (
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        CheckConstraint("status IN ('confirmed', 'rejected')", name="status"),
    )

    id = Column(Integer, primary_key=True)
    experience_id = Column(
        Integer, ForeignKey("experiences.id", ondelete="CASCADE"), nullable=False, index=True
    )
    skill_id = Column(String(100), nullable=False)  # id in the skills référentiel
    confidence = Column(Float, nullable=False)
    status = Column(String(16), nullable=False)
    evidence = Column(Text, nullable=True)  # the user's own words
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    experience = relationship("Experience", back_populates="claims")


class ExportToken(Base):
    __tablename__ = "export_tokens"

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    token_hash = Column(String(64), nullable=False, unique=True)  # sha256 hex of the token
    expires_at = Column(DateTime(timezone=True), nullable=False)
    used_at = Column(DateTime(timezone=True), nullable=True)

    person = relationship("Person", back_populates="export_tokens")


class Badge(Base):
    """An issued Open Badge: the signed credential (VC-JWT) is the person's, kept to
    serve its public verification page; ``status_index`` is its bit in /status/1."""

    __tablename__ = "badges"
    __table_args__ = (CheckConstraint("level IN ('confirme', 'expert')", name="level"),)

    id = Column(String(36), primary_key=True)  # the credential's uuid (urn:uuid:<id>)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    skill_id = Column(String(100), nullable=False)
    level = Column(String(16), nullable=False)
    jwt = Column(Text, nullable=False)
    status_index = Column(Integer, nullable=False, unique=True)
    issued_at = Column(DateTime(timezone=True), nullable=False)
    valid_until = Column(DateTime(timezone=True), nullable=True)
    revoked_at = Column(DateTime(timezone=True), nullable=True)

    person = relationship("Person", back_populates="badges")


class Assessment(Base):
    """The person's own answers to one skill's questionnaire (one row per skill).

    ``answers`` maps item ids to scale values (0 = « Jamais » … 3 = « Toujours »),
    ``examples`` item ids to the short concrete example given on a key item.
    Saved answer by answer, so that a paused questionnaire resumes where it stopped.
    """

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("person_id", "skill_id"),)

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    skill_id = Column(String(100), nullable=False)
    answers = Column(JSON, nullable=False, default=dict)
    examples = Column(JSON, nullable=False, default=dict)
    started_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    completed_at = Column(DateTime(timezone=True), nullable=True)

    person = relationship("Person", back_populates="assessments")


class Invitation(Base):
    """A referent invited by the person: only their first name and relationship are
    kept (no email: when one is given, it is used once to send the link). The link's
    token is kept as a sha256 hash; it is single-use, expires and can be revoked."""

    __tablename__ = "referent_invitations"
    __table_args__ = (
        CheckConstraint(
            "relation IN (" + ", ".join(f"'{r}'" for r in RELATIONSHIPS) + ")",
            name="relation",
        ),
    )

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    referent_name = Column(String(REFERENT_NAME_MAX), nullable=False)
    relation = Column(String(32), nullable=False)  # one of RELATIONSHIPS
    skill_ids = Column(JSON, nullable=False, default=list)
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    used_at = Column(DateTime(timezone=True), nullable=True)
    revoked_at = Column(DateTime(timezone=True), nullable=True)
    # verification of the referent (bot.web.referent_verify): a keyed hash (HMAC) of the
    # address they confirmed, never the address; the one-time code, hashed the same way
    referent_key = Column(String(64), nullable=True)
    code_hash = Column(String(64), nullable=True)
    code_expires_at = Column(DateTime(timezone=True), nullable=True)
    code_attempts = Column(Integer, nullable=False, default=0, server_default="0")
    code_sends = Column(Integer, nullable=False, default=0, server_default="0")
    verified_at = Column(DateTime(timezone=True), nullable=True)

    person = relationship("Person", back_populates="invitations")
    responses = relationship(
        "ReferentResponse",
        back_populates="invitation",
        order_by="ReferentResponse.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class ReferentResponse(Base):
    """A referent's answers for one skill: item id -> scale value, or null for
    « Je ne sais pas »; an optional comment for the young person."""

    __tablename__ = "referent_responses"
    __table_args__ = (UniqueConstraint("invitation_id", "skill_id"),)

    id = Column(Integer, primary_key=True)
    invitation_id = Column(
        Integer, ForeignKey("referent_invitations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    skill_id = Column(String(100), nullable=False)
    answers = Column(JSON, nullable=False, default=dict)
    comment = Column(Text, nullable=True)
    submitted_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    invitation = relationship("Invitation", back_populates="responses")


class ChannelDelivery(Base):
    """A platform delivery already taken in (Telegram ``update_id``, Messenger ``mid``):
    platforms retry and duplicate, a delivery must be handled once, even across a
    restart. Not personal data: a channel name, the platform's id, a time."""

    __tablename__ = "channel_deliveries"
    __table_args__ = (UniqueConstraint("channel", "delivery_id"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(32), nullable=False)
    delivery_id = Column(String(128), nullable=False)
    received_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)


RESOURCE_STATUSES = ("proposed", "done", "not_for_me")


class ProgressProfile(Base):
    """What « Progresser » remembers once asked: preferred formats and time, where the
    person is (a department code, never more precise), whether they are a minor, and
    whether follow-up reminders are welcome."""

    __tablename__ = "progress_profiles"

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    kinds = Column(JSON, nullable=True)  # resource kinds; empty list = any
    max_minutes = Column(Integer, nullable=True)
    department = Column(String(3), nullable=True)  # "69", "2A", "974"
    is_minor = Column(Boolean, nullable=True)
    follow_ups = Column(Boolean, nullable=True)  # None: not asked yet
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    person = relationship("Person", back_populates="progress")


class ResourceFeedback(Base):
    """A resource proposed to the person, and what they said of it."""

    __tablename__ = "resource_feedback"
    __table_args__ = (
        UniqueConstraint("person_id", "resource_id"),
        CheckConstraint("status IN ('proposed', 'done', 'not_for_me')", name="status"),
    )

    id = Column(Integer, primary_key=True)
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    resource_id = Column(String(100), nullable=False)
    skill_id = Column(String(100), nullable=False)
    status = Column(String(16), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    person = relationship("Person", back_populates="resources")


GROUP_NAME_MAX = 100
GROUP_CODE_LEN = 6
CONTACT_MAX = 200


class PartnerGroup(Base):
    """A partner's group (mission locale, university, association): a short code the
    young people type in the chat, and the sha256 of the partner page's secret token.
    Not personal data: the partner's name, a code, a hash, a time."""

    __tablename__ = "partner_groups"

    id = Column(Integer, primary_key=True)
    name = Column(String(GROUP_NAME_MAX), nullable=False)
    code = Column(String(GROUP_CODE_LEN), nullable=False, unique=True)
    token_hash = Column(String(64), nullable=False, unique=True)  # sha256 hex of the page token
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    # optional, set by the partner (python -m bot.partners contact): who a young person of
    # the group can reach when they ask for a human — a name and a phone, email or web page
    contact_name = Column(String(GROUP_NAME_MAX), nullable=True)
    contact = Column(String(200), nullable=True)


class GroupMember(Base):
    """A young person who entered a group's code: only counted, never shown, in the
    partner's figures. Exported and erased with the person."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "person_id"),)

    id = Column(Integer, primary_key=True)
    group_id = Column(
        Integer, ForeignKey("partner_groups.id", ondelete="CASCADE"), nullable=False
    )
    person_id = Column(
        Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False, index=True
    )
    joined_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


NOTICE_KINDS = ("referent", "badge", "follow_up", "retention")
NOTICE_TEXT_MAX = 2000
NOTICE_HOW = ("live", "later")


class Notice(Base):
    """The outbox: a notice produced while the person may be away (a referent answered,
    a badge was issued, a follow-up reminder), kept until it is known to have reached
    them — live (the platform accepted it, or their Socket.IO page was open) or
    ``later``, at their next message, under « Pendant ton absence… ».

    ``text`` is the short French notice as the person reads it: it holds nothing of a
    referent but what the live notice shows (their first name and comment).
    ``claimed_at`` is a short lease taken while a live send is in flight, so that a
    concurrent message never delivers the same notice twice. Exported and erased
    with the person."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("kind IN ('referent', 'badge', 'follow_up', 'retention')", name="kind"),
        CheckConstraint("delivered_how IS NULL OR delivered_how IN ('live', 'later')", name="delivered_how"),
        Index("ix_outbox_person_pending", "person_id", "delivered_at"),
    )

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False)
    kind = Column(String(16), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    delivered_at = Column(DateTime(timezone=True), nullable=True)
    delivered_how = Column(String(8), nullable=True)


SCHEDULED_KINDS = ("follow_up",)


class Scheduled(Base):
    """A proactive message to send later (the follow-up reminder a few days after a
    proposal), kept here rather than in one Rasa server's memory: it survives restarts,
    and with several replicas it fires once (``bot.storage.scheduling``: a row is claimed
    by a conditional UPDATE, like the outbox). At most one pending per person and kind.
    ``entities`` are the trigger's (what to follow up on: a resource id or « missions »).
    Exported and erased with the person."""

    __tablename__ = "scheduled"
    __table_args__ = (
        CheckConstraint("kind IN ('follow_up')", name="kind"),
        Index("ix_scheduled_due", "done_at", "due_at"),
    )

    id = Column(Integer, primary_key=True)
    person_id = Column(Integer, ForeignKey("persons.id", ondelete="CASCADE"), nullable=False)
    kind = Column(String(16), nullable=False)
    due_at = Column(DateTime(timezone=True), nullable=False)
    entities = Column(JSON, nullable=False, default=dict)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    done_at = Column(DateTime(timezone=True), nullable=True)


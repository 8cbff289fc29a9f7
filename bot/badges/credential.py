"""The OpenBadgeCredential (Open Badges 3.0.3, W3C VC Data Model 2.0) of an Atouts badge.

Built with openbadgeslib's data model (``openbadgeslib.ob3``), so the document carries
the VC 2.0 + OB 3.0.3 contexts, the types, ``credentialSchema`` and the shape its
verifier checks. Privacy: the recipient is a pseudonymous ``urn:uuid`` (an HMAC of the
internal user id) plus, when an email is given, a salted SHA-256 ``IdentityObject``;
no name, no raw email, nothing about the referents but their number.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Dict, List, Literal, Optional

from openbadgeslib.ob3 import (Achievement, Alignment, Evidence, IdentityObject, Issuer,
                               OpenBadgeCredential, status_entry)

from bot.referentiel import Skill

Level = Literal["confirme", "expert"]  # the certified levels of bot.scoring
LEVEL_LABELS: Dict[str, str] = {"confirme": "confirmé", "expert": "expert"}
ISSUER_NAME = "Atouts"
FRAMEWORK = "Atouts — référentiel des savoir-être professionnels"
FRANCE_TRAVAIL_FRAMEWORK = "France Travail — savoir-être professionnels (ROME)"
FRANCE_TRAVAIL_URL = "https://www.francetravail.fr/"


@dataclass(frozen=True)
class Urls:
    """Every public URL of the badge service, from one base URL (e.g. https://atouts.example.org)."""

    base: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    @property
    def issuer(self) -> str:
        return f"{self.base}/issuer"

    @property
    def jwks(self) -> str:
        return f"{self.base}/.well-known/jwks.json"

    def key_id(self, kid: str) -> str:
        """The JOSE ``kid``: a URI dereferenced through the JWK Set (OB 3.0 §8.2.3)."""
        return f"{self.jwks}#{kid}"

    def badge(self, badge_id: str) -> str:
        return f"{self.base}/badges/{badge_id}"

    def achievement(self, skill_id: str, level: str) -> str:
        """The skill's public page, at the level's section (served by the web app)."""
        return f"{self.skill(skill_id)}#{level}"

    def skill(self, skill_id: str) -> str:
        return f"{self.base}/referentiel/{skill_id}"

    def status_list(self, number: int = 1) -> str:
        return f"{self.base}/status/{number}"


@dataclass(frozen=True)
class BadgeRequest:
    """What the Challenger step knows when a skill is certified.

    ``subject_ref`` is the internal, stable user id (e.g. the Rasa sender id); only
    its HMAC leaves the server. ``referents`` is how many referents' answers counted;
    ``min_referents``, if given, is the level's rule (``bot.scoring``) for the criteria.
    """

    skill: Skill
    level: Level
    referents: int
    subject_ref: str
    email: Optional[str] = field(default=None, repr=False)
    min_referents: Optional[int] = None
    valid_until: Optional[datetime] = None
    verification: Optional[str] = None  # how each referent was checked, e.g. "adresse e-mail vérifiée"

    def __post_init__(self) -> None:
        if self.level not in LEVEL_LABELS:
            raise ValueError(f"niveau non certifiant : {self.level!r}")
        if self.referents < 1:
            raise ValueError("un badge demande au moins un référent")
        if not self.subject_ref:
            raise ValueError("subject_ref vide")


def pseudonym(secret: bytes, subject_ref: str) -> str:
    """A stable ``urn:uuid`` for a user, that cannot be traced back without ``secret``."""
    digest = hmac.new(secret, subject_ref.encode("utf-8"), hashlib.sha256).digest()
    return f"urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}"


def hashed_email(email: str, salt: Optional[str] = None) -> IdentityObject:
    """OB ``IdentityObject``: ``sha256$hex(email + salt)``, email trimmed and lower-cased."""
    return IdentityObject.create(email.strip().lower(), salt=salt or secrets.token_hex(16))


def badge_name(skill: Skill, level: str) -> str:
    return f"{skill.label} — {LEVEL_LABELS[level]}"


def _criteria(skill: Skill, level: str, min_referents: Optional[int]) -> str:
    who = (f"au moins {min_referents} référent{'s' if min_referents > 1 else ''}"
           if min_referents else "des référents")
    return (f"Badge délivré par Atouts au niveau « {LEVEL_LABELS[level]} » : la personne s'est "
            f"auto-évaluée sur les {len(skill.items)} comportements observables de la compétence "
            f"« {skill.label} », puis ce niveau a été confirmé, via le même questionnaire, par {who} "
            f"l'ayant vue agir (coach, tuteur, enseignant, employeur…).")


def _evidence(skill: Skill, request: BadgeRequest) -> Evidence:
    n = request.referents
    checked = f" ({request.verification} pour chacun)" if request.verification and n > 1 else (
        f" ({request.verification})" if request.verification else "")
    return Evidence(
        name="Auto-évaluation et regards de référents",
        narrative=(f"Auto-évaluation sur les comportements de la compétence « {skill.label} », "
                   f"confirmée par {n} référent{'s' if n > 1 else ''}{checked} au niveau "
                   f"« {LEVEL_LABELS[request.level]} ». Aucune donnée concernant les référents ne figure "
                   f"dans ce badge."),
    )


def _alignments(skill: Skill, urls: Urls) -> List[Alignment]:
    return [
        Alignment(target_name=skill.label, target_url=urls.skill(skill.id), target_framework=FRAMEWORK,
                  target_code=skill.id, target_description=skill.definition),
        Alignment(target_name=skill.france_travail_label, target_url=FRANCE_TRAVAIL_URL,
                  target_framework=FRANCE_TRAVAIL_FRAMEWORK),
    ]


def build_achievement(request: BadgeRequest, urls: Urls) -> Achievement:
    skill = request.skill
    return Achievement(
        id=urls.achievement(skill.id, request.level),
        name=badge_name(skill, request.level),
        description=skill.definition,
        criteria_narrative=_criteria(skill, request.level, request.min_referents),
        achievement_type="Competency",
        alignments=_alignments(skill, urls),
    )


def build_credential(request: BadgeRequest, *, urls: Urls, status_index: int, pseudonym_secret: bytes,
                     issuer_name: str = ISSUER_NAME, now: Optional[datetime] = None) -> OpenBadgeCredential:
    """The unsigned credential; sign it with ``bot.badges.vc_jwt.sign_credential``."""
    issued = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    identifiers = [hashed_email(request.email)] if request.email else []
    return OpenBadgeCredential(
        id=f"urn:uuid:{uuid.uuid4()}",
        issuer=Issuer(id=urls.issuer, name=issuer_name, url=urls.base),
        recipient_id=pseudonym(pseudonym_secret, request.subject_ref),
        identifiers=identifiers,
        achievement=build_achievement(request, urls),
        name=badge_name(request.skill, request.level),
        issuance_date=issued,
        expiration_date=request.valid_until,
        evidence=[_evidence(request.skill, request)],
        credential_status=[status_entry(urls.status_list(1), "revocation", status_index)],
    )

"""The Challenger step as plain functions: questionnaire progress, levels, badges.

The chat actions call these; nothing here knows Rasa. A badge is issued when a skill
reaches a certified level (``bot.scoring``) *and* the person finished their own
questionnaire: the badge says « auto-évaluation + N référents », so both must exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Sequence
from urllib.parse import urlencode

from bot.badges import BadgeIssuer, BadgeRequest
from bot.referentiel import Item, Skill
from bot.scoring import LEVELS, Assessment, ScoringRules, assess
from bot.storage import ReferentAnswers, SelfAssessment, Store, StoredBadge

LINKEDIN_ADD = "https://www.linkedin.com/profile/add"
ORGANISATION = "Atouts"
# only referents who confirmed an address they control count (bot/web/referent_verify.py)
REFERENT_VERIFICATION = "adresse e-mail vérifiée"


def next_item(skill: Skill, answers: dict | None) -> Optional[Item]:
    """The first question not answered yet, in the référentiel's order."""
    done = answers or {}
    return next((item for item in skill.items if item.id not in done), None)


def position(skill: Skill, answers: dict | None) -> tuple[int, int]:
    """(number of the next question, total): « Question 3/6 »."""
    return min(len(answers or {}) + 1, len(skill.items)), len(skill.items)


def wants_example(item: Item, value: int) -> bool:
    """A key item answered « Souvent » or « Toujours »: we ask for a concrete example."""
    return item.key and value >= 2


@dataclass(frozen=True)
class Progress:
    """Where a skill stands: the scoring result and the badges it earned."""

    skill: Skill
    result: Assessment
    self_assessment: Optional[SelfAssessment]
    referents: Sequence[ReferentAnswers]
    badge: Optional[StoredBadge]  # the best valid badge of this skill, if any
    new_badge: bool  # issued just now

    @property
    def self_done(self) -> bool:
        return self.self_assessment is not None and self.self_assessment.completed


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def best_badge(badges: Sequence[StoredBadge], skill_id: str) -> Optional[StoredBadge]:
    valid = [b for b in badges if b.skill_id == skill_id and b.revoked_at is None]
    return max(valid, key=lambda b: (_rank(b.level), b.issued_at), default=None)


def evaluate(store: Store, skill: Skill, rules: ScoringRules, sender_id: str) -> tuple[
        Assessment, Optional[SelfAssessment], list[ReferentAnswers]]:
    own = store.self_assessment(sender_id, skill.id)
    referents = store.referent_answers(sender_id, skill.id)
    known = {item.id for item in skill.items}  # the référentiel may have changed since
    self_answers = {k: v for k, v in (own.answers if own else {}).items() if k in known}
    referent_answers = [{k: v for k, v in r.answers.items() if k in known} for r in referents]
    return assess(skill, self_answers, referent_answers, rules), own, referents


def progress(store: Store, issuer: Optional[BadgeIssuer], skill: Skill, rules: ScoringRules,
             sender_id: str, *, now: Optional[datetime] = None) -> Progress:
    """The skill's level; issues (and stores) a badge when a new, higher certified
    level is reached and the self-assessment is finished."""
    result, own, referents = evaluate(store, skill, rules, sender_id)
    badge = best_badge(store.badges_of(sender_id), skill.id)
    done = own is not None and own.completed
    if (issuer is None or not result.certified or not done
            or (badge is not None and _rank(badge.level) >= _rank(result.level))):
        return Progress(skill, result, own, referents, badge, False)
    issued = issuer.issue(BadgeRequest(
        skill=skill, level=result.level, referents=result.valid_referents,  # type: ignore[arg-type]
        subject_ref=sender_id, min_referents=rules.level(result.level).min_referents,
        verification=REFERENT_VERIFICATION,
    ), now=now)
    key = store.save_badge(sender_id, issued.id, skill.id, result.level, issued.token,
                           issued.status_index, _issued_at(issued.credential))
    if key is None:  # no consenting person any more: the credential must not live on
        issuer.revoke(issued.status_index)
        return Progress(skill, result, own, referents, badge, False)
    return Progress(skill, result, own, referents, store.badge(key), True)


def _issued_at(credential: dict) -> datetime:
    return datetime.fromisoformat(str(credential["validFrom"]).replace("Z", "+00:00"))


def linkedin_url(badge_name: str, issued_at: datetime, cert_url: str, cert_id: str) -> str:
    """LinkedIn « Add to profile » link for a certification (name, organisation,
    issue date, credential URL and id, prefilled)."""
    return LINKEDIN_ADD + "?" + urlencode({
        "startTask": "CERTIFICATION_NAME",
        "name": badge_name,
        "organizationName": ORGANISATION,
        "issueYear": issued_at.year,
        "issueMonth": issued_at.month,
        "certUrl": cert_url,
        "certId": cert_id,
    })

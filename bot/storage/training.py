"""Stories that may teach the detector (issue 11): the person's say, and what a trainer sees.

Mixed into ``bot.storage.Store`` (which provides ``_session`` and ``_person``).

- ``set_training_consent`` / ``training_consent``: a separate yes/no from the profile
  consent, asked once after a story's skills are confirmed and changeable any time
  (« n'utilise plus mes récits »). Without the profile consent nothing is kept at all, so
  there is nothing to learn from either.
- ``training_candidates``: the stories of the people who said yes, with the skills they
  confirmed (or added: « plutôt l'autonomie ») and those they turned down — read live from
  their profile, so an erased person (« supprime mes données », retention) or a withdrawn
  yes is simply not there any more. Each comes with a keyed reference (HMAC of the
  experience), never with a sender id or a row id; ``bot.review`` masks the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.storage.models import Experience, Person, utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker


@dataclass(frozen=True)
class TrainingCandidate:
    ref: str                        # keyed hash of the experience: stable, not reversible
    text: str                       # the story and its follow-up answers, as typed
    confirmed: Tuple[str, ...]      # skills the person recognised (or added)
    rejected: Tuple[str, ...]       # skills the bot proposed and the person turned down
    first_name: Optional[str]       # to be masked in the text, never written out


class TrainingStore:
    _session: "sessionmaker[Session]"

    @staticmethod
    def _person(s: Session, sender_id: str) -> Person | None:  # provided by Store
        raise NotImplementedError

    def set_training_consent(self, sender_id: str, allowed: bool) -> bool:
        """Record the person's choice; False (nothing written) without a profile consent."""
        with self._session() as s, s.begin():
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return False
            person.training_consent = bool(allowed)
            person.training_consent_at = utcnow()
            return True

    def training_consent(self, sender_id: str) -> Optional[bool]:
        """True / False as chosen; None when never asked (or no profile)."""
        with self._session() as s:
            person = self._person(s, sender_id)
            if person is None or not person.consent_given:
                return None
            return person.training_consent

    def training_candidates(self, ref: Callable[[int], str]) -> List[TrainingCandidate]:
        """Every story of the people who allowed it, with at least one answered skill."""
        with self._session() as s:
            people = s.scalars(
                select(Person)
                .where(Person.consent_given.is_(True), Person.training_consent.is_(True))
                .options(selectinload(Person.experiences).selectinload(Experience.claims))
                .order_by(Person.id)
            ).all()
            found: List[TrainingCandidate] = []
            for person in people:
                for exp in person.experiences:
                    confirmed = {c.skill_id for c in exp.claims if c.status == "confirmed"}
                    rejected = {c.skill_id for c in exp.claims if c.status == "rejected"} - confirmed
                    if not confirmed and not rejected:
                        continue
                    parts = [exp.text] + [v for k, v in sorted((exp.details or {}).items())
                                          if isinstance(v, str) and v.strip()]
                    found.append(TrainingCandidate(ref(exp.id), " ".join(p.strip() for p in parts if p),
                                                   tuple(sorted(confirmed)), tuple(sorted(rejected)),
                                                   person.first_name))
            return found

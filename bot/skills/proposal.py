"""Turn detected skill scores into the 2–4 skills the bot proposes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from bot.skills.evidence import is_first_person_action

# Chosen on grouped cross-validation of the training stories (`python -m tools.yardstick
# --sweep`), never on a held-out set: at most the two likeliest skills above the bar, or the
# best one above 0.3 when none is. CV: precision 0.769, a correct one in 94.0 % of stories,
# no proposal 0.9 % (the earlier 0.5 / 0.4, 2–4 skills: 0.674, 94.9 %, 1.8 %).
PROPOSE_THRESHOLD = 0.5   # a skill this likely is proposed on its own
FILL_THRESHOLD = 0.3      # below the bar, but the best there is: proposed when nothing else is
MIN_PROPOSALS = 1
MAX_PROPOSALS = 2


@dataclass(frozen=True)
class Proposal:
    skill_id: str
    confidence: float
    evidence: Optional[str]
    added: bool = False  # named by the person (« y a aussi la rigueur »), not detected

    def as_dict(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"id": self.skill_id, "confidence": self.confidence, "evidence": self.evidence}
        if self.added:
            data["added"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Proposal":
        return cls(str(data["id"]), float(data.get("confidence", 0.0)), data.get("evidence"),
                   bool(data.get("added", False)))


def aggregate(parses: Iterable[Optional[Sequence[Mapping[str, Any]]]]) -> List[Proposal]:
    """Merge the ``soft_skills`` of several messages of one story: the best confidence
    per skill; its evidence is what the person did (a first-person action) in the
    message that scores best among those that have one (the answer to « et toi, tu
    faisais quoi ? » counts), else the best message's evidence."""
    best: Dict[str, Proposal] = {}
    acted: Dict[str, Proposal] = {}
    for soft_skills in parses:
        for item in soft_skills or []:
            try:
                candidate = Proposal.from_dict(item)
            except (KeyError, TypeError, ValueError):
                continue
            current = best.get(candidate.skill_id)
            if current is None or candidate.confidence > current.confidence:
                best[candidate.skill_id] = candidate
            if candidate.evidence and is_first_person_action(candidate.evidence):
                mine = acted.get(candidate.skill_id)
                if mine is None or candidate.confidence > mine.confidence:
                    acted[candidate.skill_id] = candidate
    merged = [
        Proposal(p.skill_id, p.confidence, acted[p.skill_id].evidence, p.added) if p.skill_id in acted else p
        for p in best.values()
    ]
    return sorted(merged, key=lambda p: (-p.confidence, p.skill_id))


def propose(
    candidates: Sequence[Proposal],
    threshold: float = PROPOSE_THRESHOLD,
    fill_threshold: float = FILL_THRESHOLD,
    min_count: int = MIN_PROPOSALS,
    max_count: int = MAX_PROPOSALS,
    exclude: Iterable[str] = (),
) -> List[Proposal]:
    """The skills to show: all above ``threshold`` (at most ``max_count``),
    topped up to ``min_count`` with the next best above ``fill_threshold``."""
    excluded = set(exclude)
    ranked = sorted(
        (c for c in candidates if c.skill_id not in excluded),
        key=lambda p: (-p.confidence, p.skill_id),
    )
    chosen = [c for c in ranked if c.confidence >= threshold][:max_count]
    for c in ranked:
        if len(chosen) >= min_count:
            break
        if c not in chosen and c.confidence >= fill_threshold:
            chosen.append(c)
    return chosen

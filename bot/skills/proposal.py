"""Turn detected skill scores into the 2–4 skills the bot proposes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

PROPOSE_THRESHOLD = 0.5   # a skill this likely is proposed on its own
FILL_THRESHOLD = 0.4      # below the bar, but good enough to reach two proposals
MIN_PROPOSALS = 2
MAX_PROPOSALS = 4


@dataclass(frozen=True)
class Proposal:
    skill_id: str
    confidence: float
    evidence: Optional[str]

    def as_dict(self) -> Dict[str, Any]:
        return {"id": self.skill_id, "confidence": self.confidence, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Proposal":
        return cls(str(data["id"]), float(data.get("confidence", 0.0)), data.get("evidence"))


def aggregate(parses: Iterable[Optional[Sequence[Mapping[str, Any]]]]) -> List[Proposal]:
    """Merge the ``soft_skills`` of several messages of one story (max per skill)."""
    best: Dict[str, Proposal] = {}
    for soft_skills in parses:
        for item in soft_skills or []:
            try:
                candidate = Proposal.from_dict(item)
            except (KeyError, TypeError, ValueError):
                continue
            current = best.get(candidate.skill_id)
            if current is None or candidate.confidence > current.confidence:
                best[candidate.skill_id] = candidate
    return sorted(best.values(), key=lambda p: (-p.confidence, p.skill_id))


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

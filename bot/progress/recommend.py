"""Which resources to propose to a person for one skill: plain, deterministic scoring.

``recommend`` never proposes a resource marked done or « pas pour moi », prefers
resources not yet proposed, then scores each one: training the person's weakest
items (strong bonus, more for the weakest), a preferred kind, fitting the time
available (longer ones are strongly penalised, not excluded), a level that fits
the person's level; a kind refused twice or more is lowered. Among the picks it
avoids two of the same kind when a comparable alternative exists. Ties are broken
by resource id, so the same inputs always give the same answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from bot.progress.catalogue import LEVELS as RESOURCE_LEVELS
from bot.progress.catalogue import Catalogue, Resource

STATUSES = ("proposed", "done", "not_for_me")
# person's level (bot.scoring) -> the resource level that fits best
LEVEL_TARGET: Mapping[str, str] = {"en_progression": "debutant", "confirme": "intermediaire", "expert": "avance"}

WEAK_FIRST_BONUS = 100  # trains the person's weakest item
WEAK_OTHER_BONUS = 60  # trains another weak item
WEAK_EXTRA_BONUS = 10  # each further weak item trained by the same resource
KIND_BONUS = 30
FITS_TIME_BONUS = 10
TOO_LONG_PENALTY = 150
LEVEL_SCORES = (25, 5, -25)  # by distance between the resource level and the target level
REFUSED_KIND_PENALTY = 40
REFUSED_KIND_THRESHOLD = 2
DIVERSITY_MARGIN = 30  # a different kind is "comparable" within this many points
MAX_REASON = 90

KIND_NOUNS: Mapping[str, str] = {
    "mooc": "Un cours en ligne",
    "video": "Une vidéo",
    "article": "Un article",
    "exercice": "Un exercice",
    "podcast": "Un podcast",
}


@dataclass(frozen=True)
class Preferences:
    kinds: FrozenSet[str] = frozenset()  # empty = any kind
    max_minutes: Optional[int] = None


@dataclass(frozen=True)
class History:
    done: FrozenSet[str] = frozenset()
    not_for_me: FrozenSet[str] = frozenset()
    proposed: FrozenSet[str] = frozenset()

    @classmethod
    def from_statuses(cls, statuses: Mapping[str, str]) -> "History":
        """From resource id -> "proposed" | "done" | "not_for_me"."""
        by: Dict[str, set] = {s: set() for s in STATUSES}
        for resource_id, status in statuses.items():
            if status not in by:
                raise ValueError(f"statut inconnu '{status}' pour '{resource_id}' (attendu : {', '.join(STATUSES)})")
            by[status].add(resource_id)
        return cls(done=frozenset(by["done"]), not_for_me=frozenset(by["not_for_me"]), proposed=frozenset(by["proposed"]))


@dataclass(frozen=True)
class Recommendation:
    resource: Resource
    reason: str


@dataclass(frozen=True)
class _Scored:
    resource: Resource
    score: int
    proposed: bool
    weak_item: Optional[str]  # the weakest of the person's items this resource trains
    kind_match: bool
    too_long: bool
    level_distance: int

    @property
    def key(self) -> Tuple[bool, int, str]:
        return (self.proposed, -self.score, self.resource.id)


def format_minutes(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if rest == 0 else f"{hours} h {rest:02d}"


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def _refused_kinds(catalogue: Catalogue, history: History) -> FrozenSet[str]:
    counts: Dict[str, int] = {}
    for resource_id in history.not_for_me:
        res = catalogue.get(resource_id)
        if res is not None:
            counts[res.kind] = counts.get(res.kind, 0) + 1
    return frozenset(k for k, c in counts.items() if c >= REFUSED_KIND_THRESHOLD)


def _score(
    res: Resource, weak: Sequence[str], target: str, history: History, prefs: Preferences, refused: FrozenSet[str]
) -> _Scored:
    score = 0
    matched = [i for i, item in enumerate(weak) if item in res.items]
    weak_item = None
    if matched:
        first = matched[0]
        weak_item = weak[first]
        score += WEAK_FIRST_BONUS if first == 0 else WEAK_OTHER_BONUS
        score += WEAK_EXTRA_BONUS * (len(matched) - 1)
    kind_match = bool(prefs.kinds) and res.kind in prefs.kinds
    if kind_match:
        score += KIND_BONUS
    too_long = prefs.max_minutes is not None and res.duration_minutes > prefs.max_minutes
    if prefs.max_minutes is not None:
        score += -TOO_LONG_PENALTY if too_long else FITS_TIME_BONUS
    distance = abs(RESOURCE_LEVELS.index(res.level) - RESOURCE_LEVELS.index(target)) if res.level in RESOURCE_LEVELS else 2
    score += LEVEL_SCORES[min(distance, 2)]
    if res.kind in refused:
        score -= REFUSED_KIND_PENALTY
    return _Scored(res, score, res.id in history.proposed, weak_item, kind_match, too_long, distance)


def _pick(candidates: List[_Scored], chosen_kinds: set) -> _Scored:
    best = candidates[0]
    if best.resource.kind in chosen_kinds:
        for other in candidates[1:]:
            if other.proposed != best.proposed or best.score - other.score > DIVERSITY_MARGIN:
                break
            if other.resource.kind not in chosen_kinds:
                return other
    return best


def _reason(s: _Scored, catalogue: Catalogue, level: str) -> str:
    res = s.resource
    noun = KIND_NOUNS.get(res.kind, "Une ressource")
    duration = format_minutes(res.duration_minutes)
    if s.weak_item is not None:
        label = catalogue.item_labels.get(s.weak_item, "").strip().rstrip(".")
        if label:
            frame = "Pour travailler « {} »."
            return frame.format(_clip(label, MAX_REASON - len(frame) + 2))
        return "Pour travailler un point que tu veux renforcer."
    if s.kind_match and not s.too_long:
        return _clip(f"{noun} de {duration}, comme tu préfères.", MAX_REASON)
    if s.too_long:
        return _clip(f"{noun} de {duration} : un peu long, mais ça vaut le coup.", MAX_REASON)
    if s.level_distance == 0:
        return {
            "en_progression": "Pour bien démarrer, à ton rythme.",
            "confirme": "Pour progresser encore, à ton niveau.",
            "expert": "Pour aller plus loin, à ton niveau.",
        }.get(level, "À ton niveau.")
    return _clip(f"{noun} de {duration} pour avancer pas à pas.", MAX_REASON)


def recommend(
    catalogue: Catalogue,
    skill_id: str,
    *,
    weak_items: Sequence[str] = (),
    level: str = "en_progression",
    history: History = History(),
    preferences: Preferences = Preferences(),
    n: int = 3,
) -> List[Recommendation]:
    """Up to ``n`` resources of ``skill_id`` for this person, best first, each with a short reason."""
    if level not in LEVEL_TARGET:
        raise ValueError(f"niveau inconnu '{level}' (attendu : {', '.join(LEVEL_TARGET)})")
    if n <= 0:
        return []
    excluded = history.done | history.not_for_me
    refused = _refused_kinds(catalogue, history)
    weak = list(dict.fromkeys(weak_items))  # keep order, drop repeats
    candidates = sorted(
        (
            _score(res, weak, LEVEL_TARGET[level], history, preferences, refused)
            for res in catalogue.for_skill(skill_id)
            if res.id not in excluded
        ),
        key=lambda s: s.key,
    )
    chosen: List[_Scored] = []
    kinds: set = set()
    while candidates and len(chosen) < n:
        pick = _pick(candidates, kinds)
        candidates.remove(pick)
        chosen.append(pick)
        kinds.add(pick.resource.kind)
    return [Recommendation(s.resource, _reason(s, catalogue, level)) for s in chosen]

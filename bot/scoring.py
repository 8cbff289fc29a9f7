"""Certification scoring of the Challenger step, with its rules as data.

``data/referentiel/scoring.yml`` holds the numbers (scale, weights, thresholds),
commented for trainers; this module validates it and applies it with ``assess``,
a pure function. Computations are exact (``Fraction``); the scores shown and
compared to the thresholds are whole numbers from 0 to 100.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Sequence, Tuple

from bot.nlu.text import fold
from bot.referentiel import DEFAULT_PATH as REFERENTIEL_PATH
from bot.referentiel import MIN_ITEMS, ReferentielError, Skill, _read_yaml

DEFAULT_PATH = REFERENTIEL_PATH / "scoring.yml"
Level = Literal["en_progression", "confirme", "expert"]
LEVELS: Tuple[Level, ...] = ("en_progression", "confirme", "expert")
_KEYS = {"version", "scale", "weights", "combination", "referents", "levels", "disagreement", "summary"}
Answers = Mapping[str, Optional[int]]


class ScoringError(ReferentielError):
    """scoring.yml is invalid; ``problems`` lists every issue found."""

    def __init__(self, problems: List[str]) -> None:
        self.problems = problems
        ValueError.__init__(self, "Règles de notation invalides (scoring.yml) :\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class LevelRule:
    id: Level
    label: str
    min_referents: int = 0
    min_score: int = 0
    min_referent_score: int = 0


@dataclass(frozen=True)
class ScoringRules:
    version: int
    scale: Mapping[str, Optional[int]]
    key_weight: Fraction
    other_weight: Fraction
    self_weight: Fraction
    referents_weight: Fraction
    min_answered: int
    levels: Tuple[LevelRule, ...]  # lowest first, as LEVELS
    min_gap: int
    strong_min: int
    max_strong: int
    weak_below: int
    max_weak: int

    @property
    def max_value(self) -> int:
        return max(v for v in self.scale.values() if v is not None)

    def level(self, level_id: str) -> LevelRule:
        return next(rule for rule in self.levels if rule.id == level_id)

    def value_of(self, answer: str) -> Optional[int]:
        """« souvent » -> 2, « je ne sais pas » -> None; ValueError if not on the scale."""
        for label, value in self.scale.items():
            if fold(label) == fold(answer).strip(" .!'"):
                return value
        raise ValueError(f"réponse inconnue « {answer} » (attendu : {', '.join(self.scale)})")


@dataclass(frozen=True)
class Assessment:
    skill_id: str
    self_score: Optional[int]  # 0-100, None if no self answer
    referent_score: Optional[int]  # 0-100, mean of the valid referents, None if none
    score: int  # combined 0-100 (0 when nobody answered)
    valid_referents: int
    level: Level
    gap: Optional[int]  # self_score - referent_score (positive: sees oneself higher)
    disagreement: bool  # |gap| >= rules.min_gap: shown as something to talk about
    strong_items: Tuple[str, ...]  # « points forts », best first
    weak_items: Tuple[str, ...]  # « une chose à travailler », lowest first

    @property
    def certified(self) -> bool:
        return self.level != "en_progression"


# --- loading -----------------------------------------------------------------------


def _section(data: Mapping[str, Any], key: str, fields: Sequence[str], problems: List[str]) -> Dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict) or set(value) != set(fields):
        problems.append(f"'{key}' doit contenir exactement {sorted(fields)}")
        return {}
    return value


def _number(section: Mapping[str, Any], key: str, where: str, problems: List[str],
            lo: float, hi: float, integer: bool = True) -> Any:
    if not section:  # the section itself is already reported
        return lo
    value = section.get(key)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not lo <= value <= hi:
        kind = "un entier" if integer else "un nombre"
        problems.append(f"{where}.{key}: doit être {kind} entre {lo} et {hi} (trouvé : {value!r})")
        return lo
    return value if integer else Fraction(str(value))


def _parse_scale(raw: Any, problems: List[str]) -> Dict[str, Optional[int]]:
    if not isinstance(raw, dict) or not raw:
        problems.append("'scale' doit associer chaque réponse (« Jamais »…) à une valeur")
        return {"Jamais": 0, "Toujours": 1}
    values = [v for v in raw.values() if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        problems.append("scale: chaque valeur doit être un entier (ou null pour « Je ne sais pas »)")
    elif sorted(values) != list(range(len(values))) or len(values) < 2:
        problems.append(f"scale: les valeurs doivent être 0, 1, 2… sans trou ni doublon (trouvé : {values})")
    if len(raw) - len(values) > 1:
        problems.append("scale: une seule réponse peut valoir null (« Je ne sais pas »)")
    return {str(k): v for k, v in raw.items()}


def _parse_levels(raw: Any, problems: List[str]) -> Tuple[LevelRule, ...]:
    if not isinstance(raw, dict) or list(raw) != list(LEVELS):
        problems.append(f"'levels' doit définir, dans cet ordre, {list(LEVELS)}")
        return ()
    rules: List[LevelRule] = []
    fields = ("label", "min_referents", "min_score", "min_referent_score")
    for level_id in LEVELS:
        where = f"levels.{level_id}"
        data = raw[level_id]
        expected = fields[:1] if level_id == "en_progression" else fields
        if not isinstance(data, dict) or set(data) != set(expected):
            problems.append(f"{where}: doit contenir exactement {sorted(expected)}")
            data = {}
        label = data.get("label")
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{where}.label: doit être un texte non vide")
            label = level_id
        if level_id == "en_progression":
            rules.append(LevelRule(level_id, label.strip()))
            continue
        rules.append(LevelRule(
            level_id, label.strip(),
            min_referents=_number(data, "min_referents", where, problems, 1, 10),
            min_score=_number(data, "min_score", where, problems, 0, 100),
            min_referent_score=_number(data, "min_referent_score", where, problems, 0, 100),
        ))
    confirme, expert = rules[1], rules[2]
    for attr in ("min_referents", "min_score", "min_referent_score"):
        if getattr(expert, attr) < getattr(confirme, attr):
            problems.append(f"levels.expert.{attr}: doit être au moins celui de 'confirme'")
    return tuple(rules)


def load_rules(path: Path | str = DEFAULT_PATH) -> ScoringRules:
    """Load and validate scoring.yml; raises ``ScoringError`` listing every problem."""
    problems: List[str] = []
    data = _read_yaml(Path(path), problems)
    if not isinstance(data, dict):
        raise ScoringError(problems or [f"{Path(path).name}: le fichier doit contenir un dictionnaire"])
    unknown, missing = set(data) - _KEYS, _KEYS - set(data)
    if unknown:
        problems.append(f"clés inconnues {sorted(unknown)}")
    if missing:
        problems.append(f"clés manquantes {sorted(missing)}")
    weights = _section(data, "weights", ("key", "other"), problems)
    combination = _section(data, "combination", ("self", "referents"), problems)
    referents = _section(data, "referents", ("min_answered",), problems)
    disagreement = _section(data, "disagreement", ("min_gap",), problems)
    summary = _section(data, "summary", ("strong_min", "max_strong", "weak_below", "max_weak"), problems)
    rules = ScoringRules(
        version=_number(data, "version", "scoring", problems, 1, 1000),
        scale=_parse_scale(data.get("scale"), problems),
        key_weight=_number(weights, "key", "weights", problems, 0.1, 10, integer=False),
        other_weight=_number(weights, "other", "weights", problems, 0.1, 10, integer=False),
        self_weight=_number(combination, "self", "combination", problems, 0, 10, integer=False),
        referents_weight=_number(combination, "referents", "combination", problems, 0.1, 10, integer=False),
        min_answered=_number(referents, "min_answered", "referents", problems, 1, MIN_ITEMS),
        levels=_parse_levels(data.get("levels"), problems),
        min_gap=_number(disagreement, "min_gap", "disagreement", problems, 1, 100),
        strong_min=_number(summary, "strong_min", "summary", problems, 0, 100),
        max_strong=_number(summary, "max_strong", "summary", problems, 0, 8),
        weak_below=_number(summary, "weak_below", "summary", problems, 0, 100),
        max_weak=_number(summary, "max_weak", "summary", problems, 0, 8),
    )
    if rules.weak_below > rules.strong_min:
        problems.append("summary.weak_below: ne doit pas dépasser summary.strong_min")
    if problems:
        raise ScoringError(problems)
    return rules


@lru_cache(maxsize=4)
def default_rules(path: str = str(DEFAULT_PATH)) -> ScoringRules:
    """Cached rules for the running services (loaded once per process)."""
    return load_rules(path)


# --- scoring -----------------------------------------------------------------------


def _round(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))  # half up, monotonic


def _checked(skill: Skill, answers: Answers, who: str, top: int) -> Dict[str, int]:
    """The answered items (None dropped), after checking ids and values."""
    ids = {item.id for item in skill.items}
    kept: Dict[str, int] = {}
    for item_id, value in answers.items():
        if item_id not in ids:
            raise ValueError(f"{who} : question inconnue '{item_id}' pour la compétence '{skill.id}'")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ValueError(f"{who} : réponse {value!r} à '{item_id}' hors de l'échelle 0..{top}")
        kept[item_id] = value
    return kept


def _score(skill: Skill, answers: Mapping[str, int], rules: ScoringRules) -> Optional[Fraction]:
    """Weighted mean of the answered items, on 0-100; None if nothing answered."""
    weighted = [(rules.key_weight if i.key else rules.other_weight, answers[i.id])
                for i in skill.items if i.id in answers]
    if not weighted:
        return None
    total = sum(w for w, _ in weighted) * rules.max_value
    return 100 * Fraction(sum(w * v for w, v in weighted)) / total


def _mix(own: Optional[Fraction], others: Optional[Fraction], rules: ScoringRules) -> Optional[Fraction]:
    if own is None or others is None:
        return others if own is None else own
    total = rules.self_weight + rules.referents_weight
    return (rules.self_weight * own + rules.referents_weight * others) / total


def _mean(values: Sequence[Fraction]) -> Optional[Fraction]:
    return sum(values, Fraction(0)) / len(values) if values else None


def assess(skill: Skill, self_answers: Answers, referent_answers: Sequence[Answers],
           rules: ScoringRules) -> Assessment:
    """The level of ``skill`` from the person's answers and their referents' answers.

    Answers map item ids to a scale value (0 = « Jamais » … 3 = « Toujours ») or None
    (« Je ne sais pas », ignored). A referent with fewer than ``rules.min_answered``
    answers is set aside. Unknown item ids or values off the scale raise ValueError.
    """
    top = rules.max_value
    own = _checked(skill, self_answers, "auto-évaluation", top)
    checked = [_checked(skill, a, f"référent {n}", top) for n, a in enumerate(referent_answers, 1)]
    valid = [a for a in checked if len(a) >= rules.min_answered]
    self_exact = _score(skill, own, rules)
    ref_exact = _mean([s for s in (_score(skill, a, rules) for a in valid) if s is not None])
    combined = _mix(self_exact, ref_exact, rules)
    self_score = None if self_exact is None else _round(self_exact)
    referent_score = None if ref_exact is None else _round(ref_exact)
    score = 0 if combined is None else _round(combined)

    level: Level = "en_progression"
    for rule in rules.levels[1:]:
        if (len(valid) >= max(rule.min_referents, 1) and referent_score is not None
                and score >= rule.min_score and referent_score >= rule.min_referent_score):
            level = rule.id
    gap = None if self_score is None or referent_score is None else self_score - referent_score

    per_item: List[Tuple[Fraction, bool, int, str]] = []
    for n, item in enumerate(skill.items):
        item_own = Fraction(100 * own[item.id], top) if item.id in own else None
        item_ref = _mean([Fraction(100 * a[item.id], top) for a in valid if item.id in a])
        value = _mix(item_own, item_ref, rules)
        if value is not None:
            per_item.append((value, item.key, n, item.id))
    best = sorted(per_item, key=lambda t: (-t[0], not t[1], t[2]))
    worst = sorted(per_item, key=lambda t: (t[0], not t[1], t[2]))
    return Assessment(
        skill_id=skill.id,
        self_score=self_score,
        referent_score=referent_score,
        score=score,
        valid_referents=len(valid),
        level=level,
        gap=gap,
        disagreement=gap is not None and abs(gap) >= rules.min_gap,
        strong_items=tuple(t[3] for t in best if t[0] >= rules.strong_min)[: rules.max_strong],
        weak_items=tuple(t[3] for t in worst if t[0] < rules.weak_below)[: rules.max_weak],
    )

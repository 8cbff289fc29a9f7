"""Crisis detection from cue patterns (``data/safety/cues.yml``).

A message is normalised (``bot.safety.normalise``), the figurative idioms of the
file's ``guards`` are blanked out (« mort de rire », « ça me tue », « j'ai tué le
boss »…), then every category whose cue matches is returned. Rules, not a model:
trainers can read, fix and extend them, and a unit test keeps them honest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from bot.config import ROOT
from bot.safety.normalise import normalise

CUES_FILE = ROOT / "data" / "safety" / "cues.yml"
CATEGORIES: Tuple[str, ...] = (
    "suicide", "self_harm", "harassment", "violence_home", "violence_couple",
    "sexual_violence", "child_danger", "no_shelter", "hunger", "distress",
)
_BLANK = " _ "


@dataclass(frozen=True)
class Match:
    category: str
    cue: str       # the pattern that matched
    excerpt: str   # the normalised words it matched (for tests and tuning; never logged)


@dataclass
class CrisisDetector:
    guards: Sequence[re.Pattern] = field(default_factory=list)
    cues: Dict[str, List[re.Pattern]] = field(default_factory=dict)

    def unguarded(self, text: str) -> str:
        norm = normalise(text)
        for guard in self.guards:
            norm = guard.sub(_BLANK, norm)
        return " ".join(norm.split())

    def matches(self, text: str) -> List[Match]:
        if not text or text.lstrip().startswith("/"):  # button payloads
            return []
        norm = self.unguarded(text)
        found: List[Match] = []
        for category in CATEGORIES:
            for cue in self.cues.get(category, []):
                hit = cue.search(norm)
                if hit:
                    found.append(Match(category, cue.pattern, hit.group(0)))
                    break
        return found

    def categories(self, text: str) -> List[str]:
        return [m.category for m in self.matches(text)]


def _compile(pattern: object, where: str, problems: List[str]) -> Optional[re.Pattern]:
    if not isinstance(pattern, str) or not pattern.strip():
        problems.append(f"{where} : une expression vide ou qui n'est pas du texte")
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        problems.append(f"{where} : expression invalide « {pattern[:60]} » ({exc})")
        return None


def load_detector(path: Path = CUES_FILE) -> CrisisDetector:
    """Reads and checks the cue file; a broken file stops with the list of problems."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    problems: List[str] = []
    guards = [g for i, p in enumerate(data.get("guards") or [])
              if (g := _compile(p, f"guards[{i}]", problems)) is not None]
    cues: Dict[str, List[re.Pattern]] = {}
    raw = data.get("categories") or {}
    for name in raw:
        if name not in CATEGORIES:
            problems.append(f"catégorie inconnue « {name} » (connues : {', '.join(CATEGORIES)})")
    for name in CATEGORIES:
        patterns = raw.get(name) or []
        if not patterns:
            problems.append(f"la catégorie « {name} » n'a aucune expression")
        cues[name] = [c for i, p in enumerate(patterns)
                      if (c := _compile(p, f"{name}[{i}]", problems)) is not None]
    if problems:
        raise ValueError(f"{path} :\n- " + "\n- ".join(problems))
    return CrisisDetector(guards, cues)


@lru_cache(maxsize=1)
def default_detector() -> CrisisDetector:
    return load_detector()


def cue_categories(text: str) -> List[str]:
    """The categories whose cues match (the patterns alone; the safety layer's decision,
    cues and model together, is ``bot.safety.classifier.detect_crisis``)."""
    return default_detector().categories(text)

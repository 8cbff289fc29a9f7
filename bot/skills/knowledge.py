"""What the référentiel knows, as features for the soft-skill detector.

Cue expressions (``data/referentiel/cues.yml``) are matched on normalised words
*or* their lemmas, so « je gardais mon calme », « jai garder mon calme » and the
cue « garder son calme » meet; possessives are interchangeable. Each skill gets
one feature: how many of its cues a text (or clause) contains, squashed. Plain
Python over spaCy tokens; no model download, nothing learnt here.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Set, Tuple

import numpy as np
import yaml

from bot.nlu.text import fold, normalise_token

POSSESSIVE = "<poss>"
_POSSESSIVES = {"mon", "ma", "mes", "ton", "ta", "tes", "son", "sa", "ses", "notre", "nos", "votre", "vos",
                "leur", "leurs"}
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


def _words(text: str) -> List[str]:
    words: List[str] = []
    for raw in _WORD.findall(text):
        for part in normalise_token(raw):
            words.extend(p for p in re.split(r"-", part) if p)
    return [POSSESSIVE if w in _POSSESSIVES else w for w in words]


def load_cues(path: Path) -> Dict[str, List[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected « skill_id: [expressions] »")
    cues: Dict[str, List[str]] = {}
    for skill, expressions in data.items():
        if not isinstance(expressions, list) or not all(isinstance(e, str) and e.strip() for e in expressions):
            raise ValueError(f"{path}: « {skill} » must be a list of expressions")
        cues[str(skill)] = [e.strip() for e in expressions]
    return cues


class CueMatcher:
    """Counts, per skill, the cue expressions found in a spaCy Doc or Span."""

    def __init__(self, skill_ids: Sequence[str], cues: Mapping[str, Sequence[str]]) -> None:
        self.skill_ids = list(skill_ids)
        self.cues = {s: list(cues.get(s, [])) for s in self.skill_ids}
        # first word -> [(skill column, cue words)]
        self._index: Dict[str, List[Tuple[int, Tuple[str, ...]]]] = {}
        for col, skill in enumerate(self.skill_ids):
            for expression in self.cues[skill]:
                words = tuple(_words(expression))
                if words:
                    self._index.setdefault(words[0], []).append((col, words))

    @staticmethod
    def _positions(span: Any) -> List[Set[str]]:
        """The forms each word position can match: normalised text, and its lemma."""
        positions: List[Set[str]] = []
        for token in span:
            if token.is_space or token.is_punct:
                continue
            parts = [p for part in normalise_token(token.text) for p in part.split("-") if p]
            if not parts:
                continue
            if len(parts) == 1:
                forms = {parts[0]}
                lemma = fold(token.lemma_ or "")
                if lemma:
                    forms.add(lemma)
                positions.append({POSSESSIVE if f in _POSSESSIVES else f for f in forms})
            else:
                positions.extend({POSSESSIVE if p in _POSSESSIVES else p} for p in parts)
        return positions

    def counts(self, span: Any) -> np.ndarray:
        found = np.zeros(len(self.skill_ids), dtype=np.float32)
        positions = self._positions(span)
        seen: Set[Tuple[int, Tuple[str, ...]]] = set()
        for i, forms in enumerate(positions):
            for form in forms:
                for col, words in self._index.get(form, ()):
                    if (col, words) in seen or i + len(words) > len(positions):
                        continue
                    if all(words[k] in positions[i + k] for k in range(1, len(words))):
                        seen.add((col, words))
                        found[col] += 1.0
        return found

    def features(self, spans: Sequence[Any]) -> np.ndarray:
        """One row per span: log(1 + number of cues) per skill."""
        if not spans:
            return np.zeros((0, len(self.skill_ids)), dtype=np.float32)
        return np.log1p(np.vstack([self.counts(s) for s in spans])).astype(np.float32)

    def to_json(self) -> Dict[str, Any]:
        return {"skill_ids": self.skill_ids, "cues": self.cues}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CueMatcher":
        return cls(data["skill_ids"], data["cues"])

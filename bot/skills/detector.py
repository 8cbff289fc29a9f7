"""Multi-label soft-skill detector over spaCy documents.

Features (all on normalised French, see ``bot.nlu.text``):
- word unigrams/bigrams and lemmas (TF-IDF), so "j'ai géré" and "jai gere" meet;
- character n-grams inside words (TF-IDF), robust to typos and slang spellings;
- the mean spaCy ``fr_core_news_md`` vector of content words, which carries
  meaning to words never seen in training ("boulot" ~ "taff" ~ "travail").
One logistic regression per skill (one-vs-rest) gives calibrated-ish
probabilities; the evidence, in the person's own words, is the clause that
scores highest for a skill among those where the person acts (« j'ai motivé… »,
see ``bot.skills.evidence``), else the best clause.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from bot.nlu.features import (  # noqa: F401  (re-exported for tests)
    TextFeaturizer, load_linear, mean_vector, plain_words, save_linear, tokens, word_features,
)
from bot.nlu.text import fold
from bot.skills.evidence import choose_clause
from bot.skills.knowledge import CueMatcher

_CLAUSE_BREAK_WORDS = {"mais", "donc", "puis", "alors", "car", "sauf", "ensuite", "finalement", "et"}
_LEADING_CONNECTIVES = re.compile(r"^(?:(?:mais|donc|puis|alors|car|et|ensuite|finalement|du coup|parce que|pcq|bref|enfin)\b[\s,]*)+", re.IGNORECASE)
_CLAUSE_PUNCT = re.compile(r"^[,;:!?.…()\-–—/]+$|^\.\.+$")
EVIDENCE_MAX_CHARS = 110


@dataclass(frozen=True)
class SkillScore:
    id: str
    confidence: float
    evidence: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"id": self.id, "confidence": round(self.confidence, 4)}
        if self.evidence:
            data["evidence"] = self.evidence
        return data


def clauses(doc: Any) -> List[Any]:
    """Split a story into short clauses (spans) a quote can come from."""
    pieces: List[Any] = []
    start = 0
    for i, token in enumerate(doc):
        is_break = token.is_sent_start and i > 0
        if _CLAUSE_PUNCT.match(token.text) or token.is_space:
            if i > start:
                pieces.append(doc[start:i])
            start = i + 1
            continue
        if i > start and (is_break or fold(token.text) in _CLAUSE_BREAK_WORDS):
            pieces.append(doc[start:i])
            start = i
    if start < len(doc):
        pieces.append(doc[start:])
    # Merge very short pieces into their neighbour so quotes make sense.
    merged: List[Any] = []
    for piece in pieces:
        if merged and len(tokens(merged[-1])) < 4:
            merged[-1] = doc[merged[-1].start : piece.end]
        else:
            merged.append(piece)
    if len(merged) > 1 and len(tokens(merged[-1])) < 4:
        last = merged.pop()
        merged[-1] = doc[merged[-1].start : last.end]
    return [m for m in merged if tokens(m)]


def quote(span: Any) -> str:
    text = " ".join(span.text.split()).strip(" ,;:-")
    text = _LEADING_CONNECTIVES.sub("", text) or text
    if len(text) <= EVIDENCE_MAX_CHARS:
        return text
    cut = text[:EVIDENCE_MAX_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


class SkillDetector:
    """Trainable multi-label classifier: spaCy docs in, skill scores out.

    After training it is only numbers (vocabularies, IDF, one weight row per
    skill), saved without pickle.
    """

    def __init__(
        self,
        c: float = 8.0,
        dense_weight: float = 1.0,
        char_weight: float = 1.0,
        random_seed: int = 42,
        cues: Optional[CueMatcher] = None,
        cue_weight: float = 1.0,
    ) -> None:
        self.c = c
        self.random_seed = random_seed
        self.cues = cues
        self.cue_weight = cue_weight
        self.featurizer = TextFeaturizer(
            char_ngrams=(3, 5), char_min_df=2, char_weight=char_weight, dense_weight=dense_weight
        )
        self.skill_ids: List[str] = []
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self.bias = np.zeros(0, dtype=np.float32)

    def fit(
        self, docs: Sequence[Any], labels: Sequence[Sequence[str]], skill_ids: Sequence[str]
    ) -> "SkillDetector":
        if not docs:
            raise ValueError("no labelled story to train the soft-skill detector on")
        self.skill_ids = list(skill_ids)
        x = self._with_cues(self.featurizer.fit_transform(docs), docs)
        rows, bias = [], []
        for skill in self.skill_ids:
            y = np.array([1 if skill in ls else 0 for ls in labels])
            if y.sum() == 0 or y.sum() == len(y):
                raise ValueError(f"skill '{skill}' needs both positive and negative stories")
            model = LogisticRegression(
                C=self.c, class_weight="balanced", max_iter=2000,
                solver="liblinear", random_state=self.random_seed,
            )
            model.fit(x, y)
            rows.append(model.coef_[0])
            bias.append(model.intercept_[0])
        self.weights = np.vstack(rows).astype(np.float32)
        self.bias = np.array(bias, dtype=np.float32)
        return self

    def _with_cues(self, x: sp.csr_matrix, spans: Sequence[Any]) -> sp.csr_matrix:
        """The référentiel's cue expressions as extra columns (bot.skills.knowledge)."""
        if self.cues is None:
            return x
        return sp.hstack([x, sp.csr_matrix(self.cues.features(spans) * self.cue_weight)]).tocsr()

    def save(self, directory: Path) -> None:
        meta: Dict[str, Any] = {"skill_ids": self.skill_ids, "c": self.c, "random_seed": self.random_seed,
                                "cue_weight": self.cue_weight}
        if self.cues is not None:
            meta["cues"] = self.cues.to_json()
        save_linear(directory, "detector", meta, self.featurizer, self.weights, self.bias)

    @classmethod
    def load(cls, directory: Path) -> "SkillDetector":
        meta, featurizer, weights, bias = load_linear(directory, "detector")
        cues = CueMatcher.from_json(meta["cues"]) if meta.get("cues") else None
        detector = cls(meta["c"], random_seed=meta["random_seed"], cues=cues,
                       cue_weight=float(meta.get("cue_weight", 1.0)))
        detector.featurizer = featurizer
        detector.skill_ids = list(meta["skill_ids"])
        detector.weights, detector.bias = weights, bias
        return detector

    def _probabilities(self, spans: Sequence[Any]) -> np.ndarray:
        logits = self._with_cues(self.featurizer.transform(spans), spans) @ self.weights.T + self.bias
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def score(self, doc: Any) -> List[SkillScore]:
        """All skills with their probability, best first (no evidence)."""
        if not self.skill_ids or not tokens(doc):
            return []
        probs = self._probabilities([doc])[0]
        order = np.argsort(-probs, kind="stable")
        return [SkillScore(self.skill_ids[i], float(probs[i])) for i in order]

    def predict(self, doc: Any, threshold: float, max_skills: int = 6) -> List[SkillScore]:
        """Skills above ``threshold`` with the clause that supports each one."""
        selected = [s for s in self.score(doc) if s.confidence >= threshold][:max_skills]
        if not selected:
            return []
        parts = clauses(doc)
        if len(parts) <= 1:
            evidence = {s.id: quote(doc) for s in selected}
        else:
            probs = self._probabilities(parts)
            texts = [p.text for p in parts]
            evidence = {}
            for s in selected:
                # what the person did (first-person action) beats the context
                col = self.skill_ids.index(s.id)
                best = choose_clause(texts, [float(v) for v in probs[:, col]])
                evidence[s.id] = quote(parts[best if best is not None else 0])
        return [SkillScore(s.id, s.confidence, evidence[s.id]) for s in selected]

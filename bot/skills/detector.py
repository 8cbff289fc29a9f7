"""Multi-label soft-skill detector over spaCy documents.

Features (all on normalised French, see ``bot.nlu.text``):
- word unigrams/bigrams and lemmas (TF-IDF), so "j'ai géré" and "jai gere" meet;
- character n-grams inside words (TF-IDF), robust to typos and slang spellings;
- the mean spaCy ``fr_core_news_md`` vector of content words, which carries
  meaning to words never seen in training ("boulot" ~ "taff" ~ "travail").
One logistic regression per skill (one-vs-rest) gives calibrated-ish
probabilities; the clause of the story that scores highest for a skill is kept
as the evidence, in the person's own words.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu.text import fold, normalise_token

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


def _identity(features: List[str]) -> List[str]:
    return features


def _tokens(span: Any) -> List[Any]:
    return [t for t in span if not t.is_space and not t.is_punct]


def word_features(span: Any) -> List[str]:
    """Normalised words, their bigrams and lemmas of a spaCy Doc or Span."""
    words: List[str] = []
    lemmas: List[str] = []
    for token in _tokens(span):
        parts = normalise_token(token.text)
        words.extend(parts)
        if len(parts) == 1 and token.lemma_:
            lemma = fold(token.lemma_)
            if lemma and lemma != parts[0]:
                lemmas.append("L=" + lemma)
    bigrams = [f"{a}_{b}" for a, b in zip(words, words[1:])]
    return words + bigrams + lemmas


def plain_words(span: Any) -> str:
    words: List[str] = []
    for token in _tokens(span):
        words.extend(normalise_token(token.text))
    return " ".join(words)


def mean_vector(span: Any, width: int) -> np.ndarray:
    vectors = [
        t.vector for t in _tokens(span) if t.has_vector and not t.is_stop and t.vector_norm > 0
    ]
    if not vectors:
        return np.zeros(width, dtype=np.float32)
    mean = np.mean(vectors, axis=0)
    norm = np.linalg.norm(mean)
    return (mean / norm).astype(np.float32) if norm > 0 else mean.astype(np.float32)


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
        if merged and len(_tokens(merged[-1])) < 4:
            merged[-1] = doc[merged[-1].start : piece.end]
        else:
            merged.append(piece)
    if len(merged) > 1 and len(_tokens(merged[-1])) < 4:
        last = merged.pop()
        merged[-1] = doc[merged[-1].start : last.end]
    return [m for m in merged if _tokens(m)]


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
    skill), saved without pickle so a model file can never run code.
    """

    def __init__(
        self,
        c: float = 8.0,
        dense_weight: float = 1.0,
        char_weight: float = 1.0,
        random_seed: int = 42,
    ) -> None:
        self.c = c
        self.dense_weight = dense_weight
        self.char_weight = char_weight
        self.random_seed = random_seed
        self.skill_ids: List[str] = []
        self.word_vectorizer: Optional[TfidfVectorizer] = None
        self.char_vectorizer: Optional[TfidfVectorizer] = None
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self.bias = np.zeros(0, dtype=np.float32)
        self.vector_width = 0

    @staticmethod
    def _word_vectorizer(vocabulary: Optional[Dict[str, int]] = None) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=_identity, sublinear_tf=True, vocabulary=vocabulary)

    @staticmethod
    def _char_vectorizer(vocabulary: Optional[Dict[str, int]] = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
            min_df=1 if vocabulary else 2, vocabulary=vocabulary,
        )

    # -- features -------------------------------------------------------------
    def _matrix(self, spans: Sequence[Any], fit: bool = False) -> sp.csr_matrix:
        words = [word_features(s) for s in spans]
        chars = [plain_words(s) for s in spans]
        if fit:
            self.word_vectorizer = self._word_vectorizer()
            self.char_vectorizer = self._char_vectorizer()
            w = self.word_vectorizer.fit_transform(words)
            c = self.char_vectorizer.fit_transform(chars)
        else:
            assert self.word_vectorizer is not None and self.char_vectorizer is not None
            w = self.word_vectorizer.transform(words)
            c = self.char_vectorizer.transform(chars)
        dense = np.vstack([mean_vector(s, self.vector_width) for s in spans])
        return sp.hstack(
            [w, c * self.char_weight, sp.csr_matrix(dense * self.dense_weight)]
        ).tocsr()

    # -- training -------------------------------------------------------------
    def fit(
        self, docs: Sequence[Any], labels: Sequence[Sequence[str]], skill_ids: Sequence[str]
    ) -> "SkillDetector":
        if not docs:
            raise ValueError("no labelled story to train the soft-skill detector on")
        self.skill_ids = list(skill_ids)
        self.vector_width = int(docs[0].vocab.vectors_length or 0)
        x = self._matrix(docs, fit=True)
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

    # -- persistence (no pickle) ------------------------------------------------
    def save(self, directory: Path) -> None:
        assert self.word_vectorizer is not None and self.char_vectorizer is not None
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "skill_ids": self.skill_ids,
            "c": self.c,
            "dense_weight": self.dense_weight,
            "char_weight": self.char_weight,
            "random_seed": self.random_seed,
            "vector_width": self.vector_width,
            "word_vocabulary": {k: int(v) for k, v in self.word_vectorizer.vocabulary_.items()},
            "char_vocabulary": {k: int(v) for k, v in self.char_vectorizer.vocabulary_.items()},
        }
        (directory / "detector.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez_compressed(
            directory / "detector.npz",
            weights=self.weights, bias=self.bias,
            word_idf=self.word_vectorizer.idf_, char_idf=self.char_vectorizer.idf_,
        )

    @classmethod
    def load(cls, directory: Path) -> "SkillDetector":
        meta = json.loads((directory / "detector.json").read_text(encoding="utf-8"))
        arrays = np.load(directory / "detector.npz", allow_pickle=False)
        detector = cls(meta["c"], meta["dense_weight"], meta["char_weight"], meta["random_seed"])
        detector.skill_ids = list(meta["skill_ids"])
        detector.vector_width = int(meta["vector_width"])
        detector.word_vectorizer = cls._word_vectorizer(meta["word_vocabulary"])
        detector.word_vectorizer.idf_ = arrays["word_idf"]
        detector.char_vectorizer = cls._char_vectorizer(meta["char_vocabulary"])
        detector.char_vectorizer.idf_ = arrays["char_idf"]
        detector.weights = arrays["weights"]
        detector.bias = arrays["bias"]
        return detector

    # -- prediction -------------------------------------------------------------
    def _probabilities(self, spans: Sequence[Any]) -> np.ndarray:
        logits = self._matrix(spans) @ self.weights.T + self.bias
        return 1.0 / (1.0 + np.exp(-np.asarray(logits)))

    def score(self, doc: Any) -> List[SkillScore]:
        """All skills with their probability, best first (no evidence)."""
        if not self.skill_ids or not _tokens(doc):
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
            evidence = {}
            for s in selected:
                col = self.skill_ids.index(s.id)
                evidence[s.id] = quote(parts[int(np.argmax(probs[:, col]))])
        return [SkillScore(s.id, s.confidence, evidence[s.id]) for s in selected]

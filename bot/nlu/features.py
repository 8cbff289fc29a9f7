"""Text features shared by the intent classifier and the soft-skill detector.

From a spaCy Doc or Span (``fr_core_news_md``), on normalised French
(``bot.nlu.text``):
- TF-IDF of words, word bigrams and lemmas ("j'ai géré" and "jai gere" meet);
- TF-IDF of character n-grams inside words (typos, slang spellings);
- the mean word vector of content words (meaning for words never seen).
Saved as JSON + NumPy arrays: no pickle, a model file can never run code.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.text import fold, normalise_token


def _identity(features: List[str]) -> List[str]:
    return features


def tokens(span: Any) -> List[Any]:
    return [t for t in span if not t.is_space and not t.is_punct]


def word_features(span: Any) -> List[str]:
    """Normalised words, their bigrams and lemmas of a spaCy Doc or Span."""
    words: List[str] = []
    lemmas: List[str] = []
    for token in tokens(span):
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
    for token in tokens(span):
        words.extend(normalise_token(token.text))
    if not words:  # emoji-only or punctuation-only messages still get char features
        words = [fold(span.text)]
    return " ".join(words)


def mean_vector(span: Any, width: int) -> np.ndarray:
    vectors = [t.vector for t in tokens(span) if t.has_vector and not t.is_stop and t.vector_norm > 0]
    if not vectors or width == 0:
        return np.zeros(width, dtype=np.float32)
    mean = np.mean(vectors, axis=0)
    norm = np.linalg.norm(mean)
    return (mean / norm).astype(np.float32) if norm > 0 else mean.astype(np.float32)


class TextFeaturizer:
    """Sparse word + char TF-IDF and a dense sentence vector, in one matrix."""

    def __init__(
        self,
        char_ngrams: Tuple[int, int] = (3, 5),
        char_min_df: int = 2,
        char_weight: float = 1.0,
        dense_weight: float = 1.0,
    ) -> None:
        self.char_ngrams = (int(char_ngrams[0]), int(char_ngrams[1]))
        self.char_min_df = char_min_df
        self.char_weight = char_weight
        self.dense_weight = dense_weight
        self.vector_width = 0
        self.words: Optional[TfidfVectorizer] = None
        self.chars: Optional[TfidfVectorizer] = None

    def _vectorizers(
        self, words: Optional[Dict[str, int]] = None, chars: Optional[Dict[str, int]] = None
    ) -> None:
        self.words = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, vocabulary=words)
        self.chars = TfidfVectorizer(
            analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True,
            min_df=1 if chars else self.char_min_df, vocabulary=chars,
        )

    def _stack(self, w: sp.spmatrix, c: sp.spmatrix, spans: Sequence[Any]) -> sp.csr_matrix:
        dense = np.vstack([mean_vector(s, self.vector_width) for s in spans])
        return sp.hstack([w, c * self.char_weight, sp.csr_matrix(dense * self.dense_weight)]).tocsr()

    def fit_transform(self, spans: Sequence[Any]) -> sp.csr_matrix:
        self.vector_width = int(spans[0].vocab.vectors_length or 0) if spans else 0
        self._vectorizers()
        assert self.words is not None and self.chars is not None
        w = self.words.fit_transform([word_features(s) for s in spans])
        c = self.chars.fit_transform([plain_words(s) for s in spans])
        return self._stack(w, c, spans)

    def transform(self, spans: Sequence[Any]) -> sp.csr_matrix:
        assert self.words is not None and self.chars is not None, "featurizer not fitted"
        w = self.words.transform([word_features(s) for s in spans])
        c = self.chars.transform([plain_words(s) for s in spans])
        return self._stack(w, c, spans)

    # -- persistence --------------------------------------------------------------
    def to_json(self) -> Dict[str, Any]:
        assert self.words is not None and self.chars is not None
        return {
            "char_ngrams": list(self.char_ngrams),
            "char_min_df": self.char_min_df,
            "char_weight": self.char_weight,
            "dense_weight": self.dense_weight,
            "vector_width": self.vector_width,
            "word_vocabulary": {k: int(v) for k, v in self.words.vocabulary_.items()},
            "char_vocabulary": {k: int(v) for k, v in self.chars.vocabulary_.items()},
        }

    def arrays(self) -> Dict[str, np.ndarray]:
        assert self.words is not None and self.chars is not None
        return {"word_idf": self.words.idf_, "char_idf": self.chars.idf_}

    @classmethod
    def from_saved(cls, meta: Dict[str, Any], arrays: Any) -> "TextFeaturizer":
        featurizer = cls(
            tuple(meta["char_ngrams"]), meta["char_min_df"], meta["char_weight"], meta["dense_weight"]
        )
        featurizer.vector_width = int(meta["vector_width"])
        featurizer._vectorizers(meta["word_vocabulary"], meta["char_vocabulary"])
        assert featurizer.words is not None and featurizer.chars is not None
        featurizer.words.idf_ = arrays["word_idf"]
        featurizer.chars.idf_ = arrays["char_idf"]
        return featurizer


def save_linear(directory: Path, name: str, meta: Dict[str, Any], featurizer: TextFeaturizer,
                weights: np.ndarray, bias: np.ndarray) -> None:
    """A linear model over TextFeaturizer features: JSON + compressed arrays."""
    directory.mkdir(parents=True, exist_ok=True)
    data = dict(meta, featurizer=featurizer.to_json())
    (directory / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(directory / f"{name}.npz", weights=weights, bias=bias, **featurizer.arrays())


def load_linear(directory: Path, name: str) -> Tuple[Dict[str, Any], TextFeaturizer, np.ndarray, np.ndarray]:
    meta = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    arrays = np.load(directory / f"{name}.npz", allow_pickle=False)
    featurizer = TextFeaturizer.from_saved(meta.pop("featurizer"), arrays)
    return meta, featurizer, arrays["weights"], arrays["bias"]

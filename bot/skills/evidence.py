"""Which words of a story prove a skill: what the person *did*, not the context.

A skill is shown by an action of the person (« j'ai motivé tout le monde », « je
restais calme »), not by the situation (« au début l'équipe perdait tout »). Among
the clauses of a story, the evidence is the best-scoring clause for the skill whose
subject is the person (je / j' / on / nous / g, SMS spellings included) followed by a
verb; only when no clause is such an action does the best-scoring clause win.

Plain Python on strings: the detector gives clause scores (spaCy spans), the bot
uses the same rule on stored texts (a skill the person picked or added).
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence

from bot.nlu.text import fold, normalise_words

EVIDENCE_MAX_CHARS = 110

# after the subject, these may come before the verb: « je ne », « je leur », « on s' »
_CLITICS = {"ne", "n", "me", "m", "te", "t", "se", "s", "le", "la", "les", "l", "lui", "leur",
            "y", "en", "nous", "vous"}
_SUBJECTS = {"je", "on", "nous", "g"}
# not actions: « je sais pas », « je crois », « on dit que » are about talking, not doing
_NOT_ACTIONS = {"sais", "sait", "crois", "pense", "pensais", "trouve", "trouvais", "dis", "dit",
                "savais", "croyais", "veux", "voulais", "aime", "aimais", "imagine"}
# « j'étais attaquant », « j'avais peur » describe; « j'ai motivé », « je suis resté » act
_AUXILIARIES = {"ai", "avais", "a", "avait", "avons", "suis", "etais", "est", "etait", "sommes", "es"}
_NEGATIONS = {"pas", "jamais", "rien", "plus", "tout", "bien", "vite", "deja", "toujours", "souvent"}
_PARTICIPLE = re.compile(r"(e|es|ee|ees|i|is|it|ie|u|us|ue|ert|ait|aint|eint|uit)$")
_WORD = re.compile(r"[\w']+|[^\w\s]", re.UNICODE)

# Plain-text clause split (the detector splits spaCy docs the same way).
_BREAK_WORDS = {"mais", "donc", "puis", "alors", "car", "sauf", "ensuite", "finalement", "et"}
_PUNCT = re.compile(r"[,;:!?.…()\n–—]+|\s-\s")
_LEADING = re.compile(
    r"^(?:(?:mais|donc|puis|alors|car|et|ensuite|finalement|du coup|parce que|pcq|bref|enfin)\b[\s,]*)+",
    re.IGNORECASE,
)


def words_of(text: str) -> List[str]:
    """Normalised words of a clause (« j'ai » -> je ai, « jsuis » -> je suis)."""
    raw = [t for t in _WORD.findall(text or "") if any(c.isalnum() for c in t)]
    return normalise_words(raw)


def is_first_person_action(text: str) -> bool:
    """« j'ai motivé tout le monde », « je restais calme », « on a fini 2e », « g géré »."""
    return action_subject(text) is not None


def action_subject(text: str) -> Optional[str]:
    """The subject of the first first-person action of a clause (je / on / nous / g), or None."""
    words = words_of(text)
    for i, word in enumerate(words):
        if word not in _SUBJECTS:
            continue
        if word == "nous" and i + 1 < len(words) and words[i + 1] in _SUBJECTS:
            continue  # « nous on » : the next one is the subject
        j = i + 1
        while j < len(words) and words[j] in _CLITICS:
            j += 1
        if j < len(words) and words[j].isalpha() and words[j] not in _NOT_ACTIONS and words[j] not in _SUBJECTS:
            if words[j] not in _AUXILIARIES:
                return word
            k = j + 1
            while k < len(words) and words[k] in _NEGATIONS | _CLITICS:
                k += 1
            if k < len(words) and _PARTICIPLE.search(words[k]) and words[k] not in ("de", "le", "une", "que"):
                return word
    return None


def choose_clause(clauses: Sequence[str], scores: Sequence[float]) -> Optional[int]:
    """Index of the evidence: the best-scoring action of the person themself (« j'ai
    proposé »), else of their group (« on a gagné »: « on perdait tout » is often the
    context), else the best clause."""
    if not clauses:
        return None
    order = sorted(range(len(clauses)), key=lambda i: (-(scores[i] if i < len(scores) else 0.0), i))
    subjects = [action_subject(clauses[i]) for i in order]
    for wanted in (("je", "g"), ("on", "nous")):
        for i, subject in zip(order, subjects):
            if subject in wanted:
                return i
    return order[0]


def split_clauses(text: str, min_words: int = 3) -> List[str]:
    """Short clauses of a plain-text story (punctuation and « mais, donc, et… »)."""
    pieces: List[str] = []
    for chunk in _PUNCT.split(text or ""):
        current: List[str] = []
        for token in chunk.split():
            if current and fold(token) in _BREAK_WORDS:
                pieces.append(" ".join(current))
                current = []
            current.append(token)
        if current:
            pieces.append(" ".join(current))
    pieces = [p.strip() for p in pieces if p.strip()]
    merged: List[str] = []
    for piece in pieces:  # very short pieces join their neighbour, so quotes make sense
        if merged and len(merged[-1].split()) < min_words:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    if len(merged) > 1 and len(merged[-1].split()) < min_words:
        last = merged.pop()
        merged[-1] = f"{merged[-1]} {last}"
    return merged


def shorten(text: str) -> str:
    """A quote: connectives trimmed, at most EVIDENCE_MAX_CHARS."""
    text = " ".join((text or "").split()).strip(" ,;:-")
    text = _LEADING.sub("", text) or text
    if len(text) <= EVIDENCE_MAX_CHARS:
        return text
    cut = text[:EVIDENCE_MAX_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-") + "…"


def evidence_from_text(text: str) -> Optional[str]:
    """The person's action in a plain-text story (no scores): for skills the person
    picked or added. The first first-person action clause, else the whole (short) text."""
    clauses = split_clauses(text)
    index = choose_clause(clauses, [0.0] * len(clauses))
    return shorten(clauses[index]) if index is not None else None

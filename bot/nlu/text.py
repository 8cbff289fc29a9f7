"""French text normalisation shared by the NLU components.

Young people type fast on phones: no accents, SMS contractions ("jai", "jsuis",
"pcq"), elisions with any apostrophe. Everything here maps those variants onto
one form so that "équipe", "equipe" and "Équipe" are the same feature.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable, List

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'", "ʼ": "'"})

# Elided forms -> full word ("j'" -> "je").
ELISIONS = {
    "j": "je", "l": "le", "d": "de", "qu": "que", "c": "ce", "n": "ne",
    "s": "se", "m": "me", "t": "te", "jusqu": "jusque", "lorsqu": "lorsque",
    "puisqu": "puisque",
}

# SMS / spoken contractions (already folded) -> standard words.
SMS = {
    "jai": "je ai", "jsuis": "je suis", "jsui": "je suis", "chui": "je suis",
    "chuis": "je suis", "jss": "je suis", "jetais": "je etais", "javais": "je avais",
    "jaime": "je aime", "jme": "je me", "jte": "je te", "jle": "je le", "jla": "je la",
    "jlai": "je le ai", "jsais": "je sais", "jsp": "je sais pas", "chais": "je sais",
    "jpeux": "je peux", "jpouvais": "je pouvais", "jfais": "je fais", "jfaisais": "je faisais",
    "jveux": "je veux", "jvoulais": "je voulais", "jdevais": "je devais", "jdois": "je dois",
    "c": "c est", "cest": "c est", "ct": "c etait", "cetait": "c etait", "cété": "c etait",
    "yavait": "il y avait", "ya": "il y a", "yen": "il y en", "bcp": "beaucoup",
    "bcq": "beaucoup", "pcq": "parce que", "pck": "parce que", "psk": "parce que",
    "prcq": "parce que", "pq": "pourquoi", "pk": "pourquoi", "tjrs": "toujours",
    "tjr": "toujours", "tt": "tout", "ts": "tous", "qd": "quand", "kan": "quand",
    "mm": "meme", "mtn": "maintenant", "mnt": "maintenant", "koi": "quoi", "ki": "qui",
    "ke": "que", "dla": "de la", "dc": "donc", "pr": "pour", "ds": "dans",
    "vrmt": "vraiment", "vrm": "vraiment", "tkt": "t inquiete", "frr": "frere",
    "ptit": "petit", "ptite": "petite", "ptits": "petits", "ptites": "petites",
    "pti": "petit", "auj": "aujourd hui", "ajd": "aujourd hui", "rdv": "rendez vous",
    "slt": "salut", "stp": "s il te plait", "svp": "s il vous plait", "pb": "probleme",
    "pbm": "probleme", "qqn": "quelqu un", "qqch": "quelque chose", "qlq": "quelque",
    "tps": "temps", "taf": "taff",
}

_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def fold(text: str) -> str:
    """Lower-case, strip accents, unify apostrophes and spaces."""
    text = text.translate(_APOSTROPHES).lower()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped).strip()


def clean_user_text(text: str | None, max_chars: int = 4000) -> str:
    """Text as it may be stored or quoted: no control characters, bounded length."""
    if not text:
        return ""
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return text[:max_chars]


def normalise_token(token_text: str) -> List[str]:
    """One surface token -> the normalised word(s) it stands for."""
    folded = fold(token_text)
    if not folded:
        return []
    if folded.endswith("'"):
        stem = folded[:-1]
        return [ELISIONS.get(stem, stem)] if stem else []
    if "'" in folded:  # "j'ai" kept as one token by some tokenisers
        head, _, tail = folded.partition("'")
        return [ELISIONS.get(head, head)] + normalise_token(tail)
    expansion = SMS.get(folded)
    if expansion:
        return expansion.split()
    return [folded]


def normalise_words(tokens: Iterable[str]) -> List[str]:
    words: List[str] = []
    for token in tokens:
        words.extend(w for w in normalise_token(token) if any(ch.isalnum() for ch in w))
    return words

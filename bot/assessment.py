"""Free-text answers to the questionnaire scale, as young people type them.

Buttons send « Jamais / Parfois / Souvent / Toujours »; people also type
"ouais souvent", "bof", "tout le temps", "3" or "jamé". ``understand`` maps
them onto the scale of ``data/referentiel/scoring.yml`` (0..3), or None
when the answer is unclear (the bot then asks again with the buttons).
"""
from __future__ import annotations

import re
from typing import Dict, Optional

from bot.nlu.text import fold
from bot.scoring import ScoringRules

# Words (already folded) -> position on the scale, lowest first.
_SYNONYMS: Dict[str, int] = {
    "jamais": 0, "jamai": 0, "jamé": 0, "jame": 0, "pas du tout": 0, "nan jamais": 0,
    "non jamais": 0, "pas vraiment": 0, "non": 0, "nan": 0, "rarement": 1,
    "parfois": 1, "des fois": 1, "desfois": 1, "de temps en temps": 1, "bof": 1,
    "un peu": 1, "pas souvent": 1, "ca depend": 1, "ça depend": 1, "moyen": 1,
    "souvent": 2, "assez souvent": 2, "la plupart du temps": 2, "oui": 2, "ouais": 2,
    "plutot oui": 2, "pas mal": 2, "regulierement": 2,
    "toujours": 3, "tout le temps": 3, "tjrs": 3, "tjr": 3, "grave": 3, "carrement": 3,
    "a chaque fois": 3, "h24": 3, "tout le temps tout le temps": 3, "systematiquement": 3,
}
_FILLERS = re.compile(r"^(?:(?:ouais|oui|euh|bah|ben|ah|je dirais|je pense|plutot|hmm+|mmm+|genre)\b[\s,]*)+")


def understand(text: Optional[str], rules: ScoringRules) -> Optional[int]:
    """The scale value of a typed answer, or None when it is unclear.

    Digits are positions on the buttons: 1 = Jamais … 4 = Toujours (also "0" = Jamais).
    "Je ne sais pas" is not an option for the self-assessment: None.
    """
    answer = " ".join(re.sub(r"[^\w' ]", " ", fold(text or "")).split())
    if not answer:
        return None
    values = sorted({v for v in rules.scale.values() if v is not None})
    top = values[-1]
    if answer.isdigit():
        n = int(answer)
        return max(0, min(top, n - 1)) if 0 < n <= top + 1 else (0 if n == 0 else None)
    for candidate in (answer, _FILLERS.sub("", answer)):
        if not candidate:
            continue
        try:
            value = rules.value_of(candidate)
            return value
        except ValueError:
            pass
        if candidate in _SYNONYMS:
            return min(_SYNONYMS[candidate], top)
    words = set(answer.split())
    hits = {v for w, v in _SYNONYMS.items() if " " not in w and w in words and w not in {"oui", "ouais", "non", "nan"}}
    return hits.pop() if len(hits) == 1 else None

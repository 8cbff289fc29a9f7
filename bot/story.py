"""What a told experience already says: what they did, a difficulty, a result.

The bot only asks follow-up questions for what is missing, so a story that
already says it all is not questioned again.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List

from bot.nlu.text import fold, normalise_words

PARTS = ("action", "difficulty", "result")

_FIRST_PERSON = {"je", "j", "moi", "on", "nous", "me", "m"}
_DIFFICULTY = re.compile(
    r"\b(difficil\w*|dur|dure|galer\w*|complique\w*|probleme\w*|stress\w*|peur|"
    r"pas facile|chaud|relou|crise|conflit\w*|fatigu\w*|rush|pression|echec\w*|echou\w*|"
    r"rate|perdu\w*|panique\w*|souci\w*|obstacle\w*|malgre|bloqu\w*|tendu\w*|embrouill\w*|"
    r"engueul\w*|cri\w*|pleur\w*|retard\w*|urgence\w*|accident\w*|malade\w*|tombe\w*|"
    r"enerv\w*|colere|gal[eè]re|la hess|dur dur|pas simple|imprevu\w*|oubli\w*|"
    r"seul\w*|personne pour|inquiet\w*|angoiss\w*|timide\w*|honte|hesit\w*|mais)\b"
)
_RESULT = re.compile(
    r"\b(au final|finalement|resultat\w*|du coup|reussi\w*|fier|fiere|content\w*|"
    r"valide\w*|obtenu\w*|ca a marche|ca a fonctionne|ca (?:a )?(?:bien )?march\w*|gagne\w*|victoire|"
    r"felicit\w*|remerci\w*|merci|appris|depuis|maintenant|aujourd hui|a la fin|enfin|"
    r"grace a|embauch\w*|reconduit\w*|promu\w*|progres\w*|ameliore\w*|diplome\w*|"
    r"bien passe|ca se? est bien|tout le monde|sauve\w*|regle\w*|resolu\w*|termine\w*|fini)\b"
)
# Both spellings: "jai" gives "j ai" (SMS) but "j'ai" gives "je ai" (elision).
_ACTION_VERB = re.compile(
    r"\b(je? ai|je suis|je me suis|je me?|on a|on se? est|je faisais|je? etais|je? avais|je devais|"
    r"je gerais|je me? occupais|je? aidais|je travaillais|je gardais|je fais|je gere|je? aide|"
    r"je me? occupe|je travaille|je garde)\b"
)


@dataclass(frozen=True)
class StoryParts:
    action: bool
    difficulty: bool
    result: bool

    def missing(self) -> List[str]:
        return [p for p in PARTS if not getattr(self, p)]


def analyse(text: str) -> StoryParts:
    """Which parts a story (one or several messages joined) already contains."""
    words = normalise_words(text.split())
    flat = " ".join(words)
    padded = f" {flat} "
    first_person = any(w in _FIRST_PERSON for w in words)
    action = bool(_ACTION_VERB.search(padded)) or (first_person and len(words) >= 12)
    return StoryParts(
        action=action and len(words) >= 6,
        difficulty=bool(_DIFFICULTY.search(padded)),
        result=bool(_RESULT.search(padded)),
    )


def is_substantial(text: str, detected_skills: int = 0) -> bool:
    """Enough to be a story (not "ok", "je sais pas", an emoji)."""
    words = [w for w in normalise_words(fold(text).split()) if any(c.isalpha() for c in w)]
    return len(words) >= 5 or (len(words) >= 3 and detected_skills > 0)

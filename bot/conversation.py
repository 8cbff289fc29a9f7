"""Small interpretation helpers for free-text answers (no Rasa needed)."""
from __future__ import annotations

import re
from typing import Optional

from bot.nlu.text import clean_user_text, fold

NAME_MAX = 30
_NAME_PREFIX = re.compile(
    r"^(moi c'? ?est|c'? ?est|je m'? ?appelle|jm'? ?appelle|appelle[- ]moi|mon prenom c'? ?est|mon prenom est|prenom ?:?)\s+",
)
_NAME_OK = re.compile(r"^[^\W\d_]+(?:[-' ][^\W\d_]+)?$")
_YES = {
    "oui", "ouais", "ouai", "ouep", "yes", "yep", "ok", "okay", "dac", "daccord", "d accord",
    "grave", "carrement", "exact", "exactement", "c est moi", "cest moi", "trop", "bien sur",
    "oui c est moi", "c est vrai", "vrai", "tout a fait", "absolument", "si", "oe", "wsh oui",
}
_NO = {
    "non", "nan", "nope", "no", "pas vraiment", "pas trop", "pas du tout", "bof", "non pas vraiment",
    "pas moi", "c est pas moi", "cest pas moi", "faux", "jamais", "mouais", "pas sur", "pas sure",
}


# Words of the menu: « mes compétences », « tester », « mes badges » are requests, never a name.
MENU_WORDS = {
    "competence", "competences", "compétence", "badge", "badges", "tester", "test", "ressource", "ressources",
    "mission", "missions", "inviter", "invitation", "invitations", "raconter", "menu", "aide", "profil",
    "donnees", "effacer", "supprimer", "reprendre", "progresser", "arreter", "continuer", "quoi", "pourquoi",
}
_NO_PHRASES = ("pas d accord", "prefere pas", "veux pas", "non merci", "pas ok", "refuse", "pas envie",
               "surtout pas", "hors de question", "pas question")
_YES_PHRASES = ("d accord", "ca me va", "ca marche", "vas y", "go ")


def is_menu_word(text: Optional[str]) -> bool:
    words = re.sub(r"[^\w ]", " ", fold(text or "")).split()
    return any(w in MENU_WORDS for w in words)


def clean_first_name(text: Optional[str]) -> Optional[str]:
    """A first name from "moi c'est Inès", "Inès", "je m'appelle jean-paul";
    None when the answer does not look like a first name."""
    raw = clean_user_text(text or "", 200).strip(" .!?,;:👋🙂😊")
    if not raw:
        return None
    lowered = raw.lower().replace("’", "'")
    match = _NAME_PREFIX.match(fold(lowered))
    if match:
        raw = raw[len(match.group(0)):].strip()
    candidate = raw.split(",")[0].strip(" .!?")
    if not candidate or len(candidate) > NAME_MAX or not _NAME_OK.match(candidate):
        return None
    if fold(candidate) in _YES | _NO | {"salut", "bonjour", "coucou", "hello", "passer", "stop"}:
        return None
    if is_menu_word(candidate):
        return None
    return "-".join(p[:1].upper() + p[1:] for p in candidate.split("-"))


def yes_no(text: Optional[str]) -> Optional[bool]:
    """Interpret a free-text yes/no answer ("ouais grave", "bof"); None if unclear."""
    folded = re.sub(r"[^\w' ]", " ", fold(text or "")).replace("'", " ")
    folded = " ".join(folded.split())
    if not folded:
        return None
    if folded in _NO or folded.startswith(("non ", "nan ", "pas ")):
        return False
    if folded in _YES or folded.startswith(("oui ", "ouais ")):
        return True
    padded = f" {folded} "
    if any(f" {p} " in padded or padded.startswith(f" {p}") for p in _NO_PHRASES):
        return False
    if any(f" {p.strip()} " in padded for p in _YES_PHRASES):
        return True
    return None


_NEGATION = re.compile(r"\b(?:pas|plus|jamais|rien|nan|non|nope|refuse|ne|n)\b")


def clear_consent(text: Optional[str]) -> bool:
    """« garde mes données » is consent only when nothing in it says no: « nan je veux
    pas que tu gardes mes données » reads like a request to keep (same words) and is a
    refusal. Consent is never inferred from a doubtful sentence."""
    folded = " ".join(re.sub(r"[^\w' ]", " ", fold(text or "")).replace("'", " ").split())
    return bool(folded) and _NEGATION.search(folded) is None


# Who a referent is, from free text ("mon coach de judo", "ma tutrice", "le patron").
_RELATIONS = (
    ("responsable_benevole", ("benevol", "association", "asso ", "resto du coeur", "restos du coeur")),
    ("coach", ("coach", "entraineur", "entraineuse", "educateur sportif", "educatrice sportive")),
    ("tuteur", ("tuteur", "tutrice", "maitre de stage", "maitresse de stage", "maitre d apprentissage",
                "maitresse d apprentissage", "stage")),
    ("enseignant", ("prof", "enseignant", "enseignante", "professeur", "formateur", "formatrice",
                    "instit", "cpe")),
    ("employeur", ("employeur", "employeuse", "patron", "patronne", "boss", "chef", "manager",
                   "responsable", "gerant", "gerante", "directeur", "directrice")),
    ("collegue", ("collegue", "collegues", "coequipier", "coequipiere")),
    ("autre", ("autre", "voisin", "voisine", "ami", "amie", "pote", "famille", "oncle", "tante",
               "cousin", "cousine", "parrain", "marraine", "animateur", "animatrice", "educateur",
               "educatrice", "conseiller", "conseillere")),
)


def relation_from_text(text: Optional[str]) -> Optional[str]:
    """One of bot.storage.models.RELATIONSHIPS, or None when unclear."""
    folded = " " + " ".join(re.sub(r"[^\w ]", " ", fold(text or "")).split()) + " "
    if not folded.strip():
        return None
    for relation, words in _RELATIONS:
        if any(f" {w}" in folded for w in words):
            return relation
    return None

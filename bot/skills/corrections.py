"""The person corrects the proposed skills, in SMS French (plain Python, no Rasa).

- add: « y a aussi la rigueur », « et l'organisation ? », « y a pas aussi la rigueur ? »,
  « tu as oublié l'autonomie », « rajoute la curiosité »;
- replace: « c'est plutôt de l'autonomie », « plutôt l'autonomie », « pas le stress mais
  l'organisation », « l'autonomie plutôt que la rigueur »;
- remove: « pas la communication », « enlève la rigueur », « c'est pas du travail en équipe ».

Skill names come from the référentiel (id, labels, plain label) and the synonyms
of the NLU entity ``skill`` (``data/nlu/synonyms.yml``); the CRF's ``skill``
entities are used too. A question about what a skill means (« c'est quoi la
rigueur ? ») is not a correction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

from bot.config import ROOT
from bot.nlu.text import SMS, fold
from bot.referentiel import Referentiel

SYNONYMS_PATH = ROOT / "data" / "nlu" / "synonyms.yml"
_ARTICLES = {"la", "le", "l", "les", "de", "d", "du", "des", "un", "une", "etre", "sa", "son", "ma", "mon"}
# words people use for a skill that are neither labels nor entity synonyms
_EXTRA: Dict[str, str] = {
    "calme": "gestion_du_stress", "sang froid": "gestion_du_stress", "zen": "gestion_du_stress",
    "equipe": "travail_en_equipe", "esprit equipe": "travail_en_equipe",
    "motiver les autres": "capacite_a_federer", "leader": "capacite_a_federer",
    "leadership": "capacite_a_federer", "rassembler": "capacite_a_federer",
    "adaptable": "adaptabilite", "organisee": "organisation", "organiser": "organisation",
    "perseverante": "perseverance", "reactive": "reactivite", "curieuse": "curiosite",
    "idees": "force_de_proposition", "proposer des idees": "force_de_proposition",
    "decider": "capacite_de_decision", "decision": "capacite_de_decision",
    "debrouillard": "autonomie", "debrouillarde": "autonomie", "me debrouiller": "autonomie",
    "patience": "perseverance", "ecoute": "communication", "precis": "rigueur", "precise": "rigueur",
}
_DEFINITION = re.compile(
    r"\b(c (?:est )?quoi|c (?:est )?koi|qu est ce que|ca veut dire|veut dire quoi|ca veut rien dire|definition|definis|explique|"
    r"signifie|c est koi|c koi|difference)\b"
)
_ADD = re.compile(r"\b(aussi|en plus|ajoute|ajouter|rajoute|rajouter|oublie|oublier|manque|manquer)\b")
_REMOVE_VERB = re.compile(r"\b(enleve|enlever|enleves|retire|retirer|retires|supprime|supprimer|vire|virer|efface|effacer|sans)\b")
_REPLACE = re.compile(r"\b(plutot|plus tot|au lieu|a la place)\b")
_YES = {"oui", "ouais", "ouai", "ouep", "yes", "ok", "grave", "carrement", "exact", "si", "oe"}
_NO = {"non", "nan", "nope", "no", "bof"}


@dataclass(frozen=True)
class Correction:
    """What the person asked: skills to add and to remove; ``replace_current`` when the
    skill being asked about is replaced without being named (« plutôt l'autonomie »);
    ``answer`` when the message also answers the question (« oui, et la rigueur ? »)."""

    add: Tuple[str, ...] = ()
    remove: Tuple[str, ...] = ()
    replace_current: bool = False
    answer: Optional[bool] = None


@dataclass
class SkillLexicon:
    """Skill names (normalised word sequences) -> skill id; longest match first."""

    names: Dict[Tuple[str, ...], str] = field(default_factory=dict)

    def add(self, phrase: str, skill_id: str) -> None:
        words = list(_words(phrase))
        while words and words[0] in _ARTICLES:
            words.pop(0)
        if words:
            self.names.setdefault(tuple(words), skill_id)

    def find(self, words: Sequence[str]) -> List[Tuple[int, int, str]]:
        """(start, end, skill id) of every skill named, left to right, no overlap."""
        longest = max((len(k) for k in self.names), default=0)
        found: List[Tuple[int, int, str]] = []
        i = 0
        while i < len(words):
            for size in range(min(longest, len(words) - i), 0, -1):
                skill = self.names.get(tuple(words[i:i + size]))
                if skill:
                    found.append((i, i + size, skill))
                    i += size
                    break
            else:
                i += 1
        return found


def _words(text: str) -> List[str]:
    folded = re.sub(r"[^\w ]", " ", fold(text or "").replace("'", " ").replace("_", " "))
    words: List[str] = []
    for w in folded.split():
        words.extend(SMS.get(w, w).split() if w in ("ya", "yavait", "cest", "jai", "jsp") else [w])
    return words


def _synonyms(path: Path) -> Iterable[Tuple[str, str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return []
    pairs = []
    for entry in data.get("nlu") or []:
        if isinstance(entry, dict) and entry.get("synonym") and isinstance(entry.get("examples"), str):
            for line in entry["examples"].splitlines():
                line = line.strip().lstrip("-").strip()
                if line:
                    pairs.append((line, str(entry["synonym"])))
    return pairs


def build_lexicon(referentiel: Referentiel, synonyms_path: Path = SYNONYMS_PATH) -> SkillLexicon:
    lexicon = SkillLexicon()
    for skill in referentiel.skills.values():
        for name in (skill.id, skill.label, skill.france_travail_label, skill.plain):
            if name:
                lexicon.add(name, skill.id)
    for phrase, skill_id in _synonyms(synonyms_path):
        if skill_id in referentiel.skills:
            lexicon.add(phrase, skill_id)
    for phrase, skill_id in _EXTRA.items():
        if skill_id in referentiel.skills:
            lexicon.add(phrase, skill_id)
    return lexicon


@lru_cache(maxsize=2)
def _cached_lexicon(referentiel: Referentiel) -> SkillLexicon:
    return build_lexicon(referentiel)


def lexicon_for(referentiel: Referentiel) -> SkillLexicon:
    try:
        return _cached_lexicon(referentiel)
    except TypeError:  # an unhashable test double
        return build_lexicon(referentiel)


def _negated(words: Sequence[str], start: int) -> bool:
    """« pas (de) la communication », « c'est pas du travail en équipe », « sans la rigueur »."""
    j = start - 1
    while j >= 0 and words[j] in _ARTICLES | {"vraiment", "trop", "forcement", "tellement"}:
        j -= 1
    if j < 0 or words[j] not in ("pas", "sans", "plus"):
        return False
    if words[j] == "plus" and (j == 0 or words[j - 1] not in ("ne", "n")):
        return False  # « plus la rigueur » is a comparison, « y a plus la rigueur » is not handled
    before = " ".join(words[max(0, j - 3):j])
    # « y a pas aussi la rigueur ? », « il y en a pas », « t'as pas vu la rigueur » ask to add
    return not re.search(r"(\by a\b|\by en a\b|\bt as\b|\btu as\b|\bt a\b|\bvois\b|\bvu\b)$", before)


def parse_correction(
    text: str, lexicon: SkillLexicon, entity_skills: Sequence[str] = (),
) -> Optional[Correction]:
    """The correction in ``text``, or None when it is not one (no skill named, a
    question about what a skill means, a plain « oui »)."""
    words = _words(text)
    if not words:
        return None
    flat = " ".join(words)
    found = lexicon.find(words)
    named = [s for _, _, s in found]
    for skill in entity_skills:  # the CRF may find a spelling the lexicon does not know
        if skill and skill not in named:
            found.append((len(words), len(words), skill))
            named.append(skill)
    if not found:
        return None
    strong_add = bool(_ADD.search(flat))
    replace_marker = bool(_REPLACE.search(flat))
    if _DEFINITION.search(flat) and not (strong_add or replace_marker):
        return None  # « et la rigueur, c'est quoi ? » asks for a meaning
    add_marker = strong_add or words[0] == "et"
    answer = True if words[0] in _YES else False if words[0] in _NO else None
    remove_verb = _REMOVE_VERB.search(flat)
    add: List[str] = []
    remove: List[str] = []
    for start, _end, skill in found:
        if start < len(words) and _negated(words, start):
            remove.append(skill)
        elif remove_verb and _after(words, start, remove_verb.group(1)):
            remove.append(skill)
        else:
            add.append(skill)
    # « X plutôt que Y », « plutôt X que Y », « X au lieu de Y »: the last one goes away
    if replace_marker and len(add) >= 2 and re.search(r"\b(que|qu|au lieu|a la place)\b", flat):
        remove.append(add.pop())
    add = [s for s in dict.fromkeys(add) if s not in remove]
    remove = list(dict.fromkeys(remove))
    if not add and not remove:
        return None
    replace_current = False
    if add and not remove and not add_marker:
        # « plutôt l'autonomie », « non c'est l'autonomie », « c'est de l'autonomie »
        if replace_marker or answer is False or re.match(r"^(c est|ca serait|ce serait|je dirais)\b", flat):
            replace_current = True
        elif len(words) > 6:  # a long message merely mentioning a skill: not a correction
            return None
    return Correction(tuple(add), tuple(remove), replace_current, answer)


def _after(words: Sequence[str], start: int, verb: str) -> bool:
    """The skill at ``start`` comes after the remove verb (« enlève la rigueur »)."""
    return verb in words[:start]

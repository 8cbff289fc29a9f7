"""The skills framework (référentiel), loaded from ``data/referentiel/`` and validated.

One YAML file per skill under ``skills/``; ``meta.yml`` names the framework and
the life contexts. A trainer adds a skill by adding a file (and labelled stories
in ``data/nlu``), then retrains: no code change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from bot.config import ROOT
from bot.nlu.text import fold

DEFAULT_PATH = ROOT / "data" / "referentiel"
_ID = re.compile(r"^[a-z][a-z0-9_]{1,48}$")
_SKILL_KEYS = {
    "id", "label", "france_travail_label", "emoji", "definition", "why_it_matters",
    "behaviours", "situations", "items", "plain",
}
_ITEM_KEYS = {"id", "self", "observer", "key"}
MIN_ITEMS, MAX_ITEMS = 6, 8


class ReferentielError(ValueError):
    """The référentiel data is invalid; ``problems`` lists every issue found."""

    def __init__(self, problems: List[str]) -> None:
        self.problems = problems
        super().__init__("Référentiel invalide :\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Item:
    id: str
    self_text: str
    observer: str
    key: bool

    def for_observer(self, first_name: str) -> str:
        return self.observer.replace("{prenom}", first_name)


@dataclass(frozen=True)
class Situation:
    context: str
    text: str


@dataclass(frozen=True)
class Skill:
    id: str
    label: str
    france_travail_label: str
    emoji: str
    definition: str
    why_it_matters: str
    behaviours: Tuple[str, ...]
    situations: Tuple[Situation, ...]
    items: Tuple[Item, ...]
    # what the skill looks like in plain words, first person (« Garder mon calme »):
    # the buttons when the person picks a skill themself
    plain: str = ""

    @property
    def title(self) -> str:
        return f"{self.emoji} {self.label}"


@dataclass(frozen=True)
class Referentiel:
    name: str
    source: str
    version: int
    contexts: Mapping[str, str]
    skills: Mapping[str, Skill] = field(default_factory=dict)

    @property
    def ids(self) -> List[str]:
        return list(self.skills)

    def get(self, skill_id: str) -> Optional[Skill]:
        return self.skills.get(skill_id)

    def find(self, text: str) -> Optional[Skill]:
        """A skill named in free text ("la rigueur", "gestion du stress", "reactivite")."""
        wanted = fold(text).replace("_", " ").strip(" ?!.'")
        if not wanted:
            return None
        for skill in self.skills.values():
            names = {fold(skill.id.replace("_", " ")), fold(skill.label), fold(skill.france_travail_label)}
            if wanted in names or any(n in wanted for n in names if len(n) > 4):
                return skill
        return None


def _text(data: Mapping[str, Any], key: str, where: str, problems: List[str], max_len: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: '{key}' doit être un texte non vide")
        return ""
    if len(value) > max_len:
        problems.append(f"{where}: '{key}' dépasse {max_len} caractères ({len(value)})")
    return value.strip()


def _texts(data: Mapping[str, Any], key: str, where: str, problems: List[str], lo: int, hi: int) -> Tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: '{key}' doit être une liste de textes")
        return ()
    if not lo <= len(value) <= hi:
        problems.append(f"{where}: '{key}' doit avoir entre {lo} et {hi} éléments ({len(value)})")
    return tuple(v.strip() for v in value)


def _parse_skill(path: Path, data: Any, contexts: Mapping[str, str], problems: List[str]) -> Optional[Skill]:
    where = path.name
    if not isinstance(data, dict):
        problems.append(f"{where}: le fichier doit contenir un dictionnaire")
        return None
    unknown = set(data) - _SKILL_KEYS
    missing = _SKILL_KEYS - set(data)
    if unknown:
        problems.append(f"{where}: clés inconnues {sorted(unknown)}")
    if missing:
        problems.append(f"{where}: clés manquantes {sorted(missing)}")
        return None
    skill_id = data.get("id")
    if not isinstance(skill_id, str) or not _ID.match(skill_id):
        problems.append(f"{where}: 'id' doit être en minuscules sans accent (a-z, 0-9, _)")
        return None
    if skill_id != path.stem:
        problems.append(f"{where}: 'id' ({skill_id}) doit être le nom du fichier ({path.stem})")
    situations: List[Situation] = []
    raw_situations = data.get("situations")
    if not isinstance(raw_situations, list) or len(raw_situations) < 3:
        problems.append(f"{where}: 'situations' doit lister au moins 3 situations")
        raw_situations = []
    for i, s in enumerate(raw_situations, 1):
        if not isinstance(s, dict) or not isinstance(s.get("text"), str) or not s.get("text", "").strip():
            problems.append(f"{where}: situation {i} doit avoir 'context' et 'text'")
            continue
        if s.get("context") not in contexts:
            problems.append(f"{where}: situation {i}: contexte inconnu '{s.get('context')}' (voir meta.yml)")
        situations.append(Situation(str(s.get("context")), s["text"].strip()))
    items: List[Item] = []
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not MIN_ITEMS <= len(raw_items) <= MAX_ITEMS:
        problems.append(f"{where}: 'items' doit lister entre {MIN_ITEMS} et {MAX_ITEMS} questions")
        raw_items = raw_items if isinstance(raw_items, list) else []
    for i, it in enumerate(raw_items, 1):
        iw = f"{where}: question {i}"
        if not isinstance(it, dict) or set(it) != _ITEM_KEYS:
            problems.append(f"{iw}: clés attendues {sorted(_ITEM_KEYS)}")
            continue
        if it["id"] != f"{skill_id}_{i}":
            problems.append(f"{iw}: 'id' doit être {skill_id}_{i}")
        self_text = _text(it, "self", iw, problems, 160)
        observer = _text(it, "observer", iw, problems, 180)
        if observer and "{prenom}" not in observer:
            problems.append(f"{iw}: 'observer' doit contenir {{prenom}}")
        if not isinstance(it["key"], bool):
            problems.append(f"{iw}: 'key' doit valoir true ou false")
        items.append(Item(str(it["id"]), self_text, observer, bool(it["key"])))
    if items and not any(i.key for i in items):
        problems.append(f"{where}: au moins une question doit être 'key: true'")
    return Skill(
        id=skill_id,
        label=_text(data, "label", where, problems, 60),
        france_travail_label=_text(data, "france_travail_label", where, problems, 60),
        emoji=_text(data, "emoji", where, problems, 8),
        definition=_text(data, "definition", where, problems, 200),
        why_it_matters=_text(data, "why_it_matters", where, problems, 200),
        behaviours=_texts(data, "behaviours", where, problems, 3, 8),
        situations=tuple(situations),
        items=tuple(items),
        plain=_plain(data, where, problems),
    )


PLAIN_MAX = 30


def _plain(data: Mapping[str, Any], where: str, problems: List[str]) -> str:
    """A button label: short, plain, no jargon of the framework."""
    text = _text(data, "plain", where, problems, PLAIN_MAX)
    if text and fold(text) in {fold(str(data.get("label", ""))), fold(str(data.get("france_travail_label", "")))}:
        problems.append(f"{where}: 'plain' doit dire la compétence avec des mots simples, pas son nom")
    if text and not text[:1].isupper():
        problems.append(f"{where}: 'plain' doit commencer par une majuscule (« Garder mon calme »)")
    return text


def _read_yaml(path: Path, problems: List[str]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: illisible ({exc.__class__.__name__}: {exc})")
        return None


def load_referentiel(path: Path | str = DEFAULT_PATH) -> Referentiel:
    """Load and validate; raises ``ReferentielError`` listing every problem."""
    root = Path(path)
    problems: List[str] = []
    meta = _read_yaml(root / "meta.yml", problems) if (root / "meta.yml").exists() else None
    if not isinstance(meta, dict):
        problems.append(f"{root / 'meta.yml'}: fichier manquant ou invalide")
        raise ReferentielError(problems)
    contexts = meta.get("contexts")
    if not isinstance(contexts, dict) or not contexts:
        problems.append("meta.yml: 'contexts' doit associer des identifiants à des libellés")
        contexts = {}
    skills: Dict[str, Skill] = {}
    files = sorted((root / "skills").glob("*.yml"))
    if not files:
        problems.append(f"{root / 'skills'}: aucune compétence (un fichier .yml par compétence)")
    for file in files:
        skill = _parse_skill(file, _read_yaml(file, problems), contexts, problems)
        if skill is None:
            continue
        if skill.id in skills:
            problems.append(f"{file.name}: compétence '{skill.id}' en double")
        skills[skill.id] = skill
    if problems:
        raise ReferentielError(problems)
    return Referentiel(
        name=str(meta.get("name", "")),
        source=str(meta.get("source", "")),
        version=int(meta.get("version", 1)),
        contexts=dict(contexts),
        skills=skills,
    )


@lru_cache(maxsize=4)
def default_referentiel(path: str = str(DEFAULT_PATH)) -> Referentiel:
    """Cached référentiel for the running services (loaded once per process)."""
    return load_referentiel(path)

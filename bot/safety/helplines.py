"""French help lines as reviewable data (``data/safety/helplines.yml``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from bot.config import ROOT
from bot.safety.detector import CATEGORIES

HELPLINES_FILE = ROOT / "data" / "safety" / "helplines.yml"
MAX_LINES = 4
REQUIRED = ("id", "name", "number", "display", "for", "hours", "who", "url", "checked")


@dataclass(frozen=True)
class HelpLine:
    id: str
    name: str
    number: str      # as dialled
    display: str     # as shown
    purpose: str     # « for » in the file: one short line, « tu »
    hours: str
    who: str
    url: str
    checked: date
    checked_how: str
    sms: bool = False


@dataclass(frozen=True)
class Contact:
    name: str
    url: str


@dataclass(frozen=True)
class Helplines:
    lines: Dict[str, HelpLine]
    by_category: Dict[str, Tuple[str, ...]]
    people: Tuple[Contact, ...]

    def for_categories(self, categories: Sequence[str], limit: int = MAX_LINES) -> List[HelpLine]:
        """The lines for these categories, most specific first, without repeats.
        Each category brings its first line before any category brings its second."""
        lists = [self.by_category[c] for c in categories if c in self.by_category]
        if not lists:
            lists = [self.by_category["distress"]]
        chosen: List[str] = []
        depth = max(len(ids) for ids in lists)
        for rank in range(depth):
            for ids in lists:
                if rank < len(ids) and ids[rank] not in chosen:
                    chosen.append(ids[rank])
        # the immediate-danger line, when present, always stays (last)
        if "112" in chosen and len(chosen) > limit:
            chosen = [i for i in chosen if i != "112"][: limit - 1] + ["112"]
        return [self.lines[i] for i in chosen[:limit]]


def _date(value: object) -> Optional[date]:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return date.fromisoformat(value)
    return None


def load_helplines(path: Path = HELPLINES_FILE) -> Helplines:
    """Reads and checks the file; problems are listed in French."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    problems: List[str] = []
    lines: Dict[str, HelpLine] = {}
    for i, raw in enumerate(data.get("lines") or []):
        missing = [k for k in REQUIRED if not (isinstance(raw, dict) and raw.get(k))]
        if missing:
            problems.append(f"lines[{i}] : champs manquants {missing}")
            continue
        checked = raw["checked"] if isinstance(raw["checked"], dict) else {}
        when = _date(checked.get("date"))
        if when is None or not checked.get("how"):
            problems.append(f"ligne {raw['id']} : `checked` doit avoir une date (AAAA-MM-JJ) et `how`")
            continue
        number = str(raw["number"])
        if not number.isdigit():
            problems.append(f"ligne {raw['id']} : le numéro « {number} » doit être en chiffres")
        lines[str(raw["id"])] = HelpLine(
            id=str(raw["id"]), name=str(raw["name"]), number=number, display=str(raw["display"]),
            purpose=str(raw["for"]), hours=str(raw["hours"]), who=str(raw["who"]),
            url=str(raw["url"]), checked=when, checked_how=" ".join(str(checked["how"]).split()),
            sms=bool(raw.get("sms", False)),
        )
    by_category: Dict[str, Tuple[str, ...]] = {}
    for category in CATEGORIES:
        ids = (data.get("categories") or {}).get(category)
        if not ids:
            problems.append(f"catégorie « {category} » : aucune ligne")
            continue
        unknown = [str(i) for i in ids if str(i) not in lines]
        if unknown:
            problems.append(f"catégorie « {category} » : lignes inconnues {unknown}")
        by_category[category] = tuple(str(i) for i in ids if str(i) in lines)
    people = tuple(Contact(str(p["name"]), str(p["url"])) for p in data.get("people") or []
                   if isinstance(p, dict) and p.get("name") and p.get("url"))
    if not people:
        problems.append("`people` : au moins un service national pour parler à quelqu'un")
    if problems:
        raise ValueError(f"{path} :\n- " + "\n- ".join(problems))
    return Helplines(lines, by_category, people)


@lru_cache(maxsize=1)
def default_helplines() -> Helplines:
    return load_helplines()

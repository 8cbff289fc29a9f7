"""Choosing volunteering missions that grow a skill: the API when configured, else
(and as a fallback) the offline catalogue ``data/catalogue/missions.yml``.

**Privacy.** The bot asks where the person is (postcode or city) and whether they are
a minor. ``parse_place`` turns the answer into a ``Place``; the postcode and the city
are used for the *current* search only. What the conversation may keep is
``Place.department`` (``Place.stored()``), a coarse area that is enough to search
again later; never the postcode, the city or coordinates.

The skill → API mapping (``SKILL_SEARCH``): the API's ``softSkills`` are free text
(the API documentation says they follow no framework), so a mission "grows" a skill
when one of its ``softSkills`` contains one of the skill's folded labels or synonyms
(the France Travail label first, e.g. "Travail en équipe"). The ``keyword`` is one
short French expression sent to the API full-text search.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml

from bot.config import ROOT
from bot.nlu.text import fold
from bot.progress.engagement import (
    DEPARTMENTS,
    EngagementClient,
    EngagementError,
    Mission,
    MissionQuery,
    department_from_postcode,
)

log = logging.getLogger(__name__)

DEFAULT_CATALOGUE = ROOT / "data" / "catalogue" / "missions.yml"
MIN_ENTRIES = 10
MIN_ENTRIES_PER_SKILL = 3
PITCH_MAX = 140
KINDS = {
    "service_civique", "plateforme_publique", "reserve_civique", "snu", "volontariat_europeen",
    "plateforme_associative", "aide_alimentaire", "solidarite", "secours", "mentorat",
    "environnement", "sport", "culture",
}
_ENTRY_KEYS = {"id", "title", "kind", "organization", "url", "pitch", "skills", "min_age", "remote"}
_OPTIONAL_KEYS = {"max_age"}
_ID = re.compile(r"^[a-z][a-z0-9_]{1,48}$")
_URL = re.compile(r"^https://[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}(/[^\s]*)?$")
_TU = re.compile(r"\b(tu|t'|ton|ta|tes|toi)\b|\bt'", re.IGNORECASE)

NOTE_OFFLINE = ("Je n'ai pas accès aux missions près de chez toi pour l'instant : "
                "voici des programmes nationaux où en trouver une.")
NOTE_API_DOWN = "Je n'ai pas pu joindre la plateforme des missions, voici des pistes nationales :"
NOTE_EMPTY = "Pas de mission trouvée près de toi pour l'instant, voici des pistes nationales :"
NOTE_TOPPED_UP = ("Je n'ai trouvé que {n} mission(s) près de toi qui collent, "
                  "je complète avec des pistes nationales :")


@dataclass(frozen=True)
class SkillSearch:
    label: str  # the API-side soft skill label (France Travail wording)
    synonyms: Tuple[str, ...]  # other wordings found in softSkills (matched folded)
    keyword: str  # one short expression for the API full-text search


SKILL_SEARCH: Dict[str, SkillSearch] = {
    "adaptabilite": SkillSearch("Capacité d'adaptation", ("adaptabilite", "adaptation", "flexibilite", "polyvalence"), "adaptation"),
    "gestion_du_stress": SkillSearch("Gestion du stress", ("stress", "sang-froid", "sang froid", "calme"), "secourisme"),
    "organisation": SkillSearch("Sens de l'organisation", ("organisation", "organise", "planification", "logistique"), "organisation"),
    "rigueur": SkillSearch("Rigueur", ("rigueur", "rigoureux", "precision", "minutie", "fiabilite"), "rigueur"),
    "travail_en_equipe": SkillSearch("Travail en équipe", ("equipe", "esprit d'equipe", "collectif", "cooperation", "collaboration"), "équipe"),
    "capacite_a_federer": SkillSearch("Capacité à fédérer", ("federer", "leadership", "mobiliser", "animation de groupe", "animer"), "animation"),
    "force_de_proposition": SkillSearch("Force de proposition", ("proposition", "initiative", "creativite", "idees"), "projet"),
    "curiosite": SkillSearch("Curiosité", ("curiosite", "curieux", "ouverture d'esprit", "envie d'apprendre", "decouverte"), "découverte"),
    "communication": SkillSearch("Sens de la communication", ("communication", "ecoute", "relationnel", "aisance orale", "pedagogie"), "accueil"),
    "perseverance": SkillSearch("Persévérance", ("perseverance", "perseverant", "tenacite", "patience", "regularite", "engagement"), "accompagnement"),
    "autonomie": SkillSearch("Autonomie", ("autonomie", "autonome", "independance"), "autonomie"),
    "capacite_de_decision": SkillSearch("Capacité de décision", ("decision", "decider", "responsabilite", "prise de responsabilites", "leadership"), "coordination"),
    "prise_de_recul": SkillSearch("Prise de recul", ("recul", "bienveillance", "empathie", "discernement", "ecoute active"), "écoute"),
    "reactivite": SkillSearch("Réactivité", ("reactivite", "reactif", "dynamisme", "urgence"), "urgence"),
}


# --- places -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where to search. Only ``department`` may be stored (see the module docstring)."""

    postcode: Optional[str] = None
    department: Optional[str] = None
    city: Optional[str] = None

    def stored(self) -> Optional[str]:
        """What the conversation may keep: the department code, nothing finer."""
        return self.department

    def query_fields(self) -> Dict[str, Optional[str]]:
        return {"postcode": self.postcode, "department": self.department, "city": self.city}


_POSTCODE = re.compile(r"(?<!\d)(\d{2})\s?(\d{3})(?!\d)")
_DEPT_ONLY = re.compile(r"^(?:dans le |le |departement |dep )?(2a|2b|97[1-46]|0[1-9]|[1-8]\d|9[0-5])$")
_CITY = re.compile(r"^[a-zà-öø-ÿœæ' -]+$", re.IGNORECASE)
_ARRONDISSEMENT = re.compile(r"\s+\d{1,2}\s?(?:e|er|eme|ème|è)?(?:\s+arrondissement)?\s*$", re.IGNORECASE)
_CITY_PREFIXES = ("j'habite a ", "j'habite ", "j'habite sur ", "je suis a ", "je suis sur ", "je vis a ",
                  "je vis sur ", "j'suis a ", "jsuis a ", "pres de ", "vers ", "a cote de ", "sur ", "a ", "en ")
_NOT_PLACES = {
    "oui", "non", "ouais", "nan", "bof", "ok", "okay", "jsp", "je sais pas", "je ne sais pas", "aucune idee",
    "nulle part", "partout", "stop", "merci", "salut", "bonjour", "coucou", "rien", "pas envie", "passer",
    "aucun", "aucune", "idk", "lol", "mdr", "france", "chez moi", "ici", "la",
}
# Words of a sentence, never of a town's name (« j'ai monté une cagnotte » is not a town)
_SENTENCE_WORDS = {
    "je", "j", "jai", "ai", "suis", "jsuis", "tu", "t", "il", "elle", "on", "nous", "vous", "ils", "mon", "ma",
    "mes", "ton", "ta", "tes", "un", "une", "est", "c", "ca", "pas", "moi", "toi", "fait", "fais", "veux",
    "avec", "pour", "mais", "que", "qui", "quoi", "trop", "tres", "g",
}
_LOWER_WORDS = {"de", "du", "des", "la", "le", "les", "sur", "sous", "en", "et", "aux", "au", "lès", "les", "l", "d"}


def _city_name(text: str) -> str:
    """'saint-étienne' -> 'Saint-Étienne', 'aix-en-provence' -> 'Aix-en-Provence'."""
    words = re.split(r"([ \-'])", text.strip())
    out: List[str] = []
    first = True
    for w in words:
        if w in (" ", "-", "'") or not w:
            out.append(w)
            continue
        lw = w.lower()
        out.append(lw if (not first and lw in _LOWER_WORDS) else lw[:1].upper() + lw[1:])
        first = False
    return "".join(out)


def parse_place(text: Optional[str]) -> Optional[Place]:
    """A postcode ('75011', '20 000', '97411'), a department ('93', '2A') or a city
    name ('lyon', 'à Saint-Étienne') -> ``Place``; anything else -> ``None``."""
    if not text:
        return None
    raw = " ".join(str(text).split())
    if not raw or len(raw) > 80:
        return None
    m = _POSTCODE.search(raw)
    if m:
        postcode = m.group(1) + m.group(2)
        department = department_from_postcode(postcode)
        return Place(postcode=postcode, department=department) if department else None
    folded = fold(raw).strip(" .!?,;")
    d = _DEPT_ONLY.match(folded)
    if d:
        code = d.group(1).upper()
        code = code.zfill(2) if code.isdigit() and len(code) < 3 else code
        return Place(department=code) if code in DEPARTMENTS else None
    raw = _ARRONDISSEMENT.sub("", raw)  # "Paris 11e", "Lyon 3ème" -> the city
    if any(ch.isdigit() for ch in raw):
        return None
    name = raw.strip(" .!?,;")
    lowered = fold(name)
    for prefix in _CITY_PREFIXES:
        if lowered.startswith(prefix):
            name = name[len(prefix):].strip()
            lowered = fold(name)
            break
    if lowered in _NOT_PLACES or not _CITY.match(name):
        return None
    if any(word in _SENTENCE_WORDS for word in re.findall(r"[a-z]+", lowered)):
        return None
    letters = sum(ch.isalpha() for ch in name)
    if letters < 2 or len(name) > 50 or len(name.split()) > 5:
        return None
    return Place(city=_city_name(name))


# --- offline catalogue ---------------------------------------------------------------------


class MissionCatalogueError(ValueError):
    """The offline catalogue is invalid; ``problems`` lists every issue found."""

    def __init__(self, problems: List[str]) -> None:
        self.problems = problems
        super().__init__("Catalogue de missions invalide :\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class CatalogueEntry:
    id: str
    title: str
    kind: str
    organization: str
    url: str
    pitch: str
    skills: Tuple[str, ...]
    min_age: int
    remote: bool
    max_age: Optional[int] = None

    def open_to_minors(self) -> bool:
        return self.min_age < 18

    def open_to_adults(self) -> bool:
        return self.max_age is None or self.max_age >= 18

    def to_mission(self) -> Mission:
        return Mission(
            id=f"offline:{self.id}", title=self.title, organization=self.organization,
            city=None, postcode=None, department=None, remote=self.remote,
            open_to_minors=self.open_to_minors(), url=self.url, domain=None,
            soft_skills=self.skills,  # référentiel ids for offline entries
            start_at=None, source="offline", pitch=self.pitch, kind=self.kind,
        )


@dataclass(frozen=True)
class MissionCatalogue:
    entries: Tuple[CatalogueEntry, ...] = field(default_factory=tuple)

    def for_skill(self, skill_id: str) -> List[CatalogueEntry]:
        return [e for e in self.entries if skill_id in e.skills]


def _default_skill_ids() -> List[str]:
    from bot.referentiel import default_referentiel

    return default_referentiel().ids


def _check_text(entry: Mapping[str, Any], key: str, where: str, problems: List[str], max_len: int) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: '{key}' doit être un texte non vide")
        return ""
    if len(value.strip()) > max_len:
        problems.append(f"{where}: '{key}' dépasse {max_len} caractères ({len(value.strip())})")
    return value.strip()


def _parse_entry(i: int, raw: Any, skill_ids: Sequence[str], problems: List[str], name: str) -> Optional[CatalogueEntry]:
    where = f"{name}: mission {i}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: doit être un dictionnaire")
        return None
    if isinstance(raw.get("id"), str):
        where = f"{name}: mission {i} ({raw['id']})"
    unknown = set(raw) - _ENTRY_KEYS - _OPTIONAL_KEYS
    missing = _ENTRY_KEYS - set(raw)
    if unknown:
        problems.append(f"{where}: clés inconnues {sorted(unknown)}")
    if missing:
        problems.append(f"{where}: clés manquantes {sorted(missing)}")
        return None
    entry_id = raw["id"]
    if not isinstance(entry_id, str) or not _ID.match(entry_id):
        problems.append(f"{where}: 'id' doit être en minuscules sans accent (a-z, 0-9, _)")
        entry_id = str(entry_id)
    title = _check_text(raw, "title", where, problems, 80)
    organization = _check_text(raw, "organization", where, problems, 80)
    kind = raw["kind"]
    if kind not in KINDS:
        problems.append(f"{where}: type '{kind}' inconnu (attendu : {', '.join(sorted(KINDS))})")
    url = raw["url"]
    if not isinstance(url, str) or not _URL.match(url.strip()):
        problems.append(f"{where}: 'url' doit être une adresse https:// valide ({url!r})")
        url = str(url)
    pitch = _check_text(raw, "pitch", where, problems, PITCH_MAX)
    if pitch and "\n" in pitch:
        problems.append(f"{where}: 'pitch' doit tenir sur une ligne")
    if pitch and not _TU.search(pitch):
        problems.append(f"{where}: 'pitch' doit s'adresser à la personne (« tu »)")
    skills = raw["skills"]
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        problems.append(f"{where}: 'skills' doit lister des compétences du référentiel")
        skills = []
    for s in skills:
        if s not in skill_ids:
            problems.append(f"{where}: compétence inconnue '{s}'")
    if len(set(skills)) != len(skills):
        problems.append(f"{where}: compétence en double dans 'skills'")
    min_age = raw["min_age"]
    if not isinstance(min_age, int) or isinstance(min_age, bool) or not 12 <= min_age <= 30:
        problems.append(f"{where}: 'min_age' doit être un âge entre 12 et 30")
        min_age = 18
    max_age = raw.get("max_age")
    if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < min_age):
        problems.append(f"{where}: 'max_age' doit être un âge supérieur ou égal à 'min_age'")
        max_age = None
    remote = raw["remote"]
    if not isinstance(remote, bool):
        problems.append(f"{where}: 'remote' doit valoir true ou false")
    return CatalogueEntry(
        id=entry_id, title=title, kind=str(kind), organization=organization, url=url.strip(),
        pitch=pitch, skills=tuple(dict.fromkeys(skills)), min_age=min_age,
        remote=bool(remote), max_age=max_age,
    )


def load_catalogue(path: Path | str = DEFAULT_CATALOGUE, skill_ids: Optional[Iterable[str]] = None) -> MissionCatalogue:
    """Load and validate; raises ``MissionCatalogueError`` listing every problem."""
    path = Path(path)
    ids = list(skill_ids) if skill_ids is not None else _default_skill_ids()
    problems: List[str] = []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MissionCatalogueError([f"{path.name}: illisible ({exc.__class__.__name__})"]) from None
    raw_entries = data.get("missions") if isinstance(data, dict) else None
    if not isinstance(raw_entries, list):
        raise MissionCatalogueError([f"{path.name}: une liste 'missions' est attendue"])
    entries: List[CatalogueEntry] = []
    seen: set = set()
    for i, raw in enumerate(raw_entries, 1):
        entry = _parse_entry(i, raw, ids, problems, path.name)
        if entry is None:
            continue
        if entry.id in seen:
            problems.append(f"{path.name}: mission '{entry.id}' en double")
            continue
        seen.add(entry.id)
        entries.append(entry)
    if len(raw_entries) < MIN_ENTRIES:
        problems.append(f"{path.name}: au moins {MIN_ENTRIES} missions attendues ({len(raw_entries)})")
    for skill_id in ids:
        count = sum(skill_id in e.skills for e in entries)
        if count < MIN_ENTRIES_PER_SKILL:
            problems.append(f"{path.name}: la compétence '{skill_id}' n'est développée que par "
                            f"{count} mission(s) (au moins {MIN_ENTRIES_PER_SKILL})")
    if problems:
        raise MissionCatalogueError(problems)
    return MissionCatalogue(tuple(entries))


@lru_cache(maxsize=4)
def default_catalogue(path: str = str(DEFAULT_CATALOGUE)) -> MissionCatalogue:
    """Cached catalogue for the running services."""
    return load_catalogue(path)


def offline_missions(skill_id: str, is_minor: Optional[bool], n: int = 3,
                     catalogue: Optional[MissionCatalogue] = None,
                     exclude_kinds: Iterable[str] = ()) -> List[Mission]:
    """Rank the catalogue: grows the skill (earlier in its list = stronger), fits the
    age, then greedy diversity of kinds."""
    catalogue = catalogue or default_catalogue()
    candidates: List[Tuple[Tuple[int, int, int], int, CatalogueEntry]] = []
    for order, e in enumerate(catalogue.entries):
        if is_minor is True and not e.open_to_minors():
            continue
        if is_minor is False and not e.open_to_adults():
            continue
        rank = e.skills.index(skill_id) if skill_id in e.skills else 99
        age_unsure = 1 if is_minor is None and (e.max_age is not None and e.max_age < 18 or e.min_age >= 18) else 0
        candidates.append(((0 if rank < 99 else 1, age_unsure, rank), order, e))
    candidates.sort(key=lambda c: (c[0], c[1]))
    chosen: List[CatalogueEntry] = []
    kinds = set(exclude_kinds)
    matching = [c for c in candidates if c[0][0] == 0]
    others = [c for c in candidates if c[0][0] != 0]
    # Skill match beats diversity; diversity of kinds breaks ties inside each group.
    for group in (matching, others):
        for distinct in (True, False):
            for _, _, e in group:
                if len(chosen) >= n:
                    break
                if e in chosen or (distinct and e.kind in kinds):
                    continue
                chosen.append(e)
                kinds.add(e.kind)
    return [e.to_mission() for e in chosen[:n]]


# --- choosing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MissionResult:
    missions: List[Mission]
    source: str  # "api" | "offline"
    note: Optional[str] = None


def grows_skill(mission: Mission, skill_id: str) -> bool:
    """Does one of the mission's ``softSkills`` name the skill (folded match)?"""
    search = SKILL_SEARCH.get(skill_id)
    if search is None or not mission.soft_skills:
        return False
    terms = {fold(search.label)} | {fold(s) for s in search.synonyms}
    for skill in mission.soft_skills:
        text = fold(skill)
        if any(term and term in text for term in terms):
            return True
    return False


def _distance_rank(mission: Mission, place: Optional[Place]) -> int:
    if place is not None:
        if place.postcode and mission.postcode == place.postcode:
            return 0
        if place.city and mission.city and fold(mission.city) == fold(place.city):
            return 0
        if place.department and mission.department == place.department:
            return 1
    if mission.remote:
        return 2
    return 3


def rank_missions(missions: Sequence[Mission], skill_id: str, place: Optional[Place],
                  is_minor: Optional[bool]) -> List[Mission]:
    """Minors: only missions explicitly open to minors. Then skill match, nearest,
    remote, and the API's own order."""
    kept = [m for m in missions if not (is_minor and m.open_to_minors is not True)]
    indexed = list(enumerate(kept))
    indexed.sort(key=lambda im: (0 if grows_skill(im[1], skill_id) else 1, _distance_rank(im[1], place), im[0]))
    return [m for _, m in indexed]


def _query(skill_id: str, place: Optional[Place], is_minor: Optional[bool], with_keyword: bool) -> MissionQuery:
    search = SKILL_SEARCH.get(skill_id)
    keywords = (search.keyword,) if (with_keyword and search) else ()
    fields = place.query_fields() if place else {}
    return MissionQuery(
        keywords=keywords,
        remote=True if place is None else None,
        open_to_minors=True if is_minor else None,
        **fields,
    )


async def find_missions(skill_id: str, place: Optional[Place], is_minor: Optional[bool], *,
                        client: Optional[EngagementClient], n: int = 3,
                        catalogue: Optional[MissionCatalogue] = None) -> MissionResult:
    """``n`` missions that grow ``skill_id``, near ``place`` (``None``: remote ones),
    open to minors when ``is_minor``; offline catalogue without a client or as a
    fallback, with an honest ``note``."""
    if client is None:
        return MissionResult(offline_missions(skill_id, is_minor, n, catalogue), "offline", NOTE_OFFLINE)
    found: Dict[str, Mission] = {}
    try:
        for with_keyword in (True, False):
            for m in await client.search(_query(skill_id, place, is_minor, with_keyword), limit=30):
                found.setdefault(m.id, m)
            ranked = rank_missions(list(found.values()), skill_id, place, is_minor)
            if sum(grows_skill(m, skill_id) for m in ranked) >= n:
                break
    except EngagementError as exc:
        log.warning("Missions : API Engagement indisponible (%s), catalogue hors ligne", exc.reason)
        if not found:
            return MissionResult(offline_missions(skill_id, is_minor, n, catalogue), "offline", NOTE_API_DOWN)
    ranked = rank_missions(list(found.values()), skill_id, place, is_minor)
    if not ranked:
        return MissionResult(offline_missions(skill_id, is_minor, n, catalogue), "offline", NOTE_EMPTY)
    chosen = ranked[:n]
    if len(chosen) < n:
        extra = offline_missions(skill_id, is_minor, n - len(chosen), catalogue)
        return MissionResult(chosen + extra, "api", NOTE_TOPPED_UP.format(n=len(chosen)))
    return MissionResult(chosen, "api", None)

"""The catalogue of free French learning resources, one YAML file per skill.

``data/catalogue/resources/<skill_id>.yml`` lists resources (MOOC, vidéo, article,
exercice, podcast) for one skill of the référentiel. Everything is validated at
load time (``load_catalogue``): a problem stops with the list of every problem,
in French, with the file and the resource id, as ``bot.referentiel`` does.

``python -m bot.progress.catalogue`` validates and prints a per-skill summary;
``--check-links`` also checks every URL over the network (HEAD, then GET).
"""
from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from bot.config import ROOT
from bot.referentiel import Referentiel, _read_yaml, default_referentiel

DEFAULT_PATH = ROOT / "data" / "catalogue"
KINDS: Tuple[str, ...] = ("mooc", "video", "article", "exercice", "podcast")
LEVELS: Tuple[str, ...] = ("debutant", "intermediaire", "avance")
LANGUAGES: Tuple[str, ...] = ("fr",)
MIN_RESOURCES, MIN_KINDS = 5, 3
MAX_PITCH, MAX_TITLE, MAX_PROVIDER = 140, 120, 80
_ID = re.compile(r"^[a-z][a-z0-9_]{2,80}$")
_REQUIRED = {"id", "title", "kind", "duration_minutes", "level", "provider", "url", "language", "pitch", "free"}
_OPTIONAL = {"items"}
_FILE_KEYS = {"skill", "resources"}


class CatalogueError(ValueError):
    """The catalogue data is invalid; ``problems`` lists every issue found."""

    def __init__(self, problems: List[str]) -> None:
        self.problems = problems
        super().__init__("Catalogue de ressources invalide :\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Resource:
    id: str
    skill_id: str
    title: str
    kind: str
    duration_minutes: int
    level: str
    provider: str
    url: str
    language: str
    pitch: str
    items: Tuple[str, ...] = ()
    free: bool = True


@dataclass(frozen=True)
class Catalogue:
    resources: Mapping[str, Resource] = field(default_factory=dict)
    # référentiel item id -> the person's phrasing ("Je relis …"), used in reasons
    item_labels: Mapping[str, str] = field(default_factory=dict)

    def for_skill(self, skill_id: str) -> Tuple[Resource, ...]:
        return tuple(r for r in self.resources.values() if r.skill_id == skill_id)

    def get(self, resource_id: str) -> Optional[Resource]:
        return self.resources.get(resource_id)

    @property
    def skill_ids(self) -> List[str]:
        return sorted({r.skill_id for r in self.resources.values()})


def valid_url(url: Any) -> bool:
    """An absolute https URL with a host name and no spaces."""
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = parts.hostname or ""
    return parts.scheme == "https" and "." in host and not host.startswith(".") and not host.endswith(".")


def _text(data: Mapping[str, Any], key: str, where: str, problems: List[str], max_len: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: '{key}' doit être un texte non vide")
        return ""
    if len(value.strip()) > max_len:
        problems.append(f"{where}: '{key}' dépasse {max_len} caractères ({len(value.strip())})")
    return value.strip()


def _parse_resource(
    raw: Any, index: int, fname: str, skill_id: str, skill_items: Optional[set], problems: List[str]
) -> Optional[Resource]:
    if not isinstance(raw, dict):
        problems.append(f"{fname}: ressource n°{index} : doit être un dictionnaire")
        return None
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        problems.append(f"{fname}: ressource n°{index} : 'id' doit être en minuscules sans accent (a-z, 0-9, _)")
        return None
    where = f"{fname}: ressource '{rid}'"
    unknown = set(raw) - _REQUIRED - _OPTIONAL
    missing = _REQUIRED - set(raw)
    if unknown:
        problems.append(f"{where}: clés inconnues {sorted(unknown)}")
    if missing:
        problems.append(f"{where}: clés manquantes {sorted(missing)}")
    kind = raw.get("kind")
    if "kind" in raw and kind not in KINDS:
        problems.append(f"{where}: type inconnu '{kind}' (attendu : {', '.join(KINDS)})")
    level = raw.get("level")
    if "level" in raw and level not in LEVELS:
        problems.append(f"{where}: niveau inconnu '{level}' (attendu : {', '.join(LEVELS)})")
    language = raw.get("language")
    if "language" in raw and language not in LANGUAGES:
        problems.append(f"{where}: langue non prise en charge '{language}' (attendu : {', '.join(LANGUAGES)})")
    duration = raw.get("duration_minutes")
    if "duration_minutes" in raw and (isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0):
        problems.append(f"{where}: 'duration_minutes' doit être un nombre entier de minutes supérieur à 0 ({duration!r})")
        duration = 0
    url = raw.get("url")
    if "url" in raw and not valid_url(url):
        problems.append(f"{where}: 'url' doit être une adresse https complète et valide ({url!r})")
    if "free" in raw and raw.get("free") is not True:
        problems.append(f"{where}: 'free' doit valoir true (uniquement des ressources gratuites)")
    title = _text(raw, "title", where, problems, MAX_TITLE) if "title" in raw else ""
    provider = _text(raw, "provider", where, problems, MAX_PROVIDER) if "provider" in raw else ""
    pitch = _text(raw, "pitch", where, problems, MAX_PITCH) if "pitch" in raw else ""
    items: Tuple[str, ...] = ()
    if "items" in raw:
        raw_items = raw.get("items")
        if not isinstance(raw_items, list) or not all(isinstance(i, str) for i in raw_items):
            problems.append(f"{where}: 'items' doit être une liste d'identifiants de questions (ex. {skill_id}_1)")
        else:
            items = tuple(raw_items)
            if len(set(items)) != len(items):
                problems.append(f"{where}: 'items' contient des doublons")
            if skill_items is not None:
                foreign = [i for i in items if i not in skill_items]
                if foreign:
                    problems.append(f"{where}: questions qui n'appartiennent pas à '{skill_id}' : {', '.join(foreign)}")
    return Resource(
        id=rid, skill_id=skill_id, title=title, kind=str(kind), duration_minutes=int(duration or 0),
        level=str(level), provider=provider, url=str(url), language=str(language), pitch=pitch,
        items=items, free=raw.get("free") is True,
    )


def load_catalogue(path: Path | str = DEFAULT_PATH, referentiel: Optional[Referentiel] = None) -> Catalogue:
    """Load and validate ``<path>/resources/*.yml``; raises ``CatalogueError`` listing every problem."""
    ref = referentiel if referentiel is not None else default_referentiel()
    root = Path(path) / "resources"
    problems: List[str] = []
    resources: Dict[str, Resource] = {}
    first_file: Dict[str, str] = {}
    files = sorted(root.glob("*.yml")) if root.is_dir() else []
    if not files:
        problems.append(f"{root}: aucun fichier de ressources (un fichier <compétence>.yml par compétence)")
    seen_skills = set()
    for file in files:
        fname = file.name
        seen_skills.add(file.stem)
        data = _read_yaml(file, problems)
        if data is None and file.stat().st_size == 0:
            problems.append(f"{fname}: fichier vide")
            continue
        if not isinstance(data, dict):
            if data is not None:
                problems.append(f"{fname}: le fichier doit contenir un dictionnaire (skill, resources)")
            continue
        unknown = set(data) - _FILE_KEYS
        if unknown:
            problems.append(f"{fname}: clés inconnues {sorted(unknown)}")
        skill_id = data.get("skill", file.stem)
        if skill_id != file.stem:
            problems.append(f"{fname}: 'skill' ({skill_id}) doit être le nom du fichier ({file.stem})")
            skill_id = file.stem
        skill = ref.get(skill_id)
        if skill is None:
            problems.append(f"{fname}: compétence inconnue '{skill_id}' (absente du référentiel)")
        seen_skills.add(skill_id)
        skill_items = {i.id for i in skill.items} if skill is not None else None
        raw_resources = data.get("resources")
        if not isinstance(raw_resources, list):
            problems.append(f"{fname}: 'resources' doit être une liste de ressources")
            raw_resources = []
        mine: List[Resource] = []
        for index, raw in enumerate(raw_resources, 1):
            resource = _parse_resource(raw, index, fname, skill_id, skill_items, problems)
            if resource is None:
                continue
            if resource.id in resources:
                problems.append(f"{fname}: ressource '{resource.id}' en double (déjà dans {first_file[resource.id]})")
                continue
            resources[resource.id] = resource
            first_file[resource.id] = fname
            mine.append(resource)
        if len(mine) < MIN_RESOURCES:
            problems.append(f"{fname}: au moins {MIN_RESOURCES} ressources par compétence ({len(mine)})")
        kinds = {r.kind for r in mine if r.kind in KINDS}
        if len(kinds) < MIN_KINDS:
            problems.append(
                f"{fname}: au moins {MIN_KINDS} types de ressources différents par compétence "
                f"({len(kinds)} : {', '.join(sorted(kinds)) or 'aucun'})"
            )
    for skill_id in ref.ids:
        if skill_id not in seen_skills:
            problems.append(f"{skill_id}.yml manquant : la compétence '{skill_id}' du référentiel n'a aucune ressource")
    if problems:
        raise CatalogueError(problems)
    labels = {item.id: item.self_text for skill in ref.skills.values() for item in skill.items}
    return Catalogue(resources=resources, item_labels=labels)


@lru_cache(maxsize=4)
def default_catalogue(path: str = str(DEFAULT_PATH)) -> Catalogue:
    """Cached catalogue for the running services (loaded once per process)."""
    return load_catalogue(path)


def summary(catalogue: Catalogue) -> str:
    lines = []
    for skill_id in catalogue.skill_ids:
        res = catalogue.for_skill(skill_id)
        counts = Counter(r.kind for r in res)
        detail = ", ".join(f"{k} {counts[k]}" for k in KINDS if counts[k])
        lines.append(f"{skill_id:<22} {len(res):>2} ressources ({detail})")
    lines.append(f"Total : {len(catalogue.resources)} ressources, {len(catalogue.skill_ids)} compétences")
    return "\n".join(lines)


async def check_links(
    resources: Sequence[Resource], timeout: float = 15.0, concurrency: int = 8
) -> List[Tuple[Resource, Optional[int], str]]:
    """Fetch every URL (HEAD, then GET if HEAD is refused); returns (resource, status, note).

    Network only: never called by the tests or at load time.
    """
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    headers = {"User-Agent": "Atouts-catalogue-check/1.0 (+https://github.com)", "Accept-Language": "fr"}

    async def one(session: "aiohttp.ClientSession", res: Resource) -> Tuple[Resource, Optional[int], str]:
        async with sem:
            try:
                async with session.head(res.url, allow_redirects=True) as resp:
                    status = resp.status
                if status >= 400:  # some sites refuse HEAD: try GET
                    async with session.get(res.url, allow_redirects=True) as resp:
                        status = resp.status
                return res, status, "ok" if status < 400 else "erreur HTTP"
            except asyncio.TimeoutError:
                return res, None, f"délai dépassé ({timeout:.0f} s)"
            except aiohttp.ClientError as exc:
                return res, None, f"{exc.__class__.__name__}: {exc}"

    async with aiohttp.ClientSession(timeout=client_timeout, headers=headers) as session:
        return list(await asyncio.gather(*(one(session, r) for r in resources)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Valide le catalogue de ressources (data/catalogue).")
    parser.add_argument("--path", default=str(DEFAULT_PATH), help="dossier du catalogue")
    parser.add_argument("--check-links", action="store_true", help="vérifie aussi chaque adresse (réseau)")
    parser.add_argument("--timeout", type=float, default=15.0, help="délai par adresse, en secondes")
    args = parser.parse_args(argv)
    try:
        catalogue = load_catalogue(args.path)
    except CatalogueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(summary(catalogue))
    if not args.check_links:
        return 0
    results = asyncio.run(check_links(list(catalogue.resources.values()), timeout=args.timeout))
    broken = [(r, s, n) for r, s, n in results if s is None or s >= 400]
    for res, status, note in sorted(broken, key=lambda x: x[0].id):
        print(f"ÉCHEC {res.id}: {res.url} -> {status or '-'} ({note})")
    print(f"Adresses vérifiées : {len(results)}, en échec : {len(broken)}")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())

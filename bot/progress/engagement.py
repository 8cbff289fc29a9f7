"""Async client for the national engagement API ("API Engagement", beta.gouv.fr).

The API behind JeVeuxAider.gouv.fr and its partners pools volunteering missions
(bénévolat, Service Civique…) from many platforms. We only *read* missions:
``GET /v0/mission``.

What was checked, and where (2025 documentation):

* ``betagouv/api-engagement``, file ``api/docs/openapi.yaml`` (the OpenAPI spec the
  public docs at https://doc.api-engagement.beta.gouv.fr are built from):
  - servers: production ``https://api.api-engagement.beta.gouv.fr`` (our default),
    sandbox ``https://api.bac-a-sable.api-engagement.beta.gouv.fr``;
  - every endpoint needs the key in the ``x-api-key`` header (also on the doc page
    "Authentification": a missing/invalid key gives ``401`` with
    ``{"ok": false, "code": "UNAUTHORIZED", "message": "Unauthorized"}``);
  - ``GET /v0/mission`` query parameters: ``limit`` (default 25, max 10 000),
    ``skip`` (offset), ``keywords`` (full-text on title, description, organisation),
    ``domain``, ``activity``, ``type``, ``remote`` (``no``/``possible``/``full``),
    ``lat`` + ``lon`` + ``distance`` (a string such as ``"25km"``, default 50 km),
    ``city``, ``departmentName`` (a *name*, e.g. ``Rhône``), ``country``,
    ``openToMinors`` (``true/false/yes/no/1/0``: "missions open to minors only"),
    ``startAt`` (``>2024-01-01``) …; multi-valued filters repeat the parameter
    (``?remote=possible&remote=full``);
  - ``200`` body: ``{"ok": true, "total": N, "limit": L, "skip": S, "data": [...]}``,
    items in the legacy v0 format: ``_id`` (alias of ``id``), ``title``,
    ``description`` (may be HTML), ``applicationUrl``, ``organizationName``,
    ``publisherName``, ``domain``, ``softSkills`` (free text — "ne repose pas sur un
    référentiel"), ``remote`` (``no``/``possible``/``full``/null), ``openToMinors``
    (``"yes"``/``"no"``/null in v0; booleans only in v2), ``startAt``, ``endAt``,
    ``places``, ``location`` (``lat``/``lon``) and ``addresses`` (``postalCode``,
    ``city``, ``departmentCode``…);
  - errors: ``{"ok": false, "code": ..., "message": ...}``; ``429`` carries
    ``Retry-After`` (seconds) and ``X-RateLimit-*`` headers.
* doc page "Modèle de données" (doc.api-engagement.beta.gouv.fr): flat ``city``,
  ``postalCode``, ``departmentCode``, ``departmentName`` and ``location`` fields.

Where the documentation is silent we parse defensively and say so here:

* There is **no postcode filter** on ``/v0/mission``: a postcode or department code
  is sent as ``departmentName`` (looked up in ``DEPARTMENTS``); unknown codes send
  no place filter at all (ranking by postcode happens afterwards, in
  ``bot.progress.missions``).
* Whether several ``keywords`` words are AND-ed or OR-ed is not documented: callers
  should send one short expression.
* Location fields are read flat first, then from ``addresses[0]`` (``postalCode`` or
  ``zip``, ``departmentCode`` or ``department``). ``openToMinors`` accepts
  ``yes/no``, ``true/false`` and booleans; anything else is "unknown" (``None``).
* A mission without a title, an id or an ``http(s)`` application link is skipped
  (the bot must always give a link to apply); non-object items are skipped too.
* ``Retry-After`` is honoured when it is at most 10 s; a longer wait makes us give
  up at once (the person is waiting in the chat: the offline catalogue is better).

Secrets: the key travels in the ``x-api-key`` header only. It is never put in a URL,
a log line, an exception message or ``repr()``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from datetime import date
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.api-engagement.beta.gouv.fr"
SEARCH_PATH = "/v0/mission"
MAX_RETRY_AFTER_S = 10.0
API_MAX_LIMIT = 10_000  # documented maximum of ``limit``
_CACHE_MAX_ENTRIES = 256

# Department code -> name, as the API's ``departmentName`` filter expects it.
DEPARTMENTS: Dict[str, str] = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes", "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes",
    "09": "Ariège", "10": "Aube", "11": "Aude", "12": "Aveyron", "13": "Bouches-du-Rhône",
    "14": "Calvados", "15": "Cantal", "16": "Charente", "17": "Charente-Maritime",
    "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne",
    "25": "Doubs", "26": "Drôme", "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère",
    "30": "Gard", "31": "Haute-Garonne", "32": "Gers", "33": "Gironde", "34": "Hérault",
    "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire", "38": "Isère",
    "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire",
    "44": "Loire-Atlantique", "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne",
    "48": "Lozère", "49": "Maine-et-Loire", "50": "Manche", "51": "Marne",
    "52": "Haute-Marne", "53": "Mayenne", "54": "Meurthe-et-Moselle", "55": "Meuse",
    "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord", "60": "Oise",
    "61": "Orne", "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées", "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin",
    "69": "Rhône", "70": "Haute-Saône", "71": "Saône-et-Loire", "72": "Sarthe",
    "73": "Savoie", "74": "Haute-Savoie", "75": "Paris", "76": "Seine-Maritime",
    "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres", "80": "Somme",
    "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée",
    "86": "Vienne", "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne",
    "90": "Territoire de Belfort", "91": "Essonne", "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion",
    "976": "Mayotte",
}


class EngagementError(RuntimeError):
    """The API could not answer usefully; ``reason`` is short and never holds the key."""

    def __init__(self, reason: str, *, status: Optional[int] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class MissionQuery:
    """What we look for. ``None`` means "no filter"."""

    keywords: Tuple[str, ...] = ()
    domain: Optional[str] = None
    postcode: Optional[str] = None
    department: Optional[str] = None
    city: Optional[str] = None
    lat: Optional[float] = None
    lon: Optional[float] = None
    distance_km: int = 20
    remote: Optional[bool] = None  # True: possible or full remote; False: on site only
    open_to_minors: Optional[bool] = None  # True: only missions open to minors
    starts_after: Optional[date] = None  # only missions starting after this day

    def department_code(self) -> Optional[str]:
        if self.department:
            return self.department.upper()
        if self.postcode:
            return department_from_postcode(self.postcode)
        return None

    def params(self) -> List[Tuple[str, str]]:
        """Query parameters of ``GET /v0/mission`` (without ``limit``/``skip``)."""
        params: List[Tuple[str, str]] = []
        words = " ".join(k.strip() for k in self.keywords if k and k.strip())
        if words:
            params.append(("keywords", words))
        if self.domain:
            params.append(("domain", self.domain))
        if self.lat is not None and self.lon is not None:
            params += [("lat", f"{self.lat:.5f}"), ("lon", f"{self.lon:.5f}"),
                       ("distance", f"{max(1, int(self.distance_km))}km")]
        elif self.city:
            params.append(("city", self.city))
        else:
            name = DEPARTMENTS.get(self.department_code() or "")
            if name:
                params.append(("departmentName", name))
        if self.remote is True:
            params += [("remote", "possible"), ("remote", "full")]
        elif self.remote is False:
            params.append(("remote", "no"))
        if self.open_to_minors:
            params.append(("openToMinors", "yes"))
        if self.starts_after is not None:  # documented form: startAt=>2024-01-01
            params.append(("startAt", f">{self.starts_after.isoformat()}"))
        return params

    def cache_key(self) -> Tuple[Any, ...]:
        """Normalised: case, spaces and keyword order do not change the key."""
        words = tuple(sorted({" ".join(k.lower().split()) for k in self.keywords if k and k.strip()}))
        return (
            words,
            (self.domain or "").lower() or None,
            self.postcode or None,
            self.department_code(),
            " ".join((self.city or "").lower().split()) or None,
            None if self.lat is None else round(self.lat, 3),
            None if self.lon is None else round(self.lon, 3),
            int(self.distance_km),
            self.remote,
            bool(self.open_to_minors),
            self.starts_after,
        )


@dataclass(frozen=True)
class Mission:
    id: str
    title: str
    organization: Optional[str]
    city: Optional[str]
    postcode: Optional[str]
    department: Optional[str]
    remote: bool
    open_to_minors: Optional[bool]
    url: str
    domain: Optional[str]
    soft_skills: Tuple[str, ...]
    start_at: Optional[str]
    source: str  # "api" | "offline"
    pitch: Optional[str] = None
    end_at: Optional[str] = None
    places: Optional[int] = None
    kind: Optional[str] = None  # offline catalogue kind (service_civique, association…)


def department_from_postcode(postcode: str) -> Optional[str]:
    """'75011' -> '75', '20000' -> '2A', '20600' -> '2B', '97411' -> '974'; else None."""
    code = (postcode or "").strip()
    if len(code) != 5 or not code.isdigit():
        return None
    if code.startswith("97"):
        return code[:3] if code[:3] in DEPARTMENTS or code[:3] in {"975", "977", "978"} else None
    if code.startswith("20"):
        return "2A" if int(code) < 20200 else "2B"
    head = code[:2]
    return head if head in DEPARTMENTS else None


# --- parsing ---------------------------------------------------------------------------


def _str(value: Any) -> Optional[str]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _yes_no(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    text = _str(value)
    if text is None:
        return None
    text = text.lower()
    if text in {"yes", "true", "1", "oui"}:
        return True
    if text in {"no", "false", "0", "non"}:
        return False
    return None


def _remote(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return (_str(value) or "").lower() in {"possible", "full", "yes", "true"}


def _url(value: Any) -> Optional[str]:
    text = _str(value)
    if text and text.lower().startswith(("https://", "http://")) and " " not in text:
        return text
    return None


def parse_mission(item: Any) -> Optional[Mission]:
    """One ``data[]`` item -> ``Mission``, or ``None`` when unusable (see module doc)."""
    if not isinstance(item, Mapping):
        return None
    mission_id = _str(item.get("_id")) or _str(item.get("id")) or _str(item.get("clientId"))
    title = _str(item.get("title"))
    url = _url(item.get("applicationUrl"))
    if not (mission_id and title and url):
        return None
    addresses = item.get("addresses")
    first: Mapping[str, Any] = {}
    if isinstance(addresses, list) and addresses and isinstance(addresses[0], Mapping):
        first = addresses[0]
    postcode = _str(item.get("postalCode")) or _str(first.get("postalCode")) or _str(first.get("zip"))
    department = (_str(item.get("departmentCode")) or _str(first.get("departmentCode"))
                  or _str(first.get("department")))
    if department is None and postcode:
        department = department_from_postcode(postcode)
    skills = item.get("softSkills")
    soft_skills = tuple(s.strip() for s in skills if isinstance(s, str) and s.strip()) if isinstance(skills, list) else ()
    places = item.get("places")
    return Mission(
        id=mission_id,
        title=title[:200],
        organization=_str(item.get("organizationName")) or _str(item.get("publisherName")),
        city=_str(item.get("city")) or _str(first.get("city")),
        postcode=postcode,
        department=department.upper() if department else None,
        remote=_remote(item.get("remote")),
        open_to_minors=_yes_no(item.get("openToMinors")),
        url=url,
        domain=_str(item.get("domain")),
        soft_skills=soft_skills,
        start_at=_str(item.get("startAt")),
        end_at=_str(item.get("endAt")),
        places=places if isinstance(places, int) and not isinstance(places, bool) else None,
        source="api",
    )


# --- client ------------------------------------------------------------------------------


class _Retryable(Exception):
    def __init__(self, reason: str, status: Optional[int] = None, wait: Optional[float] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.wait = wait


def _retry_after(value: Optional[str]) -> Optional[float]:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: not worth parsing, we use our own backoff
    return None if seconds is None or seconds < 0 else seconds


@dataclass
class _CacheEntry:
    expires: float
    missions: Tuple[Mission, ...] = field(default_factory=tuple)


class EngagementClient:
    """``search()`` missions with paging, retries with backoff and a TTL cache."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        *,
        session: Optional[aiohttp.ClientSession] = None,
        timeout_s: float = 8,
        retries: int = 3,
        backoff: Sequence[float] = (0.5, 1, 2),
        cache_ttl_s: float = 600,
        page_size: int = 50,
    ) -> None:
        if not api_key:
            raise ValueError("EngagementClient needs an API key (offline mode: no client)")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key
        self._session = session
        self._owns_session = session is None
        self.timeout_s = timeout_s
        self.retries = max(0, int(retries))
        self.backoff = tuple(backoff) or (0.0,)
        self.cache_ttl_s = cache_ttl_s
        self.page_size = max(1, min(int(page_size), API_MAX_LIMIT))
        self._cache: Dict[Tuple[Any, ...], _CacheEntry] = {}
        self._clock = time.monotonic
        self.http_calls = 0  # requests actually sent (tests, metrics)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Optional["EngagementClient"]:
        """``ATOUTS_ENGAGEMENT_API_URL`` / ``ATOUTS_ENGAGEMENT_API_KEY``; no key -> ``None``
        (offline mode)."""
        key = os.environ.get("ATOUTS_ENGAGEMENT_API_KEY", "").strip()
        if not key:
            return None
        url = os.environ.get("ATOUTS_ENGAGEMENT_API_URL", "").strip() or DEFAULT_BASE_URL
        return cls(url, key, **kwargs)

    def __repr__(self) -> str:  # never the key
        return f"EngagementClient({self.base_url!r}, api_key=***)"

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None if self._owns_session else self._session

    async def __aenter__(self) -> "EngagementClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def clear_cache(self) -> None:
        self._cache.clear()

    async def search(self, query: MissionQuery, limit: int = 30) -> List[Mission]:
        """Up to ``limit`` missions, following ``skip``/``limit`` paging to the end."""
        limit = max(0, int(limit))
        key = (query.cache_key(), limit)
        now = self._clock()
        entry = self._cache.get(key)
        if entry is not None and entry.expires > now:
            log.debug("API Engagement: cache hit (%d missions)", len(entry.missions))
            return list(entry.missions)
        missions: List[Mission] = []
        seen: set = set()
        skip = 0
        base_params = query.params()
        while len(missions) < limit:
            size = min(self.page_size, limit - len(missions))
            body = await self._get_page(base_params + [("limit", str(size)), ("skip", str(skip))])
            items = body["data"]
            for item in items:
                mission = parse_mission(item)
                if mission is None:
                    log.debug("API Engagement: unusable mission skipped")
                    continue
                if mission.id not in seen:
                    seen.add(mission.id)
                    missions.append(mission)
            skip += len(items)
            total = body.get("total")
            if len(items) < size or (isinstance(total, int) and skip >= total):
                break
        missions = missions[:limit]
        if self.cache_ttl_s > 0:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if v.expires > now}
                while len(self._cache) >= _CACHE_MAX_ENTRIES:
                    self._cache.pop(next(iter(self._cache)))
            self._cache[key] = _CacheEntry(now + self.cache_ttl_s, tuple(missions))
        return missions

    # --- HTTP -----------------------------------------------------------------------------

    def _session_for_call(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise EngagementError("session HTTP fermée")
            self._session = aiohttp.ClientSession()
        return self._session

    async def _get_page(self, params: List[Tuple[str, str]]) -> Dict[str, Any]:
        attempt = 0
        while True:
            try:
                return await self._get_once(params)
            except _Retryable as exc:
                if attempt >= self.retries:
                    log.warning("API Engagement: abandon après %d essais (%s)", attempt + 1, exc.reason)
                    raise EngagementError(exc.reason, status=exc.status) from None
                if exc.wait is not None and exc.wait > MAX_RETRY_AFTER_S:
                    log.warning("API Engagement: Retry-After trop long (%.0f s), abandon", exc.wait)
                    raise EngagementError(f"{exc.reason}, réessayer dans {exc.wait:.0f} s",
                                          status=exc.status) from None
                delay = exc.wait if exc.wait is not None else self.backoff[min(attempt, len(self.backoff) - 1)]
                log.info("API Engagement: %s, nouvel essai dans %.1f s", exc.reason, delay)
                attempt += 1
                await asyncio.sleep(delay)

    async def _get_once(self, params: List[Tuple[str, str]]) -> Dict[str, Any]:
        session = self._session_for_call()
        url = self.base_url + SEARCH_PATH
        headers = {"x-api-key": self._api_key, "Accept": "application/json"}
        self.http_calls += 1
        try:
            async with session.get(url, params=params, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as resp:
                status = resp.status
                log.debug("API Engagement: GET %s -> %d", SEARCH_PATH, status)
                if status == 429:
                    raise _Retryable("trop de requêtes (429)", 429, _retry_after(resp.headers.get("Retry-After")))
                if status >= 500:
                    raise _Retryable(f"serveur indisponible ({status})", status)
                if status == 401 or status == 403:
                    raise EngagementError(f"clé API refusée ({status})", status=status)
                if status >= 400:
                    raise EngagementError(f"requête refusée ({status})", status=status)
                raw = await resp.read()
        except asyncio.TimeoutError:
            raise _Retryable("délai dépassé") from None
        except aiohttp.ClientError as exc:
            raise _Retryable(f"connexion impossible ({exc.__class__.__name__})") from None
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise EngagementError("réponse illisible (JSON invalide)", status=status) from None
        if not isinstance(body, dict):
            raise EngagementError("réponse inattendue (pas un objet JSON)", status=status)
        if body.get("ok") is False:
            code = _str(body.get("code")) or "erreur"
            raise EngagementError(f"réponse en erreur ({code[:40]})", status=status)
        if not isinstance(body.get("data"), list):
            raise EngagementError("réponse inattendue (pas de liste 'data')", status=status)
        return body


_SHARED: Dict[Tuple[str, str], EngagementClient] = {}


def shared_client(base_url: Optional[str], api_key: str, **kwargs: Any) -> Optional[EngagementClient]:
    """One client per (URL, key) for the process, so the TTL cache outlives one chat
    turn; ``None`` without a key (offline mode). ``close()`` after each use is fine:
    the HTTP session is reopened on the next search, the cache is kept."""
    if not api_key:
        return None
    url = (base_url or DEFAULT_BASE_URL).rstrip("/")
    client = _SHARED.get((url, api_key))
    if client is None:
        client = _SHARED[(url, api_key)] = EngagementClient(url, api_key, **kwargs)
    return client

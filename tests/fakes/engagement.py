"""A local fake of the API Engagement ``GET /v0/mission`` (api.api-engagement.beta.gouv.fr).

Serves the documented shape (``betagouv/api-engagement`` ``api/docs/openapi.yaml``):
``{"ok": true, "total": N, "limit": L, "skip": S, "data": [...]}`` with legacy v0
missions (``_id``, ``title``, ``organizationName``, ``city``, ``postalCode``,
``departmentCode``, ``departmentName``, ``remote`` no/possible/full, ``openToMinors``
"yes"/"no", ``applicationUrl``, ``softSkills``…), and errors as
``{"ok": false, "code": ..., "message": ...}`` (401 without the right ``x-api-key``,
400 on a bad ``limit``/``skip``).

Filters: ``keywords`` (every word, accent-insensitive, in title/description/
organisation/softSkills), ``domain``, ``city``, ``departmentName``, ``remote``
(repeatable), ``openToMinors``, ``lat``/``lon``/``distance``; paging with
``skip``/``limit``. Every request is recorded; failures are scripted one request at a
time with ``fail()``: ``status`` (429 + Retry-After, 500, 503, 401…), ``slow``
(answers after a delay), ``malformed`` (invalid JSON), ``shape`` (JSON without
``data``), ``empty`` (no missions). Runs in a background thread on a free
127.0.0.1 port: ``with FakeEngagementApi(missions) as api:`` or the
``engagement_api`` fixture.
"""
from __future__ import annotations

import asyncio
import math
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

import pytest
from aiohttp import web

API_KEY = "test-engagement-key-5f2b9c41d0e8a7"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def make_mission(n: int, **overrides: Any) -> Dict[str, Any]:
    """A mission as ``GET /v0/mission`` returns it (legacy v0 format)."""
    mission: Dict[str, Any] = {
        "_id": f"64a1b2c3d4e5f6789abc{n:04d}",
        "id": f"64a1b2c3d4e5f6789abc{n:04d}",
        "clientId": f"mission-{n}",
        "title": f"Mission solidaire n°{n}",
        "description": "<p>Accueillir et orienter les personnes.</p>",
        "organizationName": "Association de quartier",
        "publisherName": "JeVeuxAider.gouv.fr",
        "applicationUrl": f"https://www.jeveuxaider.gouv.fr/missions-benevolat/{n}",
        "domain": "solidarite-insertion",
        "activity": "accueil-de-public",
        "softSkills": [],
        "remote": "no",
        "openToMinors": "no",
        "city": "Paris",
        "postalCode": "75011",
        "departmentCode": "75",
        "departmentName": "Paris",
        "region": "Île-de-France",
        "location": {"lat": 48.8589, "lon": 2.3800},
        "startAt": "2025-01-06T00:00:00.000Z",
        "endAt": None,
        "places": 3,
        "type": "benevolat",
    }
    mission.update(overrides)
    return mission


@dataclass
class Request:
    path: str
    params: List[tuple]
    headers: Dict[str, str]
    status: int = 200
    at: float = field(default_factory=time.monotonic)

    def get(self, name: str) -> Optional[str]:
        for k, v in self.params:
            if k == name:
                return v
        return None

    def getall(self, name: str) -> List[str]:
        return [v for k, v in self.params if k == name]


@dataclass
class Failure:
    kind: str  # status | slow | malformed | shape | empty
    status: int = 500
    retry_after: Optional[str] = None
    delay: float = 0.0


class FakeEngagementApi:
    def __init__(self, missions: Optional[List[Dict[str, Any]]] = None, api_key: str = API_KEY) -> None:
        self.missions: List[Dict[str, Any]] = list(missions or [])
        self.api_key = api_key
        self.requests: List[Request] = []
        self._failures: List[Failure] = []
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> "FakeEngagementApi":
        ready = threading.Event()
        errors: List[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-engagement", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/v0/mission", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> "FakeEngagementApi":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use ---------------------------------------------------------------------

    def fail(self, *failures: Failure) -> None:
        """Script the next requests (one failure each, in order)."""
        with self._lock:
            self._failures.extend(failures)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._failures.clear()

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    # --- the API ------------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None) -> web.Response:
        return web.json_response({"ok": False, "code": code, "message": message}, status=status, headers=headers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = Request(request.path, list(request.query.items()), dict(request.headers))
        with self._lock:
            self.requests.append(rec)
            failure = self._failures.pop(0) if self._failures else None
        if request.headers.get("x-api-key") != self.api_key:
            rec.status = 401
            return self._error(401, "UNAUTHORIZED", "Unauthorized")
        if failure is not None:
            if failure.kind == "slow":
                await asyncio.sleep(failure.delay)
            elif failure.kind == "status":
                rec.status = failure.status
                headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else None
                codes = {429: "TOO_MANY_REQUESTS", 400: "INVALID_QUERY", 401: "UNAUTHORIZED", 404: "NOT_FOUND"}
                return self._error(failure.status, codes.get(failure.status, "SERVER_ERROR"), "Scripted failure", headers)
            elif failure.kind == "malformed":
                return web.Response(text='{"ok": true, "data": [', content_type="application/json")
            elif failure.kind == "shape":
                return web.json_response({"ok": True, "missions": []})
        try:
            limit = int(request.query.get("limit", "25"))
            skip = int(request.query.get("skip", "0"))
            if not (0 <= limit <= 10_000 and skip >= 0):
                raise ValueError
        except ValueError:
            rec.status = 400
            return self._error(400, "INVALID_QUERY", "Invalid query parameters")
        found = [] if failure is not None and failure.kind == "empty" else self._filter(request)
        page = found[skip:skip + limit]
        return web.json_response({"ok": True, "total": len(found), "limit": limit, "skip": skip, "data": page})

    def _filter(self, request: web.Request) -> List[Dict[str, Any]]:
        q = request.query
        out = []
        words = _fold(q.get("keywords", "")).split()
        remote = q.getall("remote", [])
        for m in self.missions:
            haystack = _fold(" ".join([m.get("title") or "", m.get("description") or "",
                                       m.get("organizationName") or "", " ".join(m.get("softSkills") or [])]))
            if words and not all(w in haystack for w in words):
                continue
            if "domain" in q and m.get("domain") not in q.getall("domain"):
                continue
            if "city" in q and _fold(m.get("city") or "") not in {_fold(c) for c in q.getall("city")}:
                continue
            if "departmentName" in q and m.get("departmentName") not in q.getall("departmentName"):
                continue
            if remote and (m.get("remote") or "no") not in remote:
                continue
            if q.get("openToMinors", "").lower() in {"true", "yes", "1"} and m.get("openToMinors") != "yes":
                continue
            if "lat" in q and "lon" in q:
                loc = m.get("location") or {}
                if "lat" not in loc:
                    continue
                km = float((q.get("distance") or "50km").lower().rstrip("km") or 50)
                if _haversine(float(q["lat"]), float(q["lon"]), loc["lat"], loc["lon"]) > km:
                    continue
            out.append(m)
        return out


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


@pytest.fixture
def engagement_api() -> Iterator[FakeEngagementApi]:
    with FakeEngagementApi() as api:
        yield api


def lyon_missions() -> List[Dict[str, Any]]:
    """Three missions per skill around Lyon (69), each naming the skill in its
    ``softSkills`` and its search keyword in its description, open to minors."""
    from bot.progress.missions import SKILL_SEARCH

    missions: List[Dict[str, Any]] = []
    for n, (skill_id, search) in enumerate(sorted(SKILL_SEARCH.items())):
        for k in range(3):
            number = 100 + 10 * n + k
            missions.append(make_mission(
                number, title=f"Mission {search.label.lower()} n°{k + 1}",
                description=f"<p>Une mission pour ton {search.keyword}.</p>",
                organizationName=f"Association lyonnaise {k + 1}", softSkills=[search.label],
                city="Lyon", postalCode=f"6900{k + 1}", departmentCode="69", departmentName="Rhône",
                location={"lat": 45.76, "lon": 4.84}, openToMinors="yes",
                applicationUrl=f"https://www.jeveuxaider.gouv.fr/missions-benevolat/{number}",
            ))
    return missions


@pytest.fixture(scope="session")
def fake_engagement() -> Iterator[FakeEngagementApi]:
    """Session-wide fake for the e2e stack; ``.env`` points the action server at it."""
    with FakeEngagementApi(lyon_missions()) as api:
        api.env = {"ATOUTS_ENGAGEMENT_API_KEY": API_KEY, "ATOUTS_ENGAGEMENT_API_URL": api.url}
        yield api

"""The partner page over real HTTP: aiohttp test server, a real Store on a temporary
SQLite file. pytest-asyncio is not used: each test runs its coroutine with asyncio.run.
"""
from __future__ import annotations

import asyncio
import contextlib
import csv
import html
import io
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Optional

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.referentiel import default_referentiel
from bot.storage import Store
from bot.web.__main__ import AccessLogger
from bot.web.app import create_app
from bot.web.partners import PARTNER_LIMITER_KEY
from bot.web.referent import RateLimiter
from tests.unit.test_partners import young
from tests.unit.test_referent_page import make_settings

Scenario = Callable[[TestClient], Awaitable[Any]]
SMALL_SKILLS = ["perseverance", "prise_de_recul"]  # used by the small group only
BIG_SKILLS = ["organisation", "rigueur"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'a.db'}")
    s.migrate()
    yield s
    s.close()


def run(store: Any, tmp_path: Path, scenario: Scenario, *, limiter: Optional[RateLimiter] = None) -> Any:
    async def main() -> Any:
        async with contextlib.AsyncExitStack() as stack:
            app = create_app(make_settings(tmp_path), store)
            if limiter is not None:
                app[PARTNER_LIMITER_KEY] = limiter
            server = TestServer(app)  # logging requests as in production
            await server.start_server(access_log_class=AccessLogger,
                                      access_log=logging.getLogger("test.access"))
            client = await stack.enter_async_context(TestClient(server))
            return await scenario(client)

    return asyncio.run(main())


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(parser.parts)


def label(skill_id: str) -> str:
    return default_referentiel().get(skill_id).label  # type: ignore[union-attr]


def small_group(store: Store, size: int = 4) -> str:
    """`size` members, 3 experiences each (perseverance + prise_de_recul confirmed),
    a completed self-assessment, a referent answer and 2 badges each."""
    code, token = store.create_group("Petite asso")
    for i in range(size):
        sender = f"petit-{i}-sender"
        young(store, sender, [SMALL_SKILLS] * 3, assessed=True, referent=True, badges=2)
        store.join_group(sender, code)
    return token


def big_group(store: Store) -> str:
    """6 members: 7 experiences, 9 confirmed claims (organisation 6, rigueur 3), 2
    self-assessments, 1 referent answer, 3 badges; plus an outsider."""
    code, token = store.create_group("Mission locale <Lyon>")
    plan: list[dict[str, Any]] = [
        {"experiences": [BIG_SKILLS, ["organisation"]], "assessed": True, "referent": True, "badges": 2},
        {"experiences": [BIG_SKILLS], "assessed": True},
        {"experiences": [["organisation"]], "badges": 1},
        {"experiences": [BIG_SKILLS, ["organisation"]]},
        {"experiences": [[]]},  # an experience with no skill confirmed
        {},
    ]
    for i, activity in enumerate(plan):
        sender = f"grand-{i}-sender"
        young(store, sender, **activity)
        store.join_group(sender, code)
    young(store, "dehors-sender", [["communication"]] * 11, badges=4)
    return token


def no_personal_data(text: str) -> None:
    assert "sender" not in text and "Prénom" not in text and "Récit" not in text and "preuve" not in text
    assert "Karim" not in text and "Léa" not in text


# --- wrong links ----------------------------------------------------------------------------


def test_wrong_and_malformed_tokens_get_the_french_404(store: Store, tmp_path: Path) -> None:
    real = small_group(store, 6)
    wrong = "A" * 43
    paths = [
        f"/partenaires/{wrong}", f"/partenaires/{wrong}.csv", f"/partenaires/{real[:-1]}",
        f"/partenaires/{real}x", f"/partenaires/{real}.CSV", f"/partenaires/{real}.json",
        f"/partenaires/{real}/", f"/partenaires/{real}.csv.csv", "/partenaires/", "/partenaires/.csv",
        "/partenaires/court", "/partenaires/" + "a" * 300, "/partenaires/%C3%A9" * 20,
        "/partenaires/%00" + "a" * 40, "/partenaires/..%2F..%2Fetc%2Fpasswd", "/partenaires/<script>",
        f"/partenaires/{real[:20]}%20{real[20:]}",
    ]

    async def scenario(client: TestClient) -> None:
        for path in paths:
            resp = await client.get(path)
            page = await resp.text()
            assert resp.status == 404, path
            assert '<html lang="fr">' in page and "Page introuvable" in page, path
            assert resp.headers["Cache-Control"] == "no-store"
            assert "Petite asso" not in page
        resp = await client.get(f"/partenaires/{real}")
        assert resp.status == 200

    run(store, tmp_path, scenario)


def test_no_store_means_404(tmp_path: Path) -> None:
    async def scenario(client: TestClient) -> None:
        resp = await client.get("/partenaires/" + "A" * 43)
        assert resp.status == 404

    run(None, tmp_path, scenario)


# --- a group under 5 ---------------------------------------------------------------------------


def test_group_of_four_shows_no_figure_at_all(store: Store, tmp_path: Path) -> None:
    token = small_group(store, 4)
    # its figures: 4 people, 12 experiences, 24 skills (12 + 12), 4 assessments,
    # 4 referent answers, 8 badges
    figures = ["4", "12", "24", "8"]
    names = [*SMALL_SKILLS, *(label(s) for s in SMALL_SKILLS), *(html.escape(label(s)) for s in SMALL_SKILLS)]

    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/partenaires/{token}")
        page = await resp.text()
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        assert "Moins de 5 personnes" in page
        text = visible_text(page)
        for number in figures:
            assert not re.search(rf"(?<![\w.#-]){number}(?![\w%])", text), number
            assert not re.search(rf"<(strong|td)[^>]*>\s*{number}\b", page)
        for name in names:
            assert name not in page
        assert "Petite asso" not in page  # nothing else than « fewer than 5 »
        no_personal_data(page)

        resp = await client.get(f"/partenaires/{token}.csv")
        body = await resp.text()
        assert resp.status in (200, 403)
        assert resp.headers["Cache-Control"] == "no-store"
        rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
        cells = [cell for row in rows for cell in row]
        assert not any(re.fullmatch(r"\d+", cell) for cell in cells), rows
        for name in names:
            assert name not in body
        assert any("Moins de 5 personnes" in cell for cell in cells)
        no_personal_data(body)

    run(store, tmp_path, scenario)


def test_empty_group_shows_no_figure(store: Store, tmp_path: Path) -> None:
    _, token = store.create_group("Vide")

    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/partenaires/{token}")
        page = await resp.text()
        assert resp.status == 200 and "Moins de 5 personnes" in page
        assert not re.search(r"\b0\b", visible_text(page))

    run(store, tmp_path, scenario)


# --- a group of 6 -------------------------------------------------------------------------------


def test_group_of_six_shows_its_figures(store: Store, tmp_path: Path) -> None:
    token = big_group(store)

    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/partenaires/{token}")
        page = await resp.text()
        assert resp.status == 200, page
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert '<html lang="fr">' in page and 'name="viewport"' in page
        assert "Mission locale &lt;Lyon&gt;" in page and "<Lyon>" not in page
        figures = dict(re.findall(r"<li><strong>(\d+)</strong> ([^<]+)</li>", page))
        assert figures == {
            "6": "Jeunes dans le groupe", "7": "Expériences racontées", "9": "Compétences identifiées",
            "2": "Auto-évaluations terminées", "1": "Réponses de référents reçues",
            "3": "Badges obtenus (non révoqués)",
        }
        skills = re.findall(r'<tr><td>([^<]+)</td><td class="n">(\d+)</td></tr>', page)
        assert [(html.unescape(name), n) for name, n in skills] == [
            (label("organisation"), "6"), (label("rigueur"), "3")]
        assert "anonymes" in page and "moins de 5 personnes" in page
        assert label("communication") not in page  # the outsider's
        assert f'href="{token}.csv"' in page
        no_personal_data(page)

        resp = await client.get(f"/partenaires/{token}.csv")
        body = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert resp.headers["Content-Disposition"].startswith("attachment;")
        assert token not in resp.headers["Content-Disposition"]
        assert resp.headers["Cache-Control"] == "no-store"
        text = body.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text), delimiter=";"))
        assert rows[0] == ["type", "identifiant", "libelle", "valeur"]
        measures = {r[1]: int(r[3]) for r in rows if r[0] == "mesure"}
        assert measures == {"personnes": 6, "experiences_racontees": 7, "competences_identifiees": 9,
                            "autoevaluations_terminees": 2, "reponses_referents": 1, "badges_valides": 3}
        assert [(r[1], r[2], r[3]) for r in rows if r[0] == "competence"] == [
            ("organisation", label("organisation"), "6"), ("rigueur", label("rigueur"), "3")]
        assert all(len(r) == 4 for r in rows)
        no_personal_data(text)

    run(store, tmp_path, scenario)


def test_rate_limited_per_address(store: Store, tmp_path: Path) -> None:
    token = big_group(store)

    async def scenario(client: TestClient) -> None:
        assert (await client.get(f"/partenaires/{token}")).status == 200
        assert (await client.get("/partenaires/" + "B" * 43)).status == 404
        resp = await client.get(f"/partenaires/{token}.csv")
        assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
        assert "6" not in visible_text(await resp.text())

    run(store, tmp_path, scenario, limiter=RateLimiter(get_limit=2))


def test_access_log_hides_the_token(store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = big_group(store)

    async def scenario(client: TestClient) -> None:
        await client.get(f"/partenaires/{token}")
        await client.get(f"/partenaires/{token}.csv")

    with caplog.at_level(logging.INFO):
        run(store, tmp_path, scenario)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "GET /partenaires/… 200" in logged
    assert token not in logged and token[:10] not in logged

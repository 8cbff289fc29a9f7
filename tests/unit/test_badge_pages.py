"""Public badge pages over real HTTP: aiohttp test server, real SQLite Store, real BadgeIssuer.

pytest-asyncio is not used: each test runs its coroutine with asyncio.run.
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openbadgeslib.ob3 import OB3Verifier, OpenBadgeCredential, check_credential_status

from bot.badges import BadgeIssuer, BadgeRequest, IssuedBadge
from bot.badges.baking import extract_png, extract_svg
from bot.badges.keys import find_jwk, public_key_from_jwk, public_pem
from bot.badges.status import bit_is_set
from bot.badges.vc_jwt import decode_unverified
from bot.referentiel import default_referentiel
from bot.storage import Store
from bot.web.__main__ import AccessLogger
from bot.web.app import create_app
from tests.unit.test_web import make_settings

BASE = "https://atouts.example.org"
SENDER = "sender-badge-1"
FIRST_NAME = "Camille"
EMAIL = "camille.martin@example.org"


@pytest.fixture
def issuer(tmp_path: Path) -> BadgeIssuer:
    return BadgeIssuer(BASE, tmp_path / "data")


@pytest.fixture
def store(tmp_path: Path, issuer: BadgeIssuer):
    s = Store(f"sqlite:///{tmp_path / 'atouts.db'}", revoke_status=issuer.revoke)
    s.migrate()
    s.record_consent(SENDER, True, "v1")
    s.set_first_name(SENDER, FIRST_NAME)
    yield s
    s.close()


def award(store: Store, issuer: BadgeIssuer, *, now: datetime | None = None,
          valid_until: datetime | None = None) -> IssuedBadge:
    """What the Challenger step will do: issue, then keep the credential."""
    skill = default_referentiel().get("travail_en_equipe")
    assert skill is not None
    badge = issuer.issue(BadgeRequest(skill=skill, level="confirme", referents=2, subject_ref=SENDER,
                                      email=EMAIL, valid_until=valid_until), now=now)
    issued = datetime.fromisoformat(badge.credential["validFrom"].replace("Z", "+00:00"))
    assert store.save_badge(SENDER, badge.id, skill.id, "confirme", badge.token, badge.status_index,
                            issued, valid_until)
    return badge


def uid(badge: IssuedBadge) -> str:
    return badge.id.removeprefix("urn:uuid:")


def serve(store: Store, issuer: BadgeIssuer, scenario: Callable[[TestClient], Awaitable[None]],
          **server_kwargs: Any) -> None:
    async def main() -> None:
        server = TestServer(create_app(make_settings(public_url=BASE), store, issuer=issuer))
        await server.start_server(**server_kwargs)
        async with TestClient(server) as client:
            await scenario(client)

    asyncio.run(main())


async def page(client: TestClient, path: str, status: int = 200) -> str:
    resp = await client.get(path)
    text = await resp.text()
    assert resp.status == status, text
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    return text


def assert_french_404(text: str) -> None:
    assert '<html lang="fr">' in text and "Page introuvable" in text


def assert_no_personal_data(text: str) -> None:
    for secret in (SENDER, FIRST_NAME.lower(), EMAIL):
        assert secret not in text.lower()


def test_valid_badge_page_lists_the_checks(store: Store, issuer: BadgeIssuer) -> None:
    badge = award(store, issuer, now=datetime(2026, 3, 1, 9, tzinfo=timezone.utc))

    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/badges/{uid(badge)}")
        text = await resp.text()
        assert resp.status == 200 and resp.content_type == "text/html"
        assert resp.headers["Cache-Control"] == "public, max-age=60"
        assert '<html lang="fr">' in text and 'name="viewport"' in text
        assert "Travail en équipe" in text and "confirmé" in text and "1er mars 2026" in text
        assert "Ce badge est valide." in text and 'role="status"' in text
        assert f"clé « {badge.kid} »" in text and "Non révoqué" in text
        assert text.count("<strong>Réussi :</strong>") == 4
        assert f'href="/badges/{uid(badge)}.json"' in text and f"{BASE}/status/1" in text
        assert_no_personal_data(text)

    serve(store, issuer, scenario)


def test_json_twin_verifies_with_openbadgeslib_and_the_published_key(
    store: Store, issuer: BadgeIssuer
) -> None:
    badge = award(store, issuer)

    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/badges/{uid(badge)}.json")
        twin = await resp.json()
        assert resp.headers["Cache-Control"] == "public, max-age=60"
        negotiated = await client.get(f"/badges/{uid(badge)}", headers={"Accept": "application/json"})
        assert (await negotiated.json()) == twin
        assert twin["verification"]["ok"] and twin["verification"]["verdict"] == "valide"
        assert [c["check"] for c in twin["verification"]["checks"]] == [
            "signature", "dates", "format", "status"]
        assert twin["jwt"] == badge.token and twin["credential"] == decode_unverified(badge.token)
        assert twin["url"] == f"{BASE}/badges/{uid(badge)}"
        keys = await (await client.get("/.well-known/jwks.json")).json()
        header = json.loads(base64.urlsafe_b64decode(twin["jwt"].split(".")[0] + "=="))
        jwk = find_jwk(keys, header["kid"])
        assert jwk is not None and "d" not in jwk
        credential = OB3Verifier(public_pem(public_key_from_jwk(jwk))).verify(twin["jwt"])
        assert credential.id == badge.id and credential.issuer.id == f"{BASE}/issuer"
        profile = await (await client.get("/issuer")).json()
        assert profile["id"] == f"{BASE}/issuer" and "Profile" in profile["type"]
        # openbadgeslib's own revocation check, on the signed list we serve
        raw = await (await client.get("/status/1")).read()
        check_credential_status(OpenBadgeCredential.from_jwt_payload(twin["credential"]),
                                download=lambda url: raw, verify_list=True,
                                list_pubkey_pem=public_pem(public_key_from_jwk(jwk)))

    serve(store, issuer, scenario)


def test_revoked_badge(store: Store, issuer: BadgeIssuer) -> None:
    badge = award(store, issuer)
    assert store.revoke_badge(badge.id) is not None

    async def scenario(client: TestClient) -> None:
        text = await page(client, f"/badges/{uid(badge)}")
        assert "Ce badge est révoqué." in text and "<strong>Échec :</strong> Non révoqué" in text
        resp = await client.get("/status/1")
        assert resp.content_type == "application/vc+jwt" and resp.headers["Cache-Control"] == "no-store"
        assert bit_is_set(decode_unverified(await resp.text()), badge.status_index)
        as_json = await (await client.get("/status/1", headers={"Accept": "application/json"})).json()
        assert bit_is_set(as_json, badge.status_index)

    serve(store, issuer, scenario)


def test_expired_badge(store: Store, issuer: BadgeIssuer) -> None:
    badge = award(store, issuer, now=datetime(2020, 1, 1, tzinfo=timezone.utc),
                  valid_until=datetime(2021, 1, 1, tzinfo=timezone.utc))

    async def scenario(client: TestClient) -> None:
        text = await page(client, f"/badges/{uid(badge)}")
        assert "Ce badge est expiré." in text and "1er janvier 2021" in text
        assert "<strong>Échec :</strong> Dates" in text and "<strong>Non vérifié :</strong>" in text
        twin = await (await client.get(f"/badges/{uid(badge)}.json")).json()
        assert twin["verification"]["verdict"] == "expiré" and not twin["verification"]["ok"]

    serve(store, issuer, scenario)


BAD_IDS = [
    "00000000-0000-4000-8000-000000000000",  # well-formed, unknown
    "00000000-0000-4000-8000-000000000000.json",
    "00000000-0000-4000-8000-000000000000/image.png",
    "n'importe%20quoi",
    "%3Cscript%3E",
    "x" * 5000,
    "%C3%A9t%C3%A9-%E2%9C%93",  # non-ASCII
    "urn:uuid:00000000-0000-4000-8000-000000000000",
    "..%2F..%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_unknown_or_malformed_ids_give_the_french_404(store: Store, issuer: BadgeIssuer, bad: str) -> None:
    award(store, issuer)

    async def scenario(client: TestClient) -> None:
        assert_french_404(await page(client, f"/badges/{bad}", 404))

    serve(store, issuer, scenario)


def test_erased_person_badge_is_gone_and_revoked(store: Store, issuer: BadgeIssuer) -> None:
    badge = award(store, issuer)
    exported = store.export_person(SENDER)
    assert [b["jwt"] for b in exported["badges"]] == [badge.token]
    assert exported["badges"][0]["id"] == uid(badge)
    store.erase_person(SENDER)

    async def scenario(client: TestClient) -> None:
        assert_french_404(await page(client, f"/badges/{uid(badge)}", 404))
        assert_french_404(await page(client, f"/badges/{uid(badge)}.json", 404))
        assert_french_404(await page(client, f"/badges/{uid(badge)}/image.png", 404))
        assert bit_is_set(decode_unverified(await page(client, "/status/1")), badge.status_index)

    serve(store, issuer, scenario)
    assert not issuer.verify(badge.token).ok  # a copy kept elsewhere no longer verifies


def test_baked_images(store: Store, issuer: BadgeIssuer) -> None:
    badge = award(store, issuer)

    async def scenario(client: TestClient) -> None:
        png = await client.get(f"/badges/{uid(badge)}/image.png")
        assert png.content_type == "image/png" and extract_png(await png.read()) == badge.token
        svg = await client.get(f"/badges/{uid(badge)}/image.svg")
        assert svg.content_type == "image/svg+xml" and extract_svg(await svg.read()) == badge.token

    serve(store, issuer, scenario)


def test_without_issuer_badge_routes_are_404(store: Store) -> None:
    async def main() -> None:
        async with TestClient(TestServer(create_app(make_settings(), store))) as client:
            for path in ("/.well-known/jwks.json", "/issuer", "/status/1",
                         "/badges/00000000-0000-4000-8000-000000000000"):
                assert_french_404(await page(client, path, 404))

    asyncio.run(main())


def test_access_log_hides_badge_ids(store: Store, issuer: BadgeIssuer,
                                    caplog: pytest.LogCaptureFixture) -> None:
    badge = award(store, issuer)

    async def scenario(client: TestClient) -> None:
        await page(client, f"/badges/{uid(badge)}")

    with caplog.at_level(logging.INFO, logger="test.access"):
        serve(store, issuer, scenario, access_log_class=AccessLogger,
              access_log=logging.getLogger("test.access"))
    lines = [r.getMessage() for r in caplog.records if r.name == "test.access"]
    assert any(line.startswith("GET /badges/… 200") for line in lines)
    assert not any(uid(badge) in line for line in lines)


def test_linkedin_link_redirects_to_the_prefilled_form(store: Store, issuer: BadgeIssuer) -> None:
    from urllib.parse import parse_qs, urlsplit

    badge = award(store, issuer, now=datetime(2026, 3, 1, 9, tzinfo=timezone.utc))

    async def scenario(client: TestClient) -> None:
        text = await page(client, f"/badges/{uid(badge)}")
        assert f'href="/badges/{uid(badge)}/linkedin"' in text
        resp = await client.get(f"/badges/{uid(badge)}/linkedin", allow_redirects=False)
        assert resp.status == 302
        target = urlsplit(resp.headers["Location"])
        assert (target.netloc, target.path) == ("www.linkedin.com", "/profile/add")
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        assert query["name"] == "Travail en équipe — confirmé" and query["organizationName"] == "Atouts"
        assert (query["issueYear"], query["issueMonth"]) == ("2026", "3")
        assert query["certUrl"] == f"{BASE}/badges/{uid(badge)}" and query["certId"] == uid(badge)
        assert_no_personal_data(resp.headers["Location"])
        assert_french_404(await page(client, "/badges/not-a-uuid/linkedin", 404))
        store.revoke_badge(badge.id)  # a revoked badge is not offered to LinkedIn
        text = await page(client, f"/badges/{uid(badge)}")
        assert "/linkedin" not in text
        resp = await client.get(f"/badges/{uid(badge)}/linkedin", allow_redirects=False)
        assert resp.status == 302 and "linkedin.com" not in resp.headers["Location"]

    serve(store, issuer, scenario)


def test_skill_page_is_the_achievement_url(store: Store, issuer: BadgeIssuer) -> None:
    badge = award(store, issuer)
    achievement = badge.credential["credentialSubject"]["achievement"]
    path = urlsplit_path(achievement["id"])

    async def scenario(client: TestClient) -> None:
        text = await page(client, path)
        assert "Travail en équipe" in text and 'id="confirme"' in text and 'id="expert"' in text
        assert "au moins 1 référent" in text
        for alignment in achievement["alignment"]:
            if alignment["targetUrl"].startswith(BASE):
                await page(client, urlsplit_path(alignment["targetUrl"]))
        assert_french_404(await page(client, "/referentiel/inconnue", 404))

    serve(store, issuer, scenario)


def urlsplit_path(url: str) -> str:
    from urllib.parse import urlsplit

    assert url.startswith(BASE)
    return urlsplit(url).path

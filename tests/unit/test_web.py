"""The web app over real HTTP: aiohttp test server, a fake Rasa, a fake store.

pytest-asyncio is not used: each test runs its coroutine with asyncio.run.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import tempfile
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.web.app import create_app

TOKEN = "tok_" + "A" * 39  # the shape of secrets.token_urlsafe(32)
SENDER = "3f9c utilisateur é"
APP_DATA = {"person": {"first_name": "Léa"}, "experiences": [{"title": "Baby-sitting"}]}
EVENTS = [{"event": "user", "text": "salut"}, {"event": "bot", "text": "Bonjour !"}]
EXPIRED_TEXT = "Ce lien n'est plus valable."


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        db_url="sqlite://",
        rasa_url="http://127.0.0.1:9",
        public_rasa_url="https://chat.example.org",
        public_url="http://localhost:8080",
        web_host="127.0.0.1",
        web_port=8080,
        rasa_token="",
        export_ttl_seconds=3600,
        var_dir=Path(tempfile.gettempdir()) / "atouts-test-var",
        invitation_ttl_seconds=30 * 24 * 3600,
    )
    values.update(overrides)
    return Settings(**values)


class FakeStore:
    """resolve_export_token/export_person like bot.storage.Store: tokens are single use."""

    def __init__(self, tokens: dict[str, str] | None = None, fail: bool = False) -> None:
        self.tokens = dict(tokens or {})
        self.fail = fail
        self.resolved: list[str] = []

    def export_token_open(self, token: str) -> bool:
        if self.fail:
            raise RuntimeError(f"database exploded while reading {token} for {SENDER}")
        return token in self.tokens

    def resolve_export_token(self, token: str) -> str | None:
        self.resolved.append(token)
        if self.fail:
            raise RuntimeError(f"database exploded while reading {token} for {SENDER}")
        return self.tokens.pop(token, None)

    def export_person(self, sender_id: str) -> dict[str, Any]:
        assert sender_id == SENDER
        return APP_DATA


class FakeRasa:
    """GET /conversations/{sender_id}/tracker, recording what it was asked."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_get("/conversations/{sender_id}/tracker", self.tracker)

    async def tracker(self, request: web.Request) -> web.Response:
        self.requests.append((request.match_info["sender_id"], dict(request.query)))
        if self.status != 200:
            return web.json_response({"error": "boom"}, status=self.status)
        return web.json_response(
            {"sender_id": request.match_info["sender_id"], "slots": {}, "events": EVENTS}
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def vendor(tmp_path: Path) -> Path:
    bundle = tmp_path / "vendor" / "rasa-webchat" / "index.js"
    bundle.parent.mkdir(parents=True)
    bundle.write_text("window.WebChat = {default: function () {}};\n", encoding="utf-8")
    return tmp_path / "vendor"


def serve(app: web.Application, scenario: Callable[[TestClient], Awaitable[Any]]) -> Any:
    """Run `scenario` against `app` over HTTP."""

    async def main() -> Any:
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


def serve_with_rasa(
    make: Callable[[str], web.Application],
    scenario: Callable[[TestClient], Awaitable[Any]],
    rasa: FakeRasa,
) -> Any:
    """Start the fake Rasa, build the app with its URL, run `scenario`."""

    async def main() -> Any:
        async with TestServer(rasa.app) as rasa_server:
            rasa_url = str(rasa_server.make_url("")).rstrip("/")
            async with TestClient(TestServer(make(rasa_url))) as client:
                return await scenario(client)

    return asyncio.run(main())


def widget_props(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script id="atouts-config" type="application/json">(.*?)</script>', page, re.S
    )
    assert match, "no widget config in the page"
    return json.loads(match.group(1))


def assert_security_headers(resp: Any, rasa_origin: str = "https://chat.example.org") -> None:
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src"))
    ws_origin = rasa_origin.replace("https://", "wss://").replace("http://", "ws://")
    assert rasa_origin in connect.split() and ws_origin in connect.split()


# --- the chat page ------------------------------------------------------------


def test_page_is_french_mobile_and_wires_the_widget(vendor: Path) -> None:
    settings = make_settings(rasa_url="http://rasa-internal:5005")

    async def scenario(client: TestClient) -> None:
        resp = await client.get("/")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        page = await resp.text()
        assert '<html lang="fr">' in page
        assert 'name="viewport" content="width=device-width, initial-scale=1' in page
        assert "<title>Atouts</title>" in page
        assert "<h1>Atouts</h1>" in page
        assert "Découvre les compétences que tu as déjà, à partir de ce que tu as vécu." in page
        assert '<script defer src="/static/vendor/rasa-webchat/index.js?v=' in page
        assert '<script defer src="/static/chat.js?v=' in page
        assert "<script>" not in page  # no inline script: CSP script-src 'self'
        assert "make setup" not in page
        # the browser gets the public URL, never the internal one
        assert "rasa-internal" not in page
        props = widget_props(page)
        assert props["socketUrl"] == "https://chat.example.org"
        assert props["socketPath"] == "/socket.io/"
        assert props["initPayload"] == "/greet"
        assert props["embedded"] is True
        assert props["title"] == "Atouts" and props["subtitle"]
        assert props["inputTextFieldHint"] == "Écris ton message…"
        assert props["params"]["storage"] in ("session", "local")  # persisted across reloads
        assert props["hideWhenNotConnected"] is False and props["withRules"] is False
        assert_security_headers(resp)

    serve(create_app(settings, FakeStore(), vendor_dir=vendor), scenario)


def test_public_rasa_url_under_a_path_keeps_it_in_the_socket_path(vendor: Path) -> None:
    settings = make_settings(public_rasa_url="https://example.org/rasa")

    async def scenario(client: TestClient) -> None:
        props = widget_props(await (await client.get("/")).text())
        assert props["socketUrl"] == "https://example.org"
        assert props["socketPath"] == "/rasa/socket.io/"

    serve(create_app(settings, vendor_dir=vendor), scenario)


def test_injected_url_cannot_break_out_of_the_script(vendor: Path) -> None:
    evil = 'https://evil.example/</script><script>alert("x")</script><!--'
    settings = make_settings(public_rasa_url=evil)

    async def scenario(client: TestClient) -> None:
        page = await (await client.get("/")).text()
        assert "</script><script>alert" not in page
        assert "<!--" not in page
        props = widget_props(page)
        assert props["socketUrl"] == "https://evil.example"
        assert props["socketPath"] == '/</script><script>alert("x")</script><!--/socket.io/'

    serve(create_app(settings, vendor_dir=vendor), scenario)


def test_relative_public_rasa_url_is_refused() -> None:
    with pytest.raises(ValueError, match="ATOUTS_PUBLIC_RASA_URL"):
        create_app(make_settings(public_rasa_url="localhost:5005"))


def test_missing_bundle_says_how_to_fetch_it(tmp_path: Path) -> None:
    async def scenario(client: TestClient) -> None:
        resp = await client.get("/")
        assert resp.status == 503
        page = await resp.text()
        assert '<html lang="fr">' in page and "<h1>Atouts</h1>" in page
        assert "make setup" in page
        assert "n'est pas installée" in page
        assert "rasa-webchat/index.js" not in page
        assert "atouts-config" not in page
        assert_security_headers(resp)

    serve(create_app(make_settings(), vendor_dir=tmp_path / "nothing-here"), scenario)


def test_health() -> None:
    async def scenario(client: TestClient) -> None:
        resp = await client.get("/health")
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}
        assert_security_headers(resp)

    serve(create_app(make_settings()), scenario)


def test_static_files_are_cached(vendor: Path) -> None:
    async def scenario(client: TestClient) -> None:
        resp = await client.get("/static/chat.js")
        assert resp.status == 200
        assert "WebChat" in await resp.text()
        assert "max-age=" in resp.headers["Cache-Control"]
        assert_security_headers(resp)
        resp = await client.get("/static/vendor/rasa-webchat/index.js?v=abc")
        assert resp.status == 200
        assert "immutable" in resp.headers["Cache-Control"]
        resp = await client.get("/static/chat.css")
        assert resp.status == 200 and "max-age=" in resp.headers["Cache-Control"]
        validator = {"If-Modified-Since": resp.headers["Last-Modified"]}
        resp = await client.get("/static/chat.css", headers=validator)
        assert resp.status == 304 and "max-age=" in resp.headers["Cache-Control"]
        resp = await client.get("/static/../app.py")
        assert resp.status == 404
        resp = await client.get("/static/%2e%2e/app.py")
        assert resp.status in (403, 404)

    serve(create_app(make_settings(), vendor_dir=vendor), scenario)


# --- personal data export -----------------------------------------------------


async def download(client: TestClient, token: str = TOKEN) -> Any:
    """What the person does: open the link (a page), then press the button (a POST)."""
    page = await client.get(f"/mes-donnees/{token}")
    text = await page.text()
    if page.status != 200:
        return page
    assert 'method="post"' in text and "Télécharger mes données" in text
    csrf = re.search(r'name="csrf" value="([^"]+)"', text)
    assert csrf, text
    return await client.post(f"/mes-donnees/{token}", data={"csrf": csrf.group(1)})


def test_opening_the_export_link_spends_nothing() -> None:
    store = FakeStore({TOKEN: SENDER})

    async def scenario(client: TestClient) -> None:
        for _ in range(3):  # link previews, then the person
            resp = await client.get(f"/mes-donnees/{TOKEN}")
            assert resp.status == 200 and resp.headers["Content-Type"] == "text/html; charset=utf-8"
            assert resp.headers["Cache-Control"] == "no-store"
            assert "Content-Disposition" not in resp.headers
        # a forged POST: no cookie, a made-up field; a foreign Origin
        forged = await client.post(f"/mes-donnees/{TOKEN}", data={"csrf": "1.abc"})
        assert forged.status == 403
        client.session.cookie_jar.clear()
        page = await (await client.get(f"/mes-donnees/{TOKEN}")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        foreign = await client.post(f"/mes-donnees/{TOKEN}", data={"csrf": csrf},
                                    headers={"Origin": "https://evil.example"})
        assert foreign.status == 403

    serve(create_app(make_settings(), store), scenario)
    assert store.resolved == [] and TOKEN in store.tokens


def test_export_with_a_valid_token_gives_both_parts_as_a_download() -> None:
    rasa = FakeRasa()
    store = FakeStore({TOKEN: SENDER})

    async def scenario(client: TestClient) -> None:
        resp = await download(client)
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert resp.headers["Content-Disposition"] == 'attachment; filename="atouts-mes-donnees.json"'
        assert resp.headers["Cache-Control"] == "no-store"
        assert_security_headers(resp)
        raw = await resp.read()
        assert "Léa".encode("utf-8") in raw  # readable UTF-8, not \\u escapes
        data = json.loads(raw.decode("utf-8"))
        assert data == {"app_data": APP_DATA, "conversation": EVENTS}
        # single use
        again = await download(client)
        assert again.status == 404
        assert EXPIRED_TEXT in await again.text()

    serve_with_rasa(
        lambda url: create_app(make_settings(rasa_url=url, rasa_token="s3cret"), store),
        scenario,
        rasa,
    )
    assert rasa.requests == [(SENDER, {"include_events": "ALL", "token": "s3cret"})]


def test_export_without_rasa_token_sends_none() -> None:
    rasa = FakeRasa()

    async def scenario(client: TestClient) -> None:
        assert (await download(client)).status == 200

    serve_with_rasa(
        lambda url: create_app(make_settings(rasa_url=url), FakeStore({TOKEN: SENDER})),
        scenario,
        rasa,
    )
    assert rasa.requests == [(SENDER, {"include_events": "ALL"})]


def test_export_when_rasa_is_down_still_gives_app_data() -> None:
    settings = make_settings(rasa_url=f"http://127.0.0.1:{free_port()}")

    async def scenario(client: TestClient) -> None:
        resp = await download(client)
        assert resp.status == 200
        assert resp.headers["Content-Disposition"].startswith("attachment")
        data = await resp.json()
        assert data["app_data"] == APP_DATA
        assert data["conversation"] is None
        assert "conversation" in data["note"] and "mes données" in data["note"]

    serve(create_app(settings, FakeStore({TOKEN: SENDER})), scenario)


def test_export_when_rasa_answers_an_error_still_gives_app_data() -> None:
    async def scenario(client: TestClient) -> None:
        data = await (await download(client)).json()
        assert data["app_data"] == APP_DATA and data["conversation"] is None and data["note"]

    serve_with_rasa(
        lambda url: create_app(make_settings(rasa_url=url), FakeStore({TOKEN: SENDER})),
        scenario,
        FakeRasa(status=401),
    )


@pytest.mark.parametrize(
    "path",
    [
        "/mes-donnees/inconnu",  # unknown to the store
        f"/mes-donnees/{TOKEN[:-1]}",
        "/mes-donnees/",
        "/mes-donnees/abc%20def",
        "/mes-donnees/%27%3Cscript%3E",
        "/mes-donnees/" + "A" * 4000,  # huge
        "/mes-donnees/été-ça",  # non-ascii
        "/mes-donnees/%F0%9F%98%80",
        "/mes-donnees/%00",
        "/mes-donnees/a/b",
    ],
)
def test_bad_export_tokens_get_a_kind_french_404(path: str) -> None:
    store = FakeStore({TOKEN: SENDER})

    async def scenario(client: TestClient) -> None:
        resp = await client.get(path)
        assert resp.status == 404
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-store"
        page = await resp.text()
        assert '<html lang="fr">' in page
        assert (
            "Ce lien n'est plus valable. Demande un nouveau lien au bot en écrivant "
            "« mes données ». Il est valable 1 heure et une seule fois."
        ) in page
        assert "Traceback" not in page and "<script" not in page
        assert_security_headers(resp)

    serve(create_app(make_settings(), store), scenario)
    assert TOKEN in store.tokens  # never spent by a wrong one
    assert all(len(t) <= 256 and t.isascii() for t in store.resolved)


def test_head_does_not_spend_the_token() -> None:
    store = FakeStore({TOKEN: SENDER})

    async def scenario(client: TestClient) -> None:
        resp = await client.head(f"/mes-donnees/{TOKEN}")
        assert resp.status == 405

    serve(create_app(make_settings(), store), scenario)
    assert store.resolved == [] and TOKEN in store.tokens


def test_without_a_store_every_export_link_is_refused() -> None:
    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/mes-donnees/{TOKEN}")
        assert resp.status == 404 and EXPIRED_TEXT in await resp.text()

    serve(create_app(make_settings(), None), scenario)


# --- errors -------------------------------------------------------------------


def test_unknown_path_gets_a_french_404() -> None:
    async def scenario(client: TestClient) -> None:
        for path in ("/nimporte-quoi", "/static/absent.js", "/admin/../etc"):
            resp = await client.get(path)
            assert resp.status == 404
            page = await resp.text()
            assert '<html lang="fr">' in page and "Cette page n'existe pas." in page
            assert_security_headers(resp)

    serve(create_app(make_settings()), scenario)


def test_unexpected_error_gives_a_generic_500_and_logs_nothing_personal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/mes-donnees/{TOKEN}")
        assert resp.status == 500
        page = await resp.text()
        assert '<html lang="fr">' in page and "Ce n'est pas de ta faute." in page
        assert "RuntimeError" not in page and "exploded" not in page and TOKEN not in page
        assert_security_headers(resp)

    with caplog.at_level(logging.INFO):
        serve(create_app(make_settings(), FakeStore(fail=True)), scenario)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "RuntimeError" in logged and "/mes-donnees/{token}" in logged
    assert TOKEN not in logged and SENDER not in logged and "exploded" not in logged


def test_access_log_hides_tokens_and_addresses(caplog: pytest.LogCaptureFixture) -> None:
    from bot.web.__main__ import AccessLogger

    async def scenario(client: TestClient) -> None:
        await client.get(f"/mes-donnees/{TOKEN}")
        await client.get("/health")

    app = create_app(make_settings(), FakeStore())
    logger = logging.getLogger("test.access")

    async def main() -> None:
        server = TestServer(app)
        await server.start_server(access_log_class=AccessLogger, access_log=logger)
        async with TestClient(server) as client:
            await scenario(client)

    with caplog.at_level(logging.INFO, logger="test.access"):
        asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records if r.name == "test.access"]
    assert any(line.startswith("GET /mes-donnees/… 404") for line in lines)
    assert any(line.startswith("GET /health 200") for line in lines)
    assert not any(TOKEN in line or "127.0.0.1" in line for line in lines)


# --- the widget's session: kept by our server, never by the partner page ---------


def test_widget_session_is_kept_in_a_partitioned_cookie_for_our_origin_only(
        vendor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.sender_ids import WebSessions, load_session_secret

    monkeypatch.delenv("ATOUTS_WEB_SESSION_SECRET", raising=False)
    settings = make_settings(var_dir=tmp_path, public_url="https://atouts.example.org")
    token = WebSessions(load_session_secret(tmp_path)).issue()
    ours = {"Origin": "https://atouts.example.org"}

    async def scenario(client: TestClient) -> None:
        page = await (await client.get("/widget")).text()
        assert 'data-session=""' in page  # nothing to resume
        for headers, body, status in (
            ({"Origin": "https://evil.example"}, {"session": token}, 403),
            ({}, {"session": token}, 403),
            (ours, {"session": token[:-1] + "x"}, 400),  # not signed by us
            (ours, {"session": "tg:123"}, 400),
        ):
            resp = await client.post("/widget/session", json=body, headers=headers)
            assert resp.status == status, (headers, body)
            assert "Set-Cookie" not in resp.headers
        resp = await client.post("/widget/session", json={"session": token}, headers=ours)
        assert resp.status == 204
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith(f"atouts_widget_session={token};")
        for part in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/widget"):
            assert part in cookie
        resumed = await client.get("/widget", headers={"Cookie": f"atouts_widget_session={token}"})
        assert f'data-session="{token}"' in await resumed.text()
        assert resumed.headers["Cache-Control"] == "no-store"
        forged = await client.get("/widget", headers={"Cookie": "atouts_widget_session=abc.def"})
        assert 'data-session=""' in await forged.text()

    serve(create_app(settings, vendor_dir=vendor), scenario)

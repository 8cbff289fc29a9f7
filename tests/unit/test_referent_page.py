"""The referent page over real HTTP: aiohttp test server, a real Store on a temporary
SQLite file, and a local fake Rasa recording trigger_intent calls.

pytest-asyncio is not used: each test runs its coroutine with asyncio.run.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import stat
import time
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, Optional
from unittest import mock
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.referentiel import default_referentiel
from bot.storage import Store
from bot.storage.models import utcnow
from bot.web.__main__ import AccessLogger
from bot.web.app import create_app
from bot.web.referent import (
    CSRF_COOKIE,
    CSRF_KEY,
    LIMITER_KEY,
    NOTIFY_DELAYS_KEY,
    TASKS_KEY,
    RateLimiter,
    load_csrf_secret,
    make_csrf,
)

SENDER = "3f9c utilisateur/é"  # quoted in Rasa's URL
ITEMS = [item.id for item in default_referentiel().get("rigueur").items]  # type: ignore[union-attr]
RASA_TOKEN = "rasa-secret-token"


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        db_url="sqlite://",
        rasa_url="http://127.0.0.1:9",
        public_rasa_url="https://chat.example.org",
        public_url="http://localhost:8080",
        web_host="127.0.0.1",
        web_port=8080,
        rasa_token=RASA_TOKEN,
        export_ttl_seconds=3600,
        var_dir=tmp_path / "var",
        invitation_ttl_seconds=30 * 24 * 3600,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(autouse=True)
def no_env_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATOUTS_CSRF_SECRET", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'a.db'}")
    s.migrate()
    s.record_consent(SENDER, True, "v1", channel="rest")
    s.set_first_name(SENDER, "Inès")
    yield s
    s.close()


@pytest.fixture
def invite(store: Store) -> tuple[str, int]:
    token, info = store.create_invitation(SENDER, "Karim", "coach", ["rigueur"])
    return token, info.id


class FakeRasa:
    """POST /conversations/{sender_id}/trigger_intent, answering `statuses` in turn, then 200."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.statuses = list(statuses)
        self.calls: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_post("/conversations/{sender_id}/trigger_intent", self.trigger)

    async def trigger(self, request: web.Request) -> web.Response:
        self.calls.append({
            "sender_id": request.match_info["sender_id"],
            "raw_path": request.raw_path,
            "query": dict(request.query),
            "json": await request.json(),
        })
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"ok": status == 200}, status=status)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


Scenario = Callable[[TestClient], Awaitable[Any]]


class Mailbox:
    """The in-process mail catcher (bot.mailcatcher) of the running scenario."""

    outbox = None


async def confirm_by_mail(client: TestClient, token: str, email: str = "karim@club.fr") -> tuple[Any, str]:
    """The referent's last step: their address, then the code mailed to it (real SMTP to
    the in-process catcher). Returns the last response and page."""
    page = await (await client.get(f"/referent/{token}")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = await client.post(f"/referent/{token}/email", data={"csrf": csrf, "email": email})
    page = await resp.text()
    assert resp.status == 200 and "Entre ton code" in page, page
    mail = [m for m in Mailbox.outbox.mails if email in m.rcpt_to][-1]  # type: ignore[union-attr]
    code = re.search(r"\b(\d{6})\b", mail.body).group(1)  # type: ignore[union-attr]
    resp = await client.post(f"/referent/{token}/code", data={"csrf": csrf, "code": code})
    return resp, await resp.text()


async def start_fake_rasa(stack: contextlib.AsyncExitStack, rasa: FakeRasa) -> str:
    """Start the fake Rasa (its own access log off: it is not ours) and give its URL."""
    server = TestServer(rasa.app)
    await server.start_server(access_log=None)
    await stack.enter_async_context(server)
    return str(server.make_url("")).rstrip("/")


def run(store: Any, tmp_path: Path, scenario: Scenario, *, rasa: Optional[FakeRasa] = None,
        limiter: Optional[RateLimiter] = None, **overrides: Any) -> Any:
    """Start the fake Rasa (if any), the app with `store`, and run `scenario`; then wait
    for the background notifications."""

    async def main() -> Any:
        async with contextlib.AsyncExitStack() as stack:
            rasa_url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
            if rasa is not None:
                rasa_url = await start_fake_rasa(stack, rasa)
            from bot.mailcatcher import Outbox, start_smtp

            Mailbox.outbox = Outbox()
            smtp_port = free_port()
            smtp = await start_smtp(Mailbox.outbox, "127.0.0.1", smtp_port)
            stack.callback(smtp.close)
            mail = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False}
            app = create_app(make_settings(tmp_path, rasa_url=rasa_url, **{**mail, **overrides}), store)
            app[NOTIFY_DELAYS_KEY] = (0.01, 0.02)
            if limiter is not None:
                app[LIMITER_KEY] = limiter
            server = TestServer(app)  # logging requests as in production
            await server.start_server(access_log_class=AccessLogger,
                                      access_log=logging.getLogger("test.access"))
            client = await stack.enter_async_context(TestClient(server))
            result = await scenario(client)
            await asyncio.gather(*app[TASKS_KEY])
            return result

    return asyncio.run(main())


async def open_form(client: TestClient, token: str) -> tuple[str, str]:
    """GET the form: (page, csrf field value)."""
    resp = await client.get(f"/referent/{token}")
    page = await resp.text()
    assert resp.status == 200, page
    match = re.search(r'<input type="hidden" name="csrf" value="([^"]+)">', page)
    assert match
    return page, match.group(1)


def answers(values: Optional[dict[str, str]] = None, **extra: str) -> dict[str, str]:
    """Form fields answering every rigueur item (default "2"), the statement checked."""
    fields = {f"q__rigueur__{item}": "2" for item in ITEMS}
    fields.update({f"q__rigueur__{k}": v for k, v in (values or {}).items()})
    fields["statement"] = "oui"
    fields.update(extra)
    return fields


async def post(client: TestClient, token: str, fields: dict[str, str], csrf: str, **kw: Any):
    resp = await client.post(f"/referent/{token}", data={"csrf": csrf, **fields}, **kw)
    return resp, await resp.text()


def assert_page(page: str) -> None:
    assert '<html lang="fr">' in page
    assert "Traceback" not in page


# --- GET --------------------------------------------------------------------------------


def test_open_link_shows_the_form(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/referent/{token}")
        page = await resp.text()
        assert resp.status == 200
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "form-action 'self'" in resp.headers["Content-Security-Policy"]
        assert_page(page)
        assert "Bonjour Karim !" in page and "Inès aimerait ton avis, en tant que coach" in page
        assert "Inès suit les consignes étape par étape." in page
        assert ("Quand il faut remplir un papier ou un formulaire, Inès vérifie que tout est juste."
                in page)
        assert "{prenom}" not in page
        for item in ITEMS:
            values = re.findall(rf'name="q__rigueur__{item}" value="([^"]+)"', page)
            assert values == ["0", "1", "2", "3", "nsp"]
        for label in ("Jamais", "Parfois", "Souvent", "Toujours", "Je ne sais pas"):
            assert page.count(f"> {label}</label>") == len(ITEMS)
        assert "checked" not in page
        assert page.count("<fieldset") == len(ITEMS) == page.count("<legend>")
        assert "Un mot pour Inès (facultatif)" in page and 'maxlength="1000"' in page
        assert "Je connais vraiment Inès et je l'ai vu·e agir dans ce contexte." in page
        assert "Réponds au moins à 4 questions par compétence" in page
        assert "Pas de compte, pas d'adresse e-mail." in page
        assert "<script" not in page and "http://" not in page and "https://" not in page
        assert token not in page  # the form posts to its own URL
        csrf = re.search(r'name="csrf" value="(\d+)\.([0-9a-f]{64})"', page)
        assert csrf
        cookie = resp.headers["Set-Cookie"]
        assert cookie.startswith(f"{CSRF_COOKIE}={csrf.group(1)}.{csrf.group(2)};")
        for part in ("HttpOnly", "SameSite=Strict", "Path=/referent/", "Max-Age=7200"):
            assert part in cookie
        assert "Secure" not in cookie  # public_url is http here
        css = re.search(r'href="(/static/referent\.css\?v=[0-9a-f]+)"', page)
        assert css
        sheet = await client.get(css.group(1))
        assert sheet.status == 200 and len(await sheet.read()) < 8_000

    run(store, tmp_path, scenario)


def test_a_second_tab_keeps_the_same_csrf(store: Store, invite: tuple[str, int],
                                          tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, first = await open_form(client, token)
        _, second = await open_form(client, token)
        assert first == second
        resp, _ = await post(client, token, answers(), first)
        assert resp.status == 200

    run(store, tmp_path, scenario)


def test_cookie_is_secure_on_https(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    async def scenario(client: TestClient) -> None:
        resp = await client.get(f"/referent/{invite[0]}")
        assert resp.status == 200 and "Secure" in resp.headers["Set-Cookie"]

    run(store, tmp_path, scenario, public_url="https://atouts.example.org")


def test_worst_case_page_stays_light(store: Store, tmp_path: Path) -> None:
    """Four of the longest skills, every question in error: still under 30 KB."""
    longest = sorted(default_referentiel().skills.values(),
                     key=lambda s: sum(len(i.observer) + 2 * len(i.id) for i in s.items))[-4:]
    store.set_first_name(SENDER, "Marie-Christine")
    token, _ = store.create_invitation(SENDER, "Jean-Baptiste", "tuteur", [s.id for s in longest])

    async def scenario(client: TestClient) -> None:
        page, csrf = await open_form(client, token)
        assert len(page.encode("utf-8")) < 30_000
        assert "en tant que tuteur ou tutrice de stage" in page
        resp, errors = await post(client, token, {"q__rigueur__nope": "9"}, csrf)
        assert resp.status == 400
        assert len(errors.encode("utf-8")) < 30_000
        assert errors.count('aria-invalid="true"') == sum(len(s.items) for s in longest) + 1

    run(store, tmp_path, scenario)


def test_without_a_first_name_the_page_stays_neutral(store: Store, tmp_path: Path) -> None:
    store.set_first_name(SENDER, None)
    token, _ = store.create_invitation(SENDER, "Karim", "autre", ["rigueur"])

    async def scenario(client: TestClient) -> None:
        page, _ = await open_form(client, token)
        assert "La personne qui t'a invité·e aimerait ton avis, en tant que proche" in page
        assert "La personne qui t'a invité·e suit les consignes étape par étape." in page
        assert "Un mot pour la personne qui t'a invité·e (facultatif)" in page
        assert "Je connais vraiment la personne qui m'a invité·e" in page
        assert "None" not in page

    run(store, tmp_path, scenario)


def test_names_are_escaped(store: Store, tmp_path: Path) -> None:
    store.set_first_name(SENDER, "<b>Léa</b>")
    token, _ = store.create_invitation(SENDER, "<script>x</script>", "coach", ["rigueur"])

    async def scenario(client: TestClient) -> None:
        page, _ = await open_form(client, token)
        assert "<b>" not in page and "<script" not in page
        assert "&lt;b&gt;Léa&lt;/b&gt; suit les consignes" in page

    run(store, tmp_path, scenario)


# --- POST: success ------------------------------------------------------------------------


def test_valid_answers_are_saved_and_the_young_person_told(
    store: Store, invite: tuple[str, int], tmp_path: Path
) -> None:
    token, invitation_id = invite
    rasa = FakeRasa()
    comment = "Toujours\r\nfiable. " + "x" * 980  # 1000 characters once the CRLF is a LF

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        fields = answers({ITEMS[0]: "3", ITEMS[1]: "0", ITEMS[2]: "nsp"},
                         c__rigueur=comment, unknown_field="ignored", c__autonomie="ignored")
        resp, page = await post(client, token, fields, csrf)
        assert resp.status == 200, page
        assert_page(page)
        assert "confirme ton adresse" in page and resp.headers["Cache-Control"] == "no-store"
        assert store.referent_answers(SENDER, "rigueur") == []  # not counted before the code
        resp, page = await confirm_by_mail(client, token)
        assert resp.status == 200, page
        assert "Merci Karim !" in page and "Inès va recevoir tes réponses." in page
        # a double submit, then the link again
        again, page = await post(client, token, fields, csrf)
        assert again.status == 410 and "Tu as déjà répondu, merci !" in page
        later = await client.get(f"/referent/{token}")
        assert later.status == 410 and "Tu as déjà répondu, merci !" in await later.text()

    run(store, tmp_path, scenario, rasa=rasa)
    saved = store.referent_answers(SENDER, "rigueur")
    assert len(saved) == 1
    expected = {item: 2 for item in ITEMS} | {ITEMS[0]: 3, ITEMS[1]: 0, ITEMS[2]: None}
    assert dict(saved[0].answers) == expected
    assert saved[0].referent_name == "Karim" and saved[0].relation == "coach"
    assert saved[0].comment and saved[0].comment.startswith("Toujours fiable.")
    assert len(rasa.calls) == 1
    call = rasa.calls[0]
    assert call["sender_id"] == SENDER
    assert call["raw_path"].startswith(f"/conversations/{quote(SENDER, safe='')}/trigger_intent?")
    assert call["query"] == {"output_channel": "latest", "token": RASA_TOKEN}
    assert call["json"] == {"name": "EXTERNAL_referent_answered",
                            "entities": {"invitation": str(invitation_id)}}


def test_without_rasa_token_none_is_sent(store: Store, invite: tuple[str, int],
                                         tmp_path: Path) -> None:
    rasa = FakeRasa()

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, invite[0])
        resp, _ = await post(client, invite[0], answers(), csrf)
        assert resp.status == 200
        resp, _ = await confirm_by_mail(client, invite[0])
        assert resp.status == 200

    run(store, tmp_path, scenario, rasa=rasa, rasa_token="")
    assert [c["query"] for c in rasa.calls] == [{"output_channel": "latest"}]


def test_multipart_is_accepted(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        data = aiohttp.FormData()
        for name, value in {"csrf": csrf, **answers(c__rigueur="Bravo")}.items():
            data.add_field(name, value, content_type="text/plain; charset=utf-8")
        resp = await client.post(f"/referent/{token}", data=data)
        assert resp.status == 200, await resp.text()
        resp, _ = await confirm_by_mail(client, token)
        assert resp.status == 200

    run(store, tmp_path, scenario)
    assert store.referent_answers(SENDER, "rigueur")[0].comment == "Bravo"


def test_two_submissions_at_once_one_wins(store: Store, invite: tuple[str, int],
                                          tmp_path: Path) -> None:
    token, _ = invite
    rasa = FakeRasa()

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        results = await asyncio.gather(*(post(client, token, answers(), csrf) for _ in range(3)))
        # one is saved; the others see a spent link (410) or the address step of the first
        assert all(resp.status in (200, 410) for resp, _ in results)
        resp, _ = await confirm_by_mail(client, token)
        assert resp.status == 200

    run(store, tmp_path, scenario, rasa=rasa)
    assert len(store.referent_answers(SENDER, "rigueur")) == 1 and len(rasa.calls) == 1


# --- notification -----------------------------------------------------------------------------


def test_notification_is_retried_after_a_503(store: Store, invite: tuple[str, int],
                                             tmp_path: Path) -> None:
    rasa = FakeRasa(statuses=(503, 502))

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, invite[0])
        resp, _ = await post(client, invite[0], answers(), csrf)
        assert resp.status == 200
        resp, _ = await confirm_by_mail(client, invite[0])
        assert resp.status == 200

    run(store, tmp_path, scenario, rasa=rasa)
    assert len(rasa.calls) == 3
    assert all(c["json"]["name"] == "EXTERNAL_referent_answered" for c in rasa.calls)


def test_when_rasa_keeps_failing_answers_are_kept_and_logs_say_nothing_personal(
    store: Store, invite: tuple[str, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token, _ = invite
    rasa = FakeRasa(statuses=(503, 503, 503))

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        resp, page = await post(client, token, answers(), csrf)
        assert resp.status == 200
        resp, page = await confirm_by_mail(client, token)
        assert resp.status == 200 and "Merci Karim !" in page

    with caplog.at_level(logging.DEBUG):
        run(store, tmp_path, scenario, rasa=rasa)
    assert len(rasa.calls) == 3
    assert len(store.referent_answers(SENDER, "rigueur")) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert "referent notification failed (attempt 3, status 503)" in logged
    for secret in (token, SENDER, quote(SENDER, safe=""), "Karim", "Inès", RASA_TOKEN, "karim@club.fr"):
        assert secret not in caplog.text


def test_when_rasa_is_unreachable_answers_are_kept(store: Store, invite: tuple[str, int],
                                                   tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, invite[0])
        resp, _ = await post(client, invite[0], answers(), csrf)
        assert resp.status == 200
        resp, _ = await confirm_by_mail(client, invite[0])
        assert resp.status == 200

    with caplog.at_level(logging.WARNING):
        run(store, tmp_path, scenario)  # nobody listens on the Rasa port
    assert len(store.referent_answers(SENDER, "rigueur")) == 1
    assert "referent notification failed (attempt 3, ClientConnectorError)" in caplog.text
    assert invite[0] not in caplog.text and SENDER not in caplog.text


# --- links that cannot be used -----------------------------------------------------------------


def test_expired_link(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        later = utcnow() + timedelta(days=31)
        with mock.patch("bot.storage.challenge.utcnow", return_value=later):
            resp = await client.get(f"/referent/{token}")
            page = await resp.text()
            assert resp.status == 410 and "Ce lien a expiré" in page
            assert "demande un nouveau lien à Inès" in page
            resp, page = await post(client, token, answers(), csrf)
            assert resp.status == 410 and "Ce lien a expiré" in page

    run(store, tmp_path, scenario)
    assert store.referent_answers(SENDER, "rigueur") == []


def test_revoked_link(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, invitation_id = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        store.revoke_invitation(SENDER, invitation_id)
        resp = await client.get(f"/referent/{token}")
        assert resp.status == 410 and "Ce lien a été annulé" in await resp.text()
        resp, page = await post(client, token, answers(), csrf)
        assert resp.status == 410 and "Ce lien a été annulé" in page

    run(store, tmp_path, scenario)
    assert store.referent_answers(SENDER, "rigueur") == []


@pytest.mark.parametrize("path", [
    "x", "../../etc", "..%2F..%2Fetc", "A" * 300, "A" * 19, "é" * 43, "%00" + "A" * 40,
    "A" * 43, "A" * 43 + "/extra", "", "tok en" + "A" * 30,
])
def test_unknown_or_malformed_links_get_a_french_404(store: Store, tmp_path: Path, path: str) -> None:
    async def scenario(client: TestClient) -> None:
        for method in ("GET", "POST"):
            resp = await client.request(method, f"/referent/{path}",
                                        data={"statement": "oui"} if method == "POST" else None)
            page = await resp.text()
            assert resp.status == 404, (method, path, resp.status)
            assert_page(page)

    run(store, tmp_path, scenario)


def test_without_a_challenge_store_links_are_unknown(tmp_path: Path) -> None:
    class ExportOnly:
        def resolve_export_token(self, token: str) -> None:
            return None

    async def scenario(client: TestClient) -> None:
        resp = await client.get("/referent/" + "A" * 43)
        assert resp.status == 404 and "Lien introuvable" in await resp.text()

    run(ExportOnly(), tmp_path, scenario)


# --- CSRF and origin -----------------------------------------------------------------------------


def _secret(tmp_path: Path) -> bytes:
    return load_csrf_secret(tmp_path / "var")


@pytest.mark.parametrize("case", [
    "no field", "no cookie", "wrong value", "field differs from cookie", "other link", "too old",
    "from the future", "bad hmac",
])
def test_csrf_failures_are_refused(store: Store, invite: tuple[str, int], tmp_path: Path,
                                   case: str) -> None:
    token, _ = invite
    other_token, _ = store.create_invitation(SENDER, "Sam", "collegue", ["rigueur"])

    async def scenario(client: TestClient) -> None:
        _, good = await open_form(client, token)
        now = int(time.time())
        secret = client.server.app[CSRF_KEY].get()
        field, cookie = {
            "no field": (None, good),
            "no cookie": (good, None),
            "wrong value": ("garbage", "garbage"),
            "field differs from cookie": (good, make_csrf(secret, token, now - 5)),
            "other link": (make_csrf(secret, other_token, now),) * 2,
            "too old": (make_csrf(secret, token, now - 2 * 3600 - 1),) * 2,
            "from the future": (make_csrf(secret, token, now + 3600),) * 2,
            "bad hmac": (f"{now}.{'0' * 64}",) * 2,
        }[case]
        client.session.cookie_jar.clear()
        data = answers() | ({"csrf": field} if field is not None else {})
        headers = {"Cookie": f"{CSRF_COOKIE}={cookie}"} if cookie is not None else {}
        resp = await client.post(f"/referent/{token}", data=data, headers=headers)
        page = await resp.text()
        assert resp.status == 403, page
        assert_page(page)
        assert "Le formulaire a expiré, recharge la page" in page
        assert f'<a href="/referent/{token}">' in page

    run(store, tmp_path, scenario)
    assert store.invitation_by_token(token).invitation.state == "open"  # type: ignore[union-attr]


def test_cross_origin_posts_are_refused(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        for origin in ("https://evil.example", "http://localhost:8080.evil.example",
                       "http://localhost:8081", "https://localhost:8080"):
            resp, _ = await post(client, token, answers(), csrf, headers={"Origin": origin})
            assert resp.status == 403, origin
        # what a browser sends for a form post from a page under Referrer-Policy: no-referrer
        resp, _ = await post(client, token, {}, csrf, headers={"Origin": "null"})
        assert resp.status == 400
        own = str(client.make_url("")).rstrip("/")
        resp, _ = await post(client, token, {}, csrf, headers={"Origin": own})
        assert resp.status == 400  # same origin: on to the form checks
        resp, _ = await post(client, token, answers(), csrf,
                             headers={"Origin": "http://localhost:8080"})  # public_url
        assert resp.status == 200

    run(store, tmp_path, scenario)


def test_csrf_secret_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = load_csrf_secret(tmp_path / "var")
    path = tmp_path / "var" / "keys" / "csrf.secret"
    assert len(secret) == 32 and path.read_bytes() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_csrf_secret(tmp_path / "var") == secret  # kept
    monkeypatch.setenv("ATOUTS_CSRF_SECRET", "from-the-environment-" + "s" * 20)
    assert load_csrf_secret(tmp_path / "other") == ("from-the-environment-" + "s" * 20).encode()
    assert not (tmp_path / "other").exists()


# --- POST: bad input --------------------------------------------------------------------------------


def test_missing_statement_keeps_every_answer(store: Store, invite: tuple[str, int],
                                              tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        fields = answers({ITEMS[0]: "3", ITEMS[1]: "nsp"}, c__rigueur="Très <fiable> & sérieux")
        del fields["statement"]
        resp, page = await post(client, token, fields, csrf)
        assert resp.status == 400
        assert_page(page)
        assert 'role="alert"' in page and "Coche la case « Je connais vraiment… »" in page
        assert page.count('checked="checked"') == len(ITEMS)
        assert f'name="q__rigueur__{ITEMS[0]}" value="3" checked="checked"' in page
        assert f'name="q__rigueur__{ITEMS[1]}" value="nsp" checked="checked"' in page
        assert f'name="q__rigueur__{ITEMS[2]}" value="2" checked="checked"' in page
        assert ">Très &lt;fiable&gt; &amp; sérieux</textarea>" in page
        assert re.search(r'id="statement" name="statement" value="oui" aria-invalid="true" '
                         r'aria-describedby="err-statement"', page)
        assert 'id="err-statement"' in page
        # the re-rendered form works
        match = re.search(r'name="csrf" value="([^"]+)"', page)
        assert match
        resp, _ = await post(client, token, answers(), match.group(1))
        assert resp.status == 200

    run(store, tmp_path, scenario)


def test_missing_answers_are_listed_and_marked(store: Store, invite: tuple[str, int],
                                               tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        fields = {f"q__rigueur__{item}": "1" for item in ITEMS[:4]} | {"statement": "oui"}
        resp, page = await post(client, token, fields, csrf)
        assert resp.status == 400
        assert "Rigueur : réponds aux questions 5, 6 et 7." in page
        assert 'href="#q5"' in page
        for n in (5, 6, 7):
            assert (f'<fieldset class="q" id="q{n}" aria-invalid="true" '
                    f'aria-describedby="e{n}">') in page
            assert f'<p class="err" id="e{n}">Choisis une réponse.</p>' in page
        assert page.count('aria-invalid="true"') == 3
        assert page.count('checked="checked"') == 5  # four answers and the statement

    run(store, tmp_path, scenario)
    assert store.referent_answers(SENDER, "rigueur") == []


@pytest.mark.parametrize("fields", [
    answers({ITEMS[0]: "7"}),
    answers({ITEMS[0]: "-1"}),
    answers({ITEMS[0]: ""}),
    answers(q__rigueur__rigueur_99="2"),
    answers(q__autonomie__autonomie_1="2"),
    answers(c__rigueur="x" * 1001),
    answers(statement="non"),
], ids=["7", "-1", "empty", "unknown item", "other skill", "long comment", "statement non"])
def test_bad_input_is_refused_and_nothing_saved(store: Store, invite: tuple[str, int],
                                                tmp_path: Path, fields: dict[str, str]) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        resp, page = await post(client, token, fields, csrf)
        assert resp.status == 400
        assert_page(page)
        assert 'role="alert"' in page
        if "c__rigueur" in fields:
            assert "x" * 1001 in page and "Ton message fait 1001 caractères" in page

    run(store, tmp_path, scenario)
    assert store.referent_answers(SENDER, "rigueur") == []
    assert store.invitation_by_token(token).invitation.state == "open"  # type: ignore[union-attr]


def test_duplicate_answers_for_one_question_are_refused(store: Store, invite: tuple[str, int],
                                                        tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        fields = [("csrf", csrf), *answers().items(), (f"q__rigueur__{ITEMS[0]}", "0")]
        resp = await client.post(f"/referent/{token}", data=fields)
        assert resp.status == 400

    run(store, tmp_path, scenario)


@pytest.mark.parametrize("content_type,body", [
    ("application/json", b'{"statement": "oui"}'),
    ("text/plain", b"statement=oui"),
    ("multipart/form-data", b"no boundary"),
    ("multipart/form-data; boundary=xx", b"--xx\r\nbroken"),
    ("multipart/form-data; boundary=xx",
     b"--xx\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: zz\r\n"
     b"\r\n1\r\n--xx--\r\n"),
    ("application/x-www-form-urlencoded; charset=utf-8", b"statement=%FF%FE&csrf=\xff"),
])
def test_other_bodies_are_refused(store: Store, invite: tuple[str, int], tmp_path: Path,
                                  content_type: str, body: bytes) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        await open_form(client, token)
        resp = await client.post(f"/referent/{token}", data=body,
                                 headers={"Content-Type": content_type})
        page = await resp.text()
        assert resp.status in (400, 415), resp.status
        if content_type.startswith(("application/json", "text/plain")):
            assert resp.status == 415
        assert_page(page)

    run(store, tmp_path, scenario)


def test_huge_bodies_are_refused(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        resp, page = await post(client, token, answers(c__rigueur="x" * 70_000), csrf)
        assert resp.status == 413 and "trop long" in page

        async def chunks():  # no Content-Length
            yield f"csrf={csrf}&c__rigueur=".encode()
            for _ in range(80):
                yield b"x" * 1024

        resp = await client.post(f"/referent/{token}", data=chunks(),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert resp.status == 413

    run(store, tmp_path, scenario)
    assert store.invitation_by_token(token).invitation.state == "open"  # type: ignore[union-attr]


# --- rate limit ----------------------------------------------------------------------------------------


def test_rate_limit(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        for _ in range(3):
            assert (await client.get(f"/referent/{token}")).status == 200
        resp = await client.get(f"/referent/{token}")
        page = await resp.text()
        assert resp.status == 429 and "Doucement" in page
        assert 0 < int(resp.headers["Retry-After"]) <= 600
        assert_page(page)
        for _ in range(2):
            assert (await client.post(f"/referent/{token}", data={})).status == 403
        assert (await client.post(f"/referent/{token}", data={})).status == 429
        assert (await client.get("/referent/" + "B" * 43)).status == 429  # any link

    run(store, tmp_path, scenario, limiter=RateLimiter(get_limit=3, post_limit=2))


def test_rate_limiter_slides_and_stays_bounded() -> None:
    now = [1000.0]
    limiter = RateLimiter(get_limit=2, post_limit=1, window=60, max_addresses=3,
                          clock=lambda: now[0])
    assert limiter.hit("GET", "a") is None and limiter.hit("GET", "a") is None
    assert limiter.hit("GET", "a") == 60
    assert limiter.hit("POST", "a") is None and limiter.hit("POST", "a") == 60
    now[0] += 30
    assert limiter.hit("GET", "a") == 30
    now[0] += 31
    assert limiter.hit("GET", "a") is None  # the window slid
    for address in "bcdefg":
        limiter.hit("GET", address)
    assert len(limiter) == 3


# --- logs and accessibility ------------------------------------------------------------------------


def test_no_secret_in_logs_access_log_included(store: Store, invite: tuple[str, int],
                                               tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    token, _ = invite
    rasa = FakeRasa(statuses=(500,))

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        await post(client, token, answers({ITEMS[0]: "7"}), csrf)
        await post(client, token, answers(), csrf)
        await confirm_by_mail(client, token)  # the referent's address and code: not logged either
        await client.get("/referent/" + "Z" * 43)

    with caplog.at_level(logging.DEBUG):
        run(store, tmp_path, scenario, rasa=rasa)
    access = [r.getMessage() for r in caplog.records if r.name == "test.access"]
    assert any(line.startswith("GET /referent/… 200") for line in access)
    assert any(line.startswith("POST /referent/… 400") for line in access)
    assert any(line.startswith("POST /referent/… 200") for line in access)
    secrets = (token, "Z" * 43, SENDER, quote(SENDER, safe=""), "Karim", "Inès", "127.0.0.1",
               RASA_TOKEN, "karim@club.fr")
    for secret in secrets:
        assert secret not in caplog.text, secret
    assert len(rasa.calls) == 2


class A11yParser(HTMLParser):
    """Collects what the accessibility checks need."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.ids: list[str] = []
        self.label_for: set[str] = set()
        self.controls: list[tuple[dict[str, str], bool, Optional[dict[str, str]]]] = []
        self.fieldsets: list[dict[str, Any]] = []
        self.described: list[str] = []
        self.html_lang: Optional[str] = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.html_lang = a.get("lang")
        if "id" in a:
            self.ids.append(a["id"])
        if "aria-describedby" in a:
            self.described.extend(a["aria-describedby"].split())
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if tag == "fieldset":
            self.fieldsets.append({"legend": False, "attrs": a})
        if tag == "legend" and self.stack and self.stack[-1][0] == "fieldset":
            self.fieldsets[-1]["legend"] = True
        if tag in ("input", "textarea", "select"):
            in_label = any(t == "label" for t, _ in self.stack)
            fieldset = next((f for f in reversed(self.fieldsets)
                             if any(t == "fieldset" for t, _ in self.stack)), None)
            self.controls.append((a | {"tag": tag}, in_label, fieldset))
        if tag not in ("input", "meta", "link", "br", "img"):
            self.stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def check_accessibility(page: str) -> None:
    parser = A11yParser()
    parser.feed(page)
    assert parser.html_lang == "fr"
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    assert set(parser.described) <= set(parser.ids), "aria-describedby to a missing id"
    radios = 0
    for attrs, in_label, fieldset in parser.controls:
        if attrs.get("type") == "hidden":
            continue
        assert in_label or attrs.get("id") in parser.label_for, f"no label: {attrs}"
        if attrs.get("type") == "radio":
            radios += 1
            assert fieldset is not None and fieldset["legend"], f"radio outside a fieldset: {attrs}"
    assert radios > 0
    assert all(f["legend"] for f in parser.fieldsets)


def test_form_is_accessible(store: Store, tmp_path: Path) -> None:
    token, _ = store.create_invitation(SENDER, "Karim", "enseignant",
                                       ["rigueur", "autonomie", "communication"])

    async def scenario(client: TestClient) -> None:
        page, csrf = await open_form(client, token)
        check_accessibility(page)
        resp, errors = await post(client, token, {"c__rigueur": "x" * 1001}, csrf)
        assert resp.status == 400
        check_accessibility(errors)
        assert 'aria-describedby="hint-c__rigueur err-c__rigueur"' in errors

    run(store, tmp_path, scenario)


def test_stylesheet_has_big_targets_and_visible_focus() -> None:
    css = (Path(__file__).resolve().parents[2] / "bot" / "web" / "static" / "referent.css").read_text()
    assert "min-height: 44px" in css and ":focus-visible" in css
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    assert os.path.getsize(Path(__file__).resolve().parents[2] / "bot/web/static/referent.css") < 8_000


def test_invalid_utf8_in_the_form_is_refused(store: Store, invite: tuple[str, int], tmp_path: Path) -> None:
    """Issue 10 (low): a comment with bytes that are not UTF-8 (raw or percent-encoded) is
    refused with a clear page, not stored with replacement characters."""
    token, _ = invite

    async def scenario(client: TestClient) -> None:
        _, csrf = await open_form(client, token)
        for body in (f"csrf={csrf}&comment=Super%FF%FEboulot".encode(), b"csrf=" + csrf.encode() + b"&comment=\xff\xfe"):
            resp = await client.post(f"/referent/{token}", data=body,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
            page = await resp.text()
            assert resp.status == 400 and "illisible" in page, (resp.status, page[:200])
            assert_page(page)
        assert not store.invitation_of(SENDER, str(invite[1])).used_at  # nothing was recorded

    run(store, tmp_path, scenario)

"""Issue 10, item 6 — the web app and the public Rasa routes, hardened.

Through the real stack: a referent's comment reaches the web chat as plain text (no
Markdown link or image, no bidi or zero-width trick); the partner widget leaves nothing
of the conversation in the partner page; an export link needs a click (a POST with CSRF),
so a link preview cannot spend it; rate limits key on the real client address behind a
trusted proxy only, and per link; every Rasa route refuses big bodies; REST metadata is
not stored."""
from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

from bot.config import ROOT
from tests.e2e.conftest import free_port
from tests.e2e.test_challenger import Browser as PageBrowser
from tests.e2e.test_challenger import answer_page, form_fields, local
from tests.e2e.test_widget import _need_browser, partner_sites  # noqa: F401 - fixture
from tests.security.test_identity import Browser, web_senders

pytestmark = pytest.mark.e2e

BROWSER_DIR = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("ATOUTS_CHROMIUM", "/usr/bin/chromium")

MALICIOUS = ("Super boulot ! [Clique ici](https://evil.example/login) "
             "![pixel](https://evil.example/p.png?qui=toi) <https://evil.example/a> "
             "https://evil.example/b **gras** `code` \u202egnp.exe\u202c zéro\u200blargeur\ufeff")


def sender_of(token: str) -> str:
    """The conversation id of a web token: ``web:<id>`` (before issue 10: the token)."""
    return web_senders(token)[0] if "." in token else token


def prepare_invitation(store, sender: str, skill: str = "rigueur") -> str:
    """What Repérer and a self-assessment leave in the database; a referent link."""
    from bot.referentiel import default_referentiel

    store.migrate()
    store.record_consent(sender, True, "v1", "socketio")
    store.set_first_name(sender, "Inès")
    exp = store.add_experience(sender, "J'ai tenu la caisse tout l'été.")
    store.add_skill_claim(sender, exp, skill, 0.8, "confirmed", "je recompte la caisse")
    store.open_self_assessment(sender, skill)
    for item in default_referentiel().get(skill).items:
        store.record_self_answer(sender, skill, item.id, 3)
    store.complete_self_assessment(sender, skill)
    token, _ = store.create_invitation(sender, "Karim", "coach", [skill])
    return token


# --- a referent's comment in the web chat ---------------------------------------------------


def test_a_referent_comment_reaches_the_web_chat_as_plain_text(client, store) -> None:
    """Before: rasa-webchat rendered the comment as Markdown — a clickable phishing link and
    a remote image loaded at once (leaking the young person's address to its server)."""

    async def scenario() -> List[dict]:
        browser = Browser(client.rasa)
        token = await browser.open()
        await browser.say("/greet")
        link = f"{client.web}/referent/{prepare_invitation(store, sender_of(token))}"
        status, _ = await asyncio.to_thread(answer_page, client, link, "3", MALICIOUS)
        assert status == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
                "laissé un mot" in html.unescape(m.get("text") or "") for m in browser.received):
            await asyncio.sleep(0.3)
        await browser.close()
        return browser.received

    received = asyncio.run(scenario())
    comment = next((m["text"] for m in received if "laissé un mot" in html.unescape(m.get("text") or "")), None)
    assert comment is not None, received
    # Markdown syntax is ASCII punctuation: none may reach the widget raw (numeric
    # character references are shown as the character, never read as syntax)
    raw = re.sub(r"&#[0-9]+;", "", comment)
    syntax = sorted({c for c in raw if c.isascii() and not c.isalnum() and not c.isspace()})
    assert syntax == [], f"Markdown-significant characters reach the widget: {syntax} in {comment!r}"
    shown = html.unescape(comment)
    assert "[Clique ici](https://evil.example/login)" in shown  # shown as written, inert
    assert not [c for c in shown if unicodedata.category(c) in ("Cf", "Cc")], repr(shown)
    assert "zérolargeur" in shown and "gnp.exe" in shown


# --- export links need a click ----------------------------------------------------------------


def test_an_export_link_needs_a_click_a_preview_cannot_spend_it(client, store) -> None:
    sender = f"rest:sec-export-{uuid.uuid4().hex[:8]}"
    store.migrate()
    store.record_consent(sender, True, "v1", "rest")
    store.set_first_name(sender, "Inès")
    token = store.create_export_token(sender)
    url = f"{client.web}/mes-donnees/{token}"
    # a messenger's link preview, then the person: both only GET the page
    for _ in range(2):
        status, body, headers = client.get(url)
        assert status == 200 and headers["Content-Type"].startswith("text/html"), (status, body[:200])
        assert b'"app_data"' not in body and "Content-Disposition" not in headers
    browser = PageBrowser()
    status, page = browser.open(url)
    assert status == 200 and 'method="post"' in page
    # a forged POST (no CSRF field, no cookie) is refused and spends nothing
    status, _ = PageBrowser().open(url, {"csrf": "x"})
    assert status == 403
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf, page
    status, download = browser.open(url, {"csrf": csrf.group(1)})
    assert status == 200, download[:300]
    assert json.loads(download)["app_data"]["person"]["first_name"] == "Inès"
    status, again = browser.open(url, {"csrf": csrf.group(1)})
    assert status == 404 and "plus valable" in again  # single use


# --- body size and metadata on Rasa ---------------------------------------------------------


def test_every_rasa_route_refuses_a_big_body(client) -> None:
    big = json.dumps({"sender": "sec-big", "message": "a" * 2_000_000}).encode()
    for method, path in (("POST", "/webhooks/rest/webhook"), ("POST", "/model/parse"),
                         ("POST", "/conversations/sec-big/messages"),
                         ("PUT", "/conversations/sec-big/tracker/events")):
        request = urllib.request.Request(f"{client.rasa}{path}", data=big, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                status = resp.status
        except urllib.error.HTTPError as err:
            status = err.code
        except (ConnectionError, urllib.error.URLError):  # the server may close while we send
            status = 413
        assert status == 413, f"{method} {path} read a 2 MB body ({status})"


def test_rest_metadata_is_not_stored(client) -> None:
    sender = f"sec-meta-{uuid.uuid4().hex[:8]}"
    status, _ = client.post(f"{client.rasa}/webhooks/rest/webhook", json.dumps(
        {"sender": sender, "message": "/greet", "metadata": {"planted": "x" * 1000},
         "input_channel": "telegram"}).encode())
    assert status == 200
    with sqlite3.connect(client.stack.config.tracker_db) as db:
        rows = [json.loads(d) for (d,) in db.execute(
            "SELECT data FROM events WHERE type_name = 'user' AND sender_id LIKE ?", (f"%{sender}",))]
    assert rows, "the message was not stored"
    assert all("planted" not in json.dumps(r) for r in rows), rows
    assert all(r.get("input_channel") == "rest" for r in rows), "the body chose its input channel"


# --- rate limits: the real client behind a trusted proxy, and per link ----------------------


class WebApp:
    """One more web app process on the test stack's database, with its own settings."""

    def __init__(self, stack, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {**stack.env(), "ATOUTS_WEB_PORT": str(self.port), "ATOUTS_VAR_DIR": str(tmp),
                "ATOUTS_PUBLIC_URL": self.url, **env}
        self.proc = subprocess.Popen([sys.executable, "-m", "bot.web"], cwd=ROOT, env=full,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("web app did not start")

    def get(self, path: str, forwarded_for: Optional[str] = None) -> int:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=headers), timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as err:
            return err.code

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def fake_link() -> str:
    return "/referent/" + uuid.uuid4().hex + uuid.uuid4().hex[:11]


def test_rate_limits_key_on_the_real_client_behind_a_trusted_proxy(stack, tmp_path) -> None:
    """Before: keyed on the TCP peer — behind a proxy, one client locked every referent out."""
    app = WebApp(stack, tmp_path, ATOUTS_TRUSTED_PROXIES="127.0.0.1", ATOUTS_REFERENT_GET_LIMIT="3",
                 ATOUTS_REFERENT_TOKEN_LIMIT="100")
    try:
        noisy, other = "203.0.113.7", "198.51.100.9"
        assert [app.get(fake_link(), noisy) for _ in range(3)] == [404] * 3
        assert app.get(fake_link(), noisy) == 429
        # a client cannot escape by adding its own X-Forwarded-For entries (read right to left)
        assert app.get(fake_link(), f"192.0.2.1, {noisy}") == 429
        assert app.get(fake_link(), other) == 404, "one client's limit locked another out"
    finally:
        app.stop()


def test_an_untrusted_peer_cannot_pick_its_address(stack, tmp_path) -> None:
    app = WebApp(stack, tmp_path, ATOUTS_REFERENT_GET_LIMIT="3", ATOUTS_REFERENT_TOKEN_LIMIT="100")
    try:  # no trusted proxy: X-Forwarded-For is ignored
        statuses = [app.get(fake_link(), f"192.0.2.{n}") for n in range(5)]
        assert statuses == [404, 404, 404, 429, 429], statuses
    finally:
        app.stop()


def test_one_link_is_limited_whatever_the_address(stack, tmp_path) -> None:
    app = WebApp(stack, tmp_path, ATOUTS_TRUSTED_PROXIES="127.0.0.1", ATOUTS_REFERENT_GET_LIMIT="100",
                 ATOUTS_REFERENT_TOKEN_LIMIT="5")
    try:
        link = fake_link()
        statuses = [app.get(link, f"198.51.100.{n}") for n in range(7)]
        assert statuses == [404] * 5 + [429] * 2, statuses
        assert app.get(fake_link(), "198.51.100.200") == 404  # other links are not held up
    finally:
        app.stop()


# --- the partner widget keeps the session to itself --------------------------------------------


def test_the_widget_frame_posts_to_the_exact_partner_origin(client, partner_ports) -> None:
    allowed = f"http://127.0.0.1:{partner_ports['allowed']}"
    _, page, _ = client.get(f"{client.web}/widget?origin={allowed}")
    assert json.dumps(allowed)[1:-1] in page.decode()
    _, page, _ = client.get(f"{client.web}/widget?origin=https://evil.example")
    assert "evil.example" not in page.decode()
    _, script, _ = client.get(f"{client.web}/static/widget-frame.js")
    assert not re.search(rb"postMessage\([^)]*[\"']\*[\"']", script), "postMessage to any origin"


def test_the_partner_page_never_holds_the_chat_session(client, partner_sites) -> None:
    """Before: the loader kept the web session id in the partner page's sessionStorage and
    the iframe posted it to "*": any script of the partner page could take the chat over."""
    _need_browser()
    config = {"chromium": CHROMIUM, "partnerUrl": partner_sites["allowed"]}
    done = subprocess.run(["node", str(BROWSER_DIR / "widget_privacy.mjs"), json.dumps(config)],
                          cwd=BROWSER_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    assert "error" not in seen, seen
    session = seen["frameSession"]
    assert session, "the chat never got its session"
    assert seen["partnerSessionStorage"] == {} and seen["partnerLocalStorage"] == {}, seen
    leaked = [m for m in seen["partnerMessages"] if session.split(".")[0] in m]
    assert leaked == [], f"the session was posted to the partner page: {leaked}"
    assert session.split(".")[0] not in seen["frameUrl"]
    assert "atouts:close" in "".join(seen["partnerMessages"]), "the close button must still reach the page"


def test_the_web_app_runs_on_a_maintained_aiohttp(stack) -> None:
    """The web app and the mail catcher are the stack's only Python servers that are
    public (the chat page, referent pages, exports, badges): they run in their own
    environment (.venv-web), not on Rasa 3.6's aiohttp 3.9.5, whose server advisories
    (CVE-2025-69223, GHSA-3wq7-rqq7-wx6j) were fixed in 3.13.3."""
    web = [p for p in stack.processes if list(p.args)[1:3] == ["-m", "bot.web"]]
    assert len(web) == 1 and web[0].poll() is None
    interpreter = list(web[0].args)[0]
    assert interpreter != sys.executable, "the web app shares Rasa's environment"
    out = subprocess.run([interpreter, "-c", "import aiohttp, sys; print(aiohttp.__version__, *sys.version_info[:2])"],
                         capture_output=True, text=True, check=True).stdout.split()
    version = tuple(int(part) for part in out[0].split(".")[:3])
    assert version >= (3, 13, 4), out  # 3.13.3: CVE-2025-69223; 3.13.4: the 2026 server advisories
    # and the running process is that interpreter, serving the chat page
    assert os.path.realpath(f"/proc/{web[0].pid}/exe") == os.path.realpath(interpreter)
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.config.web_port}/", timeout=10) as response:
        assert response.status == 200

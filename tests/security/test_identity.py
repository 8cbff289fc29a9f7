"""Issue 10, item 3 — nobody takes over someone else's conversation.

Through the real stack: web sessions are issued and signed by the server (a chosen,
guessed, stolen-id or forged session reaches nothing), Socket.IO refuses a foreign
Origin, REST is off unless enabled, and sender ids are namespaced per channel (a
Telegram chat id sent over REST or the web names nobody)."""
from __future__ import annotations

import asyncio
import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
import socketio

from bot.config import ROOT
from bot.launcher import Stack, StackConfig
from tests.e2e.conftest import MODEL, free_port
from tests.e2e.test_telegram import TelegramChat, texts

pytestmark = pytest.mark.e2e

EVIL_ORIGIN = "https://evil.example"


# --- helpers ---------------------------------------------------------------------------


class Browser:
    """One Socket.IO client as rasa-webchat drives it: session_request, then user_uttered."""

    def __init__(self, rasa: str, origin: Optional[str] = None) -> None:
        self.rasa, self.origin = rasa, origin
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: List[Dict[str, Any]] = []
        self.token: Optional[str] = None
        self._confirmed = asyncio.Event()
        self.sio.on("bot_uttered", self._on_bot)
        self.sio.on("session_confirm", self._on_confirm)

    async def _on_bot(self, data: Dict[str, Any]) -> None:
        self.received.append(data)

    async def _on_confirm(self, token: Any) -> None:
        self.token = token.get("session_id") if isinstance(token, dict) else token
        self._confirmed.set()

    async def open(self, session_id: Optional[str] = None) -> str:
        headers = {"Origin": self.origin} if self.origin else {}
        await self.sio.connect(self.rasa, socketio_path="/socket.io", transports=["websocket"], headers=headers)
        self._confirmed.clear()
        await self.sio.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(self._confirmed.wait(), timeout=20)
        assert self.token
        return self.token

    async def say(self, text: str, session_id: Optional[str] = None, wait: float = 20) -> List[Dict[str, Any]]:
        before = len(self.received)
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id or self.token})
        deadline = asyncio.get_running_loop().time() + wait
        while len(self.received) == before and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # the rest of the turn
        return self.received[before:]

    async def close(self) -> None:
        await self.sio.disconnect()


def web_senders(token: str) -> Tuple[str, ...]:
    """The tracker ids a web token may be stored under: ``web:<id>`` (signed sessions)
    or the bare id (before issue 10)."""
    session = token.split(".", 1)[0]
    return (f"web:{session}", session, token)


def user_texts(tracker_db: Path, senders: Tuple[str, ...]) -> List[str]:
    marks = ",".join("?" * len(senders))
    with sqlite3.connect(tracker_db) as db:
        rows = db.execute(f"SELECT data FROM events WHERE type_name = 'user' AND sender_id IN ({marks}) ORDER BY id",
                          senders).fetchall()
    return [json.loads(data).get("text") for (data,) in rows]


def post_json(url: str, body: Dict[str, Any]) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


# --- the stack `make run` starts: REST off ---------------------------------------------


@pytest.fixture(scope="module")
def plain_stack(tmp_path_factory: pytest.TempPathFactory):
    """The assistant as `make run` starts it (no ATOUTS_ENABLE_REST, no platform)."""
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` first.")
    var = tmp_path_factory.mktemp("plain-var")
    config = StackConfig(model=MODEL, var_dir=var, rasa_port=free_port(), actions_port=free_port(),
                         web_port=free_port(), db_url=f"sqlite:///{var / 'atouts.db'}", mail_smtp_port=free_port(), mail_web_port=free_port())
    stack = Stack(config, log_dir=var / "logs")
    stack.start(timeout=300)
    yield stack
    stack.stop()


def rasa_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.config.rasa_port}"


def test_rest_is_off_unless_enabled(plain_stack: Stack) -> None:
    status = post_json(f"{rasa_url(plain_stack)}/webhooks/rest/webhook", {"sender": "x", "message": "/greet"})
    assert status == 404, f"REST answered {status} without ATOUTS_ENABLE_REST"
    runtime = (plain_stack.config.var_dir / "credentials.runtime.yml").read_text(encoding="utf-8")
    assert "RestInput" not in runtime and "channels.socketio.SocketIOInput" in runtime


def test_socketio_refuses_a_foreign_origin(plain_stack: Stack) -> None:
    own = plain_stack.env()["ATOUTS_PUBLIC_URL"]

    async def scenario() -> Tuple[bool, str]:
        evil = Browser(rasa_url(plain_stack), origin=EVIL_ORIGIN)
        try:
            await evil.open()
            refused = False
            await evil.close()
        except (socketio.exceptions.ConnectionError, asyncio.TimeoutError):
            refused = True
        ours = Browser(rasa_url(plain_stack), origin=own)
        token = await ours.open()
        await ours.close()
        return refused, token

    refused, token = asyncio.run(scenario())
    assert refused, "a page on another origin opened a chat session"
    assert token, "the web app's own origin must still connect"


def test_the_server_issues_web_sessions_a_client_cannot_choose_one(plain_stack: Stack) -> None:
    async def scenario() -> Tuple[str, str, str]:
        chosen = "mon-identifiant-choisi"
        first = Browser(rasa_url(plain_stack))
        given = await first.open(chosen)
        await first.say("/greet")
        await first.close()
        again = Browser(rasa_url(plain_stack))  # a page reload: the stored token comes back
        resumed = await again.open(given)
        await again.close()
        return chosen, given, resumed

    chosen, given, resumed = asyncio.run(scenario())
    assert given != chosen, "the server confirmed a session id the client chose"
    assert resumed == given, "a session the server issued must be resumed (reload keeps the conversation)"
    assert user_texts(plain_stack.config.tracker_db, web_senders(given)) == ["/greet"]
    assert user_texts(plain_stack.config.tracker_db, (chosen, f"web:{chosen}")) == []


def test_a_guessed_stolen_or_forged_web_session_reaches_nothing(plain_stack: Stack) -> None:
    """An attacker knows the victim's conversation id (from a log, a shoulder, a guess):
    asking for it, or for a forged signature, gives a new empty session; messages sent
    with it are refused; the victim's replies never reach the attacker."""

    async def scenario() -> Dict[str, Any]:
        victim = Browser(rasa_url(plain_stack))
        token = await victim.open()
        await victim.say("/greet")
        session = token.split(".", 1)[0]
        attempts = [session, f"web:{session}", f"{session}.{'A' * 43}", token.replace(token[-1], "B" if token[-1] != "B" else "C")]
        attacker = Browser(rasa_url(plain_stack))
        confirmed = []
        for attempt in attempts:
            confirmed.append(await attacker.open(attempt))
            await attacker.close()
            attacker = Browser(rasa_url(plain_stack))
        await attacker.open(attempts[0])
        for attempt in attempts:
            await attacker.say("/delete_my_data", session_id=attempt, wait=3)
        attacker.received.clear()
        await victim.say("/help")  # the victim's answer must reach the victim only
        await asyncio.sleep(1)
        leaked = list(attacker.received)
        await attacker.close()
        await victim.close()
        return {"token": token, "attempts": attempts, "confirmed": confirmed, "leaked": leaked}

    seen = asyncio.run(scenario())
    assert seen["token"] not in seen["confirmed"], "the server confirmed the victim's session to someone else"
    assert not set(seen["attempts"]) & set(seen["confirmed"]), "a client-chosen id was confirmed"
    said = user_texts(plain_stack.config.tracker_db, web_senders(seen["token"]))
    assert "/delete_my_data" not in said, said
    assert said[:1] == ["/greet"] and "/help" in said
    assert seen["leaked"] == [], "the victim's messages reached the attacker's socket"


# --- sender ids namespaced per channel (the test stack: REST enabled, Telegram on) --------


def _person(app_db: str, candidates: Tuple[str, ...]) -> Optional[Tuple[str, Optional[str]]]:
    marks = ",".join("?" * len(candidates))
    with sqlite3.connect(app_db.removeprefix("sqlite:///")) as db:
        return db.execute(f"SELECT sender_id, first_name FROM persons WHERE sender_id IN ({marks})",
                          candidates).fetchone()


def test_a_telegram_chat_id_names_nobody_over_rest_or_the_web(client, fake_telegram) -> None:
    """Before: Telegram chat ids, PSIDs, web sessions and REST senders were one namespace,
    so knowing someone's Telegram id was enough to erase (or export) their data."""
    victim = TelegramChat(client, fake_telegram)
    welcome = victim.say("/start")
    consent = next(r for r in welcome if "/affirm" in r.data())
    victim.tap(consent, "/affirm")
    assert "Inès" in texts(victim.say("Inès"))
    chat_id = str(victim.chat_id)
    candidates = (chat_id, f"tg:{chat_id}")
    app_db = client.stack.config.app_db_url
    stored = _person(app_db, candidates)
    assert stored is not None and stored[1] == "Inès"
    assert stored[0] == f"tg:{chat_id}", f"Telegram's sender id is not namespaced: {stored[0]!r}"

    # over REST (enabled for the tests) with the bare and the prefixed chat id
    for sender in (chat_id, f"tg:{chat_id}"):
        for text in ("/delete_my_data", "/affirm"):
            client.say(sender, text)

    # over the web chat, asking for the chat id as a session
    async def web_attack() -> List[str]:
        confirmed = []
        for attempt in (chat_id, f"tg:{chat_id}"):
            browser = Browser(client.rasa)
            confirmed.append(await browser.open(attempt))
            for text in ("/delete_my_data", "/affirm"):
                await browser.say(text, session_id=attempt, wait=3)
            await browser.close()
        return confirmed

    confirmed = asyncio.run(web_attack())
    assert chat_id not in confirmed and f"tg:{chat_id}" not in confirmed
    assert _person(app_db, candidates) == stored, "the Telegram person's data was reached from another channel"
    said = user_texts(client.stack.config.tracker_db, (f"tg:{chat_id}",))
    assert said[:1] == ["/greet"] and "/delete_my_data" not in said, said
    # the REST attempts stayed in REST's own namespace
    assert _person(app_db, (f"rest:{chat_id}", f"rest:tg:{chat_id}")) is None


def test_rest_senders_are_namespaced(client) -> None:
    client.say("security-rest-sender", "/greet")
    with sqlite3.connect(client.stack.config.tracker_db) as db:
        ids = {s for (s,) in db.execute("SELECT DISTINCT sender_id FROM events WHERE sender_id LIKE ?",
                                        ("%security-rest-sender",))}
    assert ids == {"rest:security-rest-sender"}, ids

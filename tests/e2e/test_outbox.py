"""Notices that could not be delivered live (a referent answered, a badge, a follow-up
reminder) reach the person once, at their next message, under « Pendant ton absence… ».
Over HTTP against the real Rasa server, action server and web app on the trained model."""
from __future__ import annotations

import asyncio
import html
import sqlite3
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import pytest
import socketio

from tests.e2e.test_challenger import answer_page, reach_confirmed_skills, texts
from tests.e2e.test_progresser import ask_resources

pytestmark = pytest.mark.e2e

MISSED = "Pendant ton absence"
SKILL = "rigueur"


def notices(client, sender: str) -> List[Dict[str, Any]]:
    """The person's outbox rows, read straight from the app database."""
    path = client.stack.config.app_db_url[len("sqlite:///"):]
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT o.kind, o.text, o.delivered_at, o.delivered_how FROM outbox o "
            "JOIN persons p ON p.id = o.person_id WHERE p.sender_id = ? ORDER BY o.id", (sender,)).fetchall()
    return [dict(row) for row in rows]


def ready_for_referent(store, sender: str, channel: str) -> str:
    """What Repérer and the self-assessment leave in the database; returns the referent link."""
    from bot.referentiel import default_referentiel

    store.migrate()  # a no-op when the action server already did it
    store.record_consent(sender, True, "v1", channel)
    store.set_first_name(sender, "Inès")
    exp = store.add_experience(sender, "J'ai tenu la caisse tout l'été.")
    store.add_skill_claim(sender, exp, SKILL, 0.8, "confirmed", "je recompte la caisse")
    store.open_self_assessment(sender, SKILL)
    for item in default_referentiel().get(SKILL).items:
        store.record_self_answer(sender, SKILL, item.id, 3)
    store.complete_self_assessment(sender, SKILL)
    token, _ = store.create_invitation(sender, "Karim", "coach", [SKILL])
    return f"/referent/{token}"


def wait_until(predicate, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def bot_said(client, sender: str) -> List[str]:
    from tests.e2e.test_challenger import bot_texts

    return bot_texts(client, sender)


def test_referent_answer_while_away_on_rest_comes_once_at_the_next_message(client, store) -> None:
    sender = f"rest:e2e-outbox-rest-{uuid.uuid4().hex[:6]}"  # as REST stores it
    client.say(sender, "salut")  # the person's last channel is REST: nothing can be pushed
    link = ready_for_referent(store, sender, "rest")
    status, _ = answer_page(client, client.web + link, "3", comment="Toujours carré, bravo Inès !")
    assert status == 200
    # the bot produced the notice (in the conversation) but REST could not push it
    wait_until(lambda: any("Karim, ton coach, a répondu" in t for t in bot_said(client, sender)),
               what="the referent notice")

    messages = client.say(sender, "merci")
    said = texts(messages)
    # the header, then one bubble per notice (the referent's answer, the badge), then the answer
    assert messages and (messages[0].get("text") or "").startswith(MISSED), said
    referent, badge = messages[1]["text"], messages[2]["text"]
    assert "Karim" in referent and "coach" in referent
    assert "Toujours carré, bravo Inès !" in referent  # the comment
    assert "confirmé" in referent.lower()  # the level
    assert "badge" in badge and "/badges/" in badge
    assert all(len(m["text"]) < 400 for m in messages[:3]), said  # phone-sized
    assert said.count(MISSED) == 1
    assert len(messages) > 3  # the answer to « merci » follows the missed notices

    again = client.say(sender, "merci")
    assert MISSED not in texts(again) and "Toujours carré" not in texts(again), texts(again)
    rows = notices(client, sender)
    assert {r["kind"] for r in rows} == {"referent", "badge"}
    assert all(r["delivered_how"] == "later" and r["delivered_at"] for r in rows), rows


def test_follow_up_reminder_while_away_on_rest_comes_once_at_the_next_message(client, store) -> None:
    sender = f"rest:e2e-outbox-follow-{uuid.uuid4().hex[:6]}"
    reach_confirmed_skills(client, sender)
    messages = ask_resources(client, sender)
    assert "Je te relance dans" in texts(messages), texts(messages)
    messages = client.say(sender, "oui")  # the follow-up is welcome (4 s in the tests)
    assert "Je te relance dans" in texts(messages), texts(messages)
    wait_until(lambda: any("Tu as pu essayer" in t for t in bot_said(client, sender)), timeout=30,
               what="the follow-up reminder")

    messages = client.say(sender, "coucou")
    assert messages and (messages[0].get("text") or "").startswith(MISSED), texts(messages)
    assert "essayer" in messages[1]["text"] and "raconte" in messages[1]["text"].lower()
    assert texts(messages).count(MISSED) == 1

    again = client.say(sender, "coucou")
    assert MISSED not in texts(again), texts(again)
    rows = notices(client, sender)
    assert [r["kind"] for r in rows] == ["follow_up"]
    assert rows[0]["delivered_how"] == "later"


async def _session(client, token: Optional[str], received: list) -> Tuple[socketio.AsyncClient, str]:
    """A page of the web chat: a session issued by the server (channels/socketio.py), or
    the one the page kept (``token``). Returns the client and the session token."""
    sio = socketio.AsyncClient(reconnection=False)
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()

    @sio.on("bot_uttered")
    async def on_bot(data):  # noqa: ANN001
        received.append(data)

    sio.on("session_confirm", lambda t: confirmed.done() or confirmed.set_result(t))
    await sio.connect(client.rasa, socketio_path="/socket.io", transports=["websocket"])
    await sio.emit("session_request", {"session_id": token})
    return sio, await asyncio.wait_for(confirmed, timeout=20)


def web_sender(token: str) -> str:
    """The conversation id of a web session token: ``web:<session>``."""
    return "web:" + token.split(".")[0]


async def _say(sio: socketio.AsyncClient, session_id: str, text: str, received: list, wait: float = 4) -> list:
    start = len(received)
    await sio.emit("user_uttered", {"message": text, "session_id": session_id})
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return received[start:]


def test_open_socketio_page_gets_it_live_and_not_again(client, store) -> None:
    who: Dict[str, str] = {}

    async def scenario() -> tuple:
        received: list = []
        sio, token = await _session(client, None, received)
        who["sender"] = web_sender(token)
        try:
            await _say(sio, token, "/greet", received, wait=2)
            link = ready_for_referent(store, who["sender"], "socketio")
            status, _ = await asyncio.to_thread(answer_page, client, client.web + link, "3", "Super boulot !")
            assert status == 200
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                    (m.get("attachment") or {}).get("type") == "image" for m in received):
                await asyncio.sleep(0.2)
            live = list(received)
            after = await _say(sio, token, "merci", received)
        finally:
            await sio.disconnect()
        return live, after

    live, after = asyncio.run(scenario())
    # a referent's words reach the web chat as inert text (punctuation as &#NN;)
    live_texts = [html.unescape(m.get("text") or "") for m in live]
    assert "Karim, ton coach, a répondu ! 🎉" in live_texts, live_texts
    assert any("Super boulot !" in t for t in live_texts)
    assert after, "no answer to the next message"
    assert not any(MISSED in (m.get("text") or "") for m in after), after
    rows = notices(client, who["sender"])
    assert {r["kind"] for r in rows} == {"referent", "badge"}
    assert all(r["delivered_how"] == "live" for r in rows), rows


def test_closed_socketio_page_gets_it_at_the_next_message(client, store) -> None:
    """The page was closed (socket gone) when the referent answered: Socket.IO would emit
    into an empty room. Coming back to the same conversation, the next message brings it."""
    async def first_visit() -> str:
        received: list = []
        sio, token = await _session(client, None, received)
        try:
            await _say(sio, token, "/greet", received, wait=2)
        finally:
            await sio.disconnect()
        return token

    token = asyncio.run(first_visit())
    session_id = web_sender(token)
    link = ready_for_referent(store, session_id, "socketio")
    status, _ = answer_page(client, client.web + link, "3", comment="Tu peux être fière.")
    assert status == 200
    wait_until(lambda: any("Karim, ton coach, a répondu" in t for t in bot_said(client, session_id)),
               what="the referent notice")

    async def second_visit() -> list:
        received: list = []
        sio, _ = await _session(client, token, received)  # the page kept its session
        try:
            first = await _say(sio, token, "coucou", received)
            second = await _say(sio, token, "coucou", received)
        finally:
            await sio.disconnect()
        return [first, second]

    first, second = asyncio.run(second_visit())
    first_texts = [m.get("text") or "" for m in first]
    assert first_texts and first_texts[0].startswith(MISSED), first_texts
    assert any("Tu peux être fière." in t for t in first_texts), first_texts
    assert not any(MISSED in (m.get("text") or "") for m in second), second
    rows = notices(client, session_id)
    assert rows and all(r["delivered_how"] == "later" for r in rows), rows

"""The chat page and its Socket.IO channel, as the browser widget uses them."""
from __future__ import annotations

import asyncio

import pytest
import socketio

pytestmark = pytest.mark.e2e


def test_chat_page_points_the_widget_at_rasa(client):
    status, body, headers = client.get(client.web + "/")
    page = body.decode()
    assert status in (200, 503)
    assert 'lang="fr"' in page and "Atouts" in page
    if status == 200:
        assert "rasa-webchat" in page or "chat.js" in page


async def issued_session(sio) -> str:  # noqa: ANN001
    """session_request without an id: the server issues a signed session (channels/socketio.py)."""
    confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
    sio.on("session_confirm", lambda token: confirmed.done() or confirmed.set_result(token))
    await sio.emit("session_request", {"session_id": None})
    return await asyncio.wait_for(confirmed, timeout=20)


def test_socketio_session_gets_the_welcome_and_keeps_its_session(client):
    """What rasa-webchat does: session_request, then user_uttered; replies come back
    as bot_uttered in the session's room (needs python-socketio < 5.10, see README)."""

    async def scenario() -> list:
        received: list = []
        got_two = asyncio.Event()
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("bot_uttered")
        async def on_bot(data):  # noqa: ANN001
            received.append(data)
            if len(received) >= 2:
                got_two.set()

        await sio.connect(client.rasa, socketio_path="/socket.io", transports=["websocket"])
        session_id = await issued_session(sio)
        await sio.emit("user_uttered", {"message": "/greet", "session_id": session_id})
        try:
            await asyncio.wait_for(got_two.wait(), timeout=30)
        finally:
            await sio.disconnect()
        return received

    messages = asyncio.run(scenario())
    assert any("Atouts" in (m.get("text") or "") for m in messages), messages
    buttons = [b for m in messages for b in (m.get("quick_replies") or m.get("buttons") or [])]
    assert buttons, messages


def test_referent_answer_reaches_the_open_chat_page_proactively(client, store):
    """The widget is open (Socket.IO); a referent answers on their page: the person sees
    « Karim, ton coach, a répondu ! » and the badge without writing anything."""
    from tests.e2e.test_challenger import answer_page

    skill = "rigueur"

    def prepare(session_id: str) -> str:  # what Repérer and the self-assessment left in the database
        from bot.referentiel import default_referentiel

        store.migrate()  # a no-op when the action server already did it
        store.record_consent(session_id, True, "v1", "socketio")
        store.set_first_name(session_id, "Inès")
        exp = store.add_experience(session_id, "J'ai tenu la caisse tout l'été.")
        store.add_skill_claim(session_id, exp, skill, 0.8, "confirmed", "je recompte la caisse")
        store.open_self_assessment(session_id, skill)
        for item in default_referentiel().get(skill).items:
            store.record_self_answer(session_id, skill, item.id, 3)
        store.complete_self_assessment(session_id, skill)
        token, _ = store.create_invitation(session_id, "Karim", "coach", [skill])
        return f"{client.web}/referent/{token}"

    async def scenario() -> list:
        received: list = []
        answered = asyncio.Event()
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("bot_uttered")
        async def on_bot(data):  # noqa: ANN001
            received.append(data)
            # the badge's text comes first, then its image: wait for the image
            if (data.get("attachment") or {}).get("type") == "image":
                answered.set()

        await sio.connect(client.rasa, socketio_path="/socket.io", transports=["websocket"])
        token = await issued_session(sio)
        await sio.emit("user_uttered", {"message": "/greet", "session_id": token})
        await asyncio.sleep(2)
        link = prepare("web:" + token.split(".", 1)[0])  # the conversation id of the token
        status, _ = await asyncio.to_thread(answer_page, client, link, "3")
        assert status == 200
        try:
            await asyncio.wait_for(answered.wait(), timeout=30)
        finally:
            await sio.disconnect()
        return received

    messages = asyncio.run(scenario())
    texts = [m.get("text") or "" for m in messages]
    assert "Karim, ton coach, a répondu ! 🎉" in texts, texts
    images = [m["attachment"]["payload"]["src"] for m in messages if (m.get("attachment") or {}).get("type") == "image"]
    assert len(images) == 1 and images[0].endswith("/image.png") and "/badges/" in images[0], messages

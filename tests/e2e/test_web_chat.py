"""The chat page and its Socket.IO channel, as the browser widget uses them."""
from __future__ import annotations

import asyncio
import uuid

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


def test_socketio_session_gets_the_welcome_and_keeps_its_session(client):
    """What rasa-webchat does: session_request, then user_uttered; replies come back
    as bot_uttered in the session's room (needs python-socketio < 5.10, see README)."""

    async def scenario() -> list:
        received: list = []
        got_two = asyncio.Event()
        sio = socketio.AsyncClient(reconnection=False)
        session_id = f"web-{uuid.uuid4().hex[:8]}"

        @sio.on("bot_uttered")
        async def on_bot(data):  # noqa: ANN001
            received.append(data)
            if len(received) >= 2:
                got_two.set()

        await sio.connect(client.rasa, socketio_path="/socket.io", transports=["websocket"])
        await sio.emit("session_request", {"session_id": session_id})
        await asyncio.sleep(0.5)
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

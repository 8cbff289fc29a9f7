"""The web chat's Socket.IO channel (``channels.socketio.SocketIOInput``, name
``socketio``): Rasa 3.6's channel with server-issued, signed sessions and an Origin check.

- **Sessions are issued by the server.** On ``session_request`` the browser's stored
  session token is checked (``bot.sender_ids.WebSessions``: ``<id>.<HMAC>``); a missing,
  client-chosen or forged one is refused and a fresh token is confirmed instead, so a
  client can never pick a conversation. Every ``user_uttered`` must carry a valid token;
  the conversation id is ``web:<id>`` (never the token, never the client's choice).
- **Origin.** A browser's handshake must come from an allowed origin (the web app's own:
  the chat page and the partner widget's iframe are served by it); another origin is
  refused at ``connect``. A client that sends no Origin is not a browser page, and an
  attacker's page cannot hide its Origin.
- Client ``metadata`` is not stored; texts are capped; the Socket.IO buffer is 64 KB.
- Bot messages sent with ``atouts_plain=True`` (a referent's comment) reach the widget
  as plain text: rasa-webchat renders Markdown, so every punctuation character is
  turned into a numeric character reference (shown as itself, never a link or image).
- **Outbox.** Rasa's ``SocketIOOutput`` emits into the conversation's room whether or
  not a socket is in it, so a proactive message to a closed page or a dropped socket
  would be lost. Ours asks the Socket.IO server who is in the room: a notice is sent
  live, and marked delivered, only when a socket of the session is connected;
  otherwise it waits for the person's next message (« Pendant ton absence… »,
  ``channels/outbox.py``). A socket that vanished without closing stays in the room
  until the ping times out (25 s + 20 s): a notice sent then counts as delivered.
"""
from __future__ import annotations

import inspect
import logging
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput as RasaSocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.sender_ids import WebSessions, load_session_secret
from bot.text import clean_text, markdown_inert
from channels.outbox import NoticeAware, with_missed

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 20_000
MAX_BUFFER = 64 * 1024
EXPIRED = "Ta discussion a été interrompue : recharge la page pour la reprendre 🙂"


def _origins(value: object) -> List[str]:
    if isinstance(value, str):
        items: Iterable[object] = re.split(r"[\s,]+", value)
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        items = []
    return [str(o).strip().rstrip("/").lower() for o in items if str(o).strip()]


def default_origins() -> List[str]:
    """ATOUTS_CORS_ORIGINS, else the web app's public origin (ATOUTS_PUBLIC_URL)."""
    configured = _origins(os.environ.get("ATOUTS_CORS_ORIGINS", ""))
    if configured:
        return configured
    port = os.environ.get("ATOUTS_WEB_PORT", "8080").strip() or "8080"
    public = urllib.parse.urlsplit(os.environ.get("ATOUTS_PUBLIC_URL", "").strip() or f"http://localhost:{port}")
    own = [f"{public.scheme}://{public.netloc}".lower(), f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    return list(dict.fromkeys(own))


class SocketIOOutput(NoticeAware, RasaSocketIOOutput):
    def __init__(self, sio: Any, bot_message_evt: Text, namespace: Optional[Text] = None) -> None:
        super().__init__(sio, bot_message_evt)
        self.namespace = namespace or "/"

    async def reachable(self, recipient_id: Text) -> bool:
        """Is a socket of this conversation connected right now?"""
        try:
            return any(True for _ in self.sio.manager.get_participants(self.namespace, recipient_id))
        except KeyError:  # no socket ever joined this namespace
            return False

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        if kwargs.get("atouts_plain"):
            await self._send_message(recipient_id, {"text": markdown_inert(clean_text(text))})
            return
        await super().send_text_message(recipient_id, text, **kwargs)


class SocketIOInput(RasaSocketIOInput):
    """See the module docstring. Credentials (``credentials.yml``): Rasa's, plus
    ``allowed_origins`` (list; default :func:`default_origins`)."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        channel = cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            True,  # sessions are always the signed tokens (a reload keeps the conversation)
            credentials.get("socketio_path", "/socket.io"),
            credentials.get("jwt_key"),
            credentials.get("jwt_method", "HS256"),
            credentials.get("metadata_key", "metadata"),
        )
        channel.allowed_origins = _origins(credentials.get("allowed_origins")) or default_origins()
        return channel

    allowed_origins: List[str] = []
    _sessions: Optional[WebSessions] = None

    @property
    def sessions(self) -> WebSessions:
        if self._sessions is None:
            var_dir = Path(os.environ.get("ATOUTS_VAR_DIR", "").strip() or Path(__file__).resolve().parents[1] / "var")
            self._sessions = WebSessions(load_session_secret(var_dir))
        return self._sessions

    def get_output_channel(self) -> Optional[OutputChannel]:
        if self.sio is None:
            return super().get_output_channel()
        return SocketIOOutput(self.sio, self.bot_message_evt, self.namespace)

    def origin_allowed(self, origin: Optional[str]) -> bool:
        if origin is None:  # not a browser page (browsers always send it cross-origin)
            return True
        return origin.strip().rstrip("/").lower() in (self.allowed_origins or default_origins())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        on_new_message = with_missed(on_new_message)  # « Pendant ton absence… » first
        # CORS headers of the polling transport are Sanic's (--cors); the Origin is checked at connect
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], max_http_buffer_size=MAX_BUFFER)
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        self.sessions  # noqa: B018 - the secret is read (or created) before the first visitor

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict]) -> bool:
            if not self.origin_allowed(environ.get("HTTP_ORIGIN")):
                logger.warning("socket.io connection refused: origin not allowed")
                return False
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            given = data.get("session_id") if isinstance(data, dict) else None
            token = given if self.sessions.verify(given) else None
            if token is None:
                if given:
                    logger.info("web session refused (not issued by us): a new one is issued")
                token = self.sessions.issue()
            sender_id = self.sessions.verify(token)
            entered = sio.enter_room(sid, sender_id, namespace=self.namespace)
            if inspect.isawaitable(entered):  # python-socketio >= 5.10
                await entered
            await sio.save_session(sid, {"sender_id": sender_id}, namespace=self.namespace)
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Dict) -> None:
            if not isinstance(data, dict):
                return
            sender_id = self.sessions.verify(data.get("session_id"))
            if sender_id is None:
                logger.warning("web message refused: session not issued by us")
                await sio.emit(self.bot_message_evt, {"text": EXPIRED}, room=sid, namespace=self.namespace)
                return
            message = data.get("message", "")
            if not isinstance(message, str):
                return
            output_channel = SocketIOOutput(sio, self.bot_message_evt, self.namespace)
            await on_new_message(UserMessage(
                message[:MAX_MESSAGE_CHARS], output_channel, sender_id,
                input_channel=self.name(), metadata=None,
            ))

        return socketio_webhook

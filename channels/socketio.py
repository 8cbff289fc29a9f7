"""Socket.IO (the chat page and the partner widget): Rasa's channel, plus the outbox.

Rasa's ``SocketIOOutput`` emits into the room named after the conversation
(``session_persistence``: the session id) whether or not a socket is in it, so a
proactive message to a closed page or a dropped socket is lost without a trace. Ours
asks the Socket.IO server who is in the room: a notice is sent live, and marked
delivered, only when a socket of the session is connected; otherwise it waits for the
person's next message (« Pendant ton absence… », ``channels/outbox.py``).

A socket that vanished without closing (phone asleep, network gone) stays in the room
until the server's ping times out (python-socketio: 25 s interval + 20 s timeout): a
notice sent in that window is taken for delivered.
"""
from __future__ import annotations

from typing import Any, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput as RasaSocketIOOutput
from sanic import Blueprint

from channels.outbox import NoticeAware, OnNewMessage, with_missed


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


class SocketIOInput(RasaSocketIOInput):
    """Same name and settings as Rasa's ``socketio`` channel (credentials.yml)."""

    def get_output_channel(self) -> Optional[SocketIOOutput]:
        if self.sio is None:
            return super().get_output_channel()  # type: ignore[return-value]  # Rasa's warning, None
        return SocketIOOutput(self.sio, self.bot_message_evt, self.namespace)

    def _ours(self, message: UserMessage) -> None:
        """Rasa's handler builds its own SocketIOOutput for each message (also the one
        reminders use later): swap it for ours."""
        if self.sio is not None and not isinstance(message.output_channel, SocketIOOutput):
            message.output_channel = SocketIOOutput(self.sio, self.bot_message_evt, self.namespace)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return super().blueprint(with_missed(on_new_message, adapt=self._ours))

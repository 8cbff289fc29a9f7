"""REST channel (``POST /webhooks/rest/webhook``) for tests and benchmarks.

**Off unless ATOUTS_ENABLE_REST=1**: the launcher only writes it into the runtime
credentials then (the e2e tests and ``make bench`` set it). Anyone who can reach it
talks as the ``sender`` they name, so it is never a public channel.

Compared with Rasa's RestInput: malformed bodies get 400 with a short reason (Rasa
answers 500 to ``[]``), the sender id is namespaced ``rest:<sender>`` (a Telegram chat
id or a web session sent here reaches no one else's conversation), the input channel is
always ``rest`` (the body cannot claim another one) and the body's ``metadata`` is not
stored in the tracker. REST cannot push: notices produced meanwhile (a referent answered…) come first in
the answer to the person's next message (``channels/outbox.py``).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint
from sanic.exceptions import InvalidUsage as BadRequest  # HTTP 400
from sanic.request import Request

from bot.sender_ids import REST, namespaced
from channels.outbox import OnNewMessage, with_missed

MAX_MESSAGE_CHARS = 20_000
ENABLE_ENV = "ATOUTS_ENABLE_REST"


def _body(request: Request) -> Dict[str, Any]:
    try:
        body = request.json
    except Exception as exc:  # sanic raises its own error types for bad JSON
        raise BadRequest("Le corps de la requête doit être du JSON.") from exc
    if not isinstance(body, dict):
        raise BadRequest('Le corps doit être un objet JSON : {"sender": "...", "message": "..."}.')
    return body


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = _body(req).get("sender")
        if not isinstance(sender, str) or not 0 < len(sender) <= 255:
            raise BadRequest("'sender' doit être un texte de 1 à 255 caractères.")
        return namespaced(REST, sender)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        return super().blueprint(with_missed(on_new_message))  # « Pendant ton absence… » first

    def _extract_message(self, req: Request) -> Optional[Text]:
        message = _body(req).get("message")
        if message is None:
            return ""
        if not isinstance(message, str):
            raise BadRequest("'message' doit être un texte.")
        return message[:MAX_MESSAGE_CHARS]

    def _extract_input_channel(self, req: Request) -> Text:
        return self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        return None  # never stored: a client could write anything into the tracker

"""Facebook Messenger connector: a Rasa custom channel speaking the Graph API with aiohttp.

Enabled by the launcher when ``ATOUTS_MESSENGER_PAGE_TOKEN`` is set (credentials key
``channels.messenger.MessengerInput``); webhook at ``/webhooks/messenger/webhook``.

How Messenger behaves, and what we do about it:

- Facebook retries a delivery that is not answered 200 quickly, and batches several
  events (several senders, several pages) into one POST. So the webhook checks the
  signature, parses, answers 200 at once and handles *every* event in background
  tasks; message ids are deduplicated durably (``channels.common.Deliveries``), and one
  sender's events are handled one at a time, in delivery order (``KeyedLocks``).
- Quick replies hold at most 13 choices with titles of 20 characters: longer titles are
  shortened with "…", extra choices are offered as text to type.
- The Graph API fails now and then: transient errors are retried with backoff
  (0.5 s, 2 s, 4 s), permanent ones are logged (code and type only) and dropped.

Privacy: we never log tokens, PSIDs or message texts.

``python -m channels.messenger setup`` configures the page's Get Started button, greeting
and persistent menu.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import re
import sys
from dataclasses import dataclass
from typing import (Any, Awaitable, Callable, Dict, List, Literal, Mapping, Optional, Sequence,
                    Set, Tuple)

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.sender_ids import MESSENGER, namespaced, raw_id
from channels.common import CONTACT_LINK, Deliveries, KeyedLocks, env, plain_text, split_text
from channels.outbox import NoticeAware, with_missed

log = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com/v19.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"

# Messenger Platform limits (Send API reference).
TEXT_LIMIT = 2000
QUICK_REPLIES_MAX = 13
TITLE_LIMIT = 20
PAYLOAD_LIMIT = 1000
# A real delivery is a few KB (texts are at most 2000 characters); refuse absurd bodies
# before hashing or parsing them.
MAX_BODY_BYTES = 512 * 1024
MAX_MESSAGE_CHARS = 20_000  # same cap as our REST channel

# Graph error policy: retry what Facebook calls transient, never what cannot succeed.
RETRY_DELAYS: Tuple[float, ...] = (0.5, 2.0, 4.0)
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 341, 613})
PERMANENT_CODES = frozenset({10, 100, 190, 200, 230, 551})
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=10)

# What the person reads (French, "tu").
SORRY = "Oups, un souci de mon côté 😕 Réessaie dans un instant."
TEXT_ONLY = "Je ne lis que le texte pour l'instant 🙂"
TYPE_IT = "Tu peux aussi écrire ta réponse."
EMPTY_WITH_CHOICES = "👇"  # Messenger refuses quick replies without a text

Kind = Literal["text", "quick_reply", "postback", "attachment"]
MessagingType = Literal["RESPONSE", "UPDATE"]


# --- settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class MessengerSettings:
    page_token: str
    app_secret: str
    verify_token: str
    graph_url: str = DEFAULT_GRAPH_URL

    @classmethod
    def from_env(cls) -> "MessengerSettings":
        return cls(
            page_token=env("ATOUTS_MESSENGER_PAGE_TOKEN"),
            app_secret=env("ATOUTS_MESSENGER_APP_SECRET"),
            verify_token=env("ATOUTS_MESSENGER_VERIFY_TOKEN"),
            graph_url=env("ATOUTS_MESSENGER_GRAPH_URL", DEFAULT_GRAPH_URL).rstrip("/"),
        )

    def __repr__(self) -> str:  # secrets never end up in a log line or a traceback
        return f"MessengerSettings(graph_url={self.graph_url!r})"


# --- webhook: verification, signature, parsing ------------------------------------


def verify_subscription(verify_token: str, args: Mapping[str, str]) -> Optional[str]:
    """The hub.challenge to echo back when Facebook's subscription check is ours, else None."""
    given = args.get("hub.verify_token") or ""
    if not verify_token or args.get("hub.mode") != "subscribe":
        return None
    if not hmac.compare_digest(given.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    return args.get("hub.challenge") or ""


def sign(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Facebook computes over the raw body."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(app_secret: str, body: bytes, header: Optional[str]) -> bool:
    """Constant-time check of the raw body's signature; no secret, no trust."""
    if not app_secret or not header:
        return False
    return hmac.compare_digest(sign(app_secret, body).encode("ascii"),
                               header.strip().encode("utf-8", "replace"))


class BadDelivery(ValueError):
    """The body is not a Messenger page delivery (answered 400)."""


@dataclass(frozen=True)
class Incoming:
    """One person's input, ready for Rasa (or for a short answer when it is not text)."""

    sender: str
    delivery_id: str
    kind: Kind
    text: str
    page_id: str = ""
    timestamp: int = 0


def user_text(text: str) -> str:
    """What a person typed. A leading "/" would make Rasa read it as an intent payload
    (« /delete_my_data ») : only our buttons may do that, so it is stripped."""
    return text.strip().lstrip("/").strip()[:MAX_MESSAGE_CHARS]


def _postback_id(sender: str, timestamp: object, payload: str) -> str:
    # Older postbacks carry no mid: the same tap retried has the same sender, time, payload.
    raw = f"{sender}|{timestamp}|{payload}".encode("utf-8")
    return "pb:" + hashlib.sha256(raw).hexdigest()[:40]


def _sender_id(event: Dict[str, Any]) -> str:
    sender = event.get("sender")
    value = sender.get("id") if isinstance(sender, dict) else None
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


def parse_event(event: Any, page_id: str = "") -> Optional[Incoming]:
    """One ``messaging`` event as an Incoming; None for what we do not answer (echoes of
    our own messages, read and delivery receipts, reactions, referrals, junk)."""
    if not isinstance(event, dict):
        return None
    sender = _sender_id(event)
    if not sender:
        return None
    timestamp = event.get("timestamp") if isinstance(event.get("timestamp"), int) else 0
    message, postback = event.get("message"), event.get("postback")
    if isinstance(message, dict):
        return _from_message(sender, message, page_id, timestamp)
    if isinstance(postback, dict):
        return _from_postback(sender, postback, page_id, timestamp)
    return None  # read, delivery, reaction, referral, optin…


def _from_postback(sender: str, postback: Dict[str, Any], page_id: str, timestamp: int) -> Optional[Incoming]:
    payload = postback.get("payload")
    if not isinstance(payload, str) or not payload:
        return None
    mid = postback.get("mid")
    delivery = str(mid) if isinstance(mid, str) and mid else _postback_id(sender, timestamp, payload)
    return Incoming(sender, delivery, "postback", payload[:MAX_MESSAGE_CHARS], page_id, timestamp)


def _from_message(sender: str, message: Dict[str, Any], page_id: str, timestamp: int) -> Optional[Incoming]:
    if message.get("is_echo"):
        return None  # our own message, echoed to the page's webhook
    mid = message.get("mid")
    if not isinstance(mid, str) or not mid:
        return None
    quick_reply = message.get("quick_reply")
    if isinstance(quick_reply, dict) and isinstance(quick_reply.get("payload"), str):
        return Incoming(sender, mid, "quick_reply", quick_reply["payload"][:MAX_MESSAGE_CHARS],
                        page_id, timestamp)
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return Incoming(sender, mid, "text", user_text(text), page_id, timestamp)
    if message.get("attachments") or message.get("sticker_id"):
        return Incoming(sender, mid, "attachment", "", page_id, timestamp)
    return None


def parse_delivery(body: bytes) -> List[Incoming]:
    """Every answerable event of every entry, in delivery order. Raises BadDelivery for a
    body that is not a page delivery; odd events inside a good one are skipped."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadDelivery("not JSON") from exc
    if not isinstance(data, dict):
        raise BadDelivery("not a JSON object")
    if data.get("object") != "page":
        raise BadDelivery("object is not 'page'")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise BadDelivery("entry is not a list")
    found: List[Incoming] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("messaging"), list):
            continue  # e.g. "standby" entries of the handover protocol: not ours to answer
        page_id = str(entry.get("id") or "")
        for event in entry["messaging"]:
            incoming = parse_event(event, page_id)
            if incoming is not None:
                found.append(incoming)
    return found


# --- output shaping -----------------------------------------------------------------


def short_title(title: str, limit: int = TITLE_LIMIT) -> str:
    """A button title that fits: cut at a word when that keeps most of it, else inside
    the last word, and say so with "…"."""
    title = " ".join(str(title).split())
    if len(title) <= limit:
        return title
    head = title[:limit - 1]
    whole_words = title[limit - 1] == " "  # the cut falls between two words
    at_word = head if whole_words else head.rsplit(" ", 1)[0]
    at_word = at_word.rstrip(" ,;:.!?(-")
    kept = at_word if " " in head and len(at_word) >= limit * 3 // 4 else head.rstrip()
    return kept + "…"


def middle_title(title: str, limit: int = TITLE_LIMIT) -> str:
    """Start and end of a long title ("Raconter…ce de sport"): tells apart titles that
    only differ at the end once shortened."""
    title = " ".join(str(title).split())
    if len(title) <= limit:
        return title
    head = title[:(limit - 1) // 2].rstrip()
    return f"{head}…{title[-(limit - 1 - len(head)):].lstrip()}"


def _fits(button: Mapping[str, Any]) -> bool:
    payload = button.get("payload")
    return (isinstance(payload, str) and 0 < len(payload) <= PAYLOAD_LIMIT
            and bool(str(button.get("title") or "").strip()))


def quick_replies(text: str, buttons: Sequence[Mapping[str, Any]]) -> Tuple[str, List[Dict[str, str]]]:
    """Rasa buttons as Messenger quick replies: (text to send, quick replies).

    Our rule: buttons are always quick replies (they answer the current question and
    vanish once tapped, so an old choice cannot be tapped days later). Beyond 13, or
    with a payload Messenger cannot carry, the remaining choices are listed in the
    text, to be typed."""
    shown = [b for b in buttons if _fits(b)][:QUICK_REPLIES_MAX]
    typed = [b for b in buttons if b not in shown and str(b.get("title") or "").strip()]
    replies: List[Dict[str, str]] = []
    titles: Set[str] = set()
    for button in shown:
        title = short_title(button["title"])
        if title in titles:  # shortened alike: show how they end
            title = middle_title(button["title"])
        titles.add(title)
        replies.append({"content_type": "text", "title": title, "payload": button["payload"]})
    if typed:
        others = "\n".join(f"• {b['title']}" for b in typed)
        text = f"{text}\n\n{TYPE_IT}\n{others}".strip()
    return text or EMPTY_WITH_CHOICES, replies


def text_messages(text: str, replies: Optional[List[Dict[str, str]]] = None) -> List[Dict[str, Any]]:
    """Send API ``message`` objects for a text; quick replies go with the last piece."""
    pieces = split_text(plain_text(text), TEXT_LIMIT) or ([EMPTY_WITH_CHOICES] if replies else [])
    messages: List[Dict[str, Any]] = [{"text": piece} for piece in pieces]
    if replies and messages:
        messages[-1]["quick_replies"] = replies
    return messages


TEMPLATE_TEXT_LIMIT = 640
TEMPLATE_BUTTONS_MAX = 3
_LINK_LINE = re.compile(r"^(?P<label>[^\n:]{2,80}?)\s*:\s*(?P<url>https?://\S+)\s*$")


def link_template(text: str) -> Optional[Dict[str, Any]]:
    """Lines « Label : https://… » (the badge page, LinkedIn…) become a **button
    template** with web_url buttons — tappable links that stay in the conversation;
    None when the text has no such line (or too many, or too long a rest)."""
    rest, buttons = [], []
    for line in plain_text(text).split("\n"):
        match = _LINK_LINE.match(line.strip())
        if match and len(buttons) < TEMPLATE_BUTTONS_MAX:
            buttons.append({"type": "web_url", "url": match["url"], "title": short_title(match["label"])})
        else:
            rest.append(line)
    body = "\n".join(rest).strip() or "👇"
    if not buttons or len(body) > TEMPLATE_TEXT_LIMIT:
        return None
    return {"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": body, "buttons": buttons}}}


def call_template(text: str) -> Optional[Dict[str, Any]]:
    """Phone links to a French 10-digit number (« [0 800 235 236](tel:0800235236) »)
    become **call buttons** (``phone_number``, which needs the +33 form; short numbers
    such as 3114 stay as plain text, Messenger cannot dial them from a button)."""
    buttons = []
    for match in CONTACT_LINK.finditer(text or ""):
        digits = "".join(c for c in match["target"] if c.isdigit())
        if match["scheme"] == "tel" and len(digits) == 10 and digits.startswith("0"):
            payload = "+33" + digits[1:]
            if len(buttons) < TEMPLATE_BUTTONS_MAX and all(b["payload"] != payload for b in buttons):
                buttons.append({"type": "phone_number", "title": short_title(f"Appeler {digits}"),
                                "payload": payload})
    body = plain_text(text)
    if not buttons or len(body) > TEMPLATE_TEXT_LIMIT:
        return None
    return {"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": body, "buttons": buttons}}}


def image_message(url: str) -> Dict[str, Any]:
    return {"attachment": {"type": "image", "payload": {"url": url, "is_reusable": True}}}


# --- Graph API client ------------------------------------------------------------------


class GraphError(Exception):
    """A failed Graph call, described by codes only (Graph messages may quote user data)."""

    def __init__(self, status: int, code: Optional[int] = None, subcode: Optional[int] = None,
                 type: str = "", transient: bool = False) -> None:
        super().__init__(status, code)
        self.status, self.code, self.subcode, self.type = status, code, subcode, type
        self.transient = transient

    def __str__(self) -> str:
        return f"HTTP {self.status}, code {self.code}, subcode {self.subcode}, type {self.type or '-'}"


def graph_error(status: int, payload: Any) -> Optional[GraphError]:
    """None for a success; else the error and whether retrying can help."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if status < 300 and not isinstance(error, dict):
        return None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    transient = (error.get("is_transient") is True or code in TRANSIENT_CODES
                 or status >= 500 or status == 429) and code not in PERMANENT_CODES
    return GraphError(status, code, subcode, str(error.get("type") or "")[:40], transient)


Sleep = Callable[[float], Awaitable[Any]]


class GraphClient:
    """Async Graph API calls with retries. One HTTP session per event loop."""

    def __init__(self, settings: MessengerSettings, delays: Sequence[float] = RETRY_DELAYS,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.settings = settings
        self.delays = tuple(delays)
        self.sleep = sleep
        self._http: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def __repr__(self) -> str:
        return f"GraphClient({self.settings!r})"

    def _params(self) -> Dict[str, str]:
        params = {"access_token": self.settings.page_token}
        if self.settings.app_secret:  # lets the app require signed calls ("appsecret_proof")
            params["appsecret_proof"] = hmac.new(self.settings.app_secret.encode("utf-8"),
                                                 self.settings.page_token.encode("utf-8"),
                                                 hashlib.sha256).hexdigest()
        return params

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._http is None or self._http.closed or self._loop is not loop:
            self._http = aiohttp.ClientSession(timeout=HTTP_TIMEOUT)
            self._loop = loop
        return self._http

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()
        self._http = None

    async def _post_once(self, path: str, body: Dict[str, Any]) -> Tuple[int, Any]:
        async with self._session().post(f"{self.settings.graph_url}{path}",
                                         params=self._params(), json=body) as resp:
            try:
                payload = await resp.json(content_type=None)
            except ValueError:
                payload = None  # an HTML error page from a proxy
            return resp.status, payload

    async def _attempt(self, path: str, body: Dict[str, Any]) -> Tuple[Optional[GraphError], Any]:
        try:
            status, payload = await self._post_once(path, body)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            # the exception's text holds the URL, hence the token: only its type is kept
            return GraphError(0, type=type(exc).__name__, transient=True), None
        return graph_error(status, payload), payload

    async def post(self, path: str, body: Dict[str, Any], retry: bool = True) -> Dict[str, Any]:
        """POST ``path``; retries transient failures, raises GraphError when it gives up."""
        waits = list(self.delays) if retry else []
        while True:
            error, payload = await self._attempt(path, body)
            if error is None:
                return payload if isinstance(payload, dict) else {}
            if not error.transient or not waits:
                raise error
            log.warning("Graph %s failed (%s): retrying", path, error)
            await self.sleep(waits.pop(0))

    async def send(self, recipient: str, message: Dict[str, Any], messaging_type: MessagingType) -> None:
        await self.post("/me/messages", {"recipient": {"id": recipient},
                                         "messaging_type": messaging_type, "message": message})

    async def sender_action(self, recipient: str, action: str = "typing_on") -> None:
        """Best effort, one attempt: a late typing indicator is worse than none."""
        try:
            await self.post("/me/messages", {"recipient": {"id": recipient}, "sender_action": action},
                            retry=False)
        except GraphError as exc:
            log.info("Graph typing indicator not shown (%s)", exc)


# --- output channel -----------------------------------------------------------------


class MessengerOutput(NoticeAware):
    """The bot's messages on Messenger. A message Graph refuses for good (or after the
    retries) is logged and dropped, so that the conversation state stays consistent."""

    def __init__(self, client: GraphClient, messaging_type: MessagingType = "RESPONSE") -> None:
        self.client = client
        # RESPONSE answers a message; UPDATE is a message the person did not ask for
        # (a referent answered), allowed within Messenger's 24-hour window.
        self.messaging_type = messaging_type

    @classmethod
    def name(cls) -> str:
        return "messenger"

    async def _send(self, recipient_id: str, message: Dict[str, Any]) -> None:
        try:
            await self.client.send(raw_id(recipient_id, MESSENGER), message, self.messaging_type)
        except GraphError as exc:
            self.not_delivered()  # a notice in it stays pending (see channels/outbox.py)
            log.error("Messenger message dropped (%s)", exc)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        template = call_template(text) or link_template(text)
        for message in [template] if template else text_messages(text):
            await self._send(recipient_id, message)

    async def send_text_with_buttons(self, recipient_id: str, text: str,
                                     buttons: List[Dict[str, Any]], **kwargs: Any) -> None:
        shaped, replies = quick_replies(plain_text(text), buttons)
        for message in text_messages(shaped, replies):
            await self._send(recipient_id, message)

    async def send_quick_replies(self, recipient_id: str, text: str,
                                 quick_replies: List[Dict[str, Any]], **kwargs: Any) -> None:
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send(recipient_id, image_message(image))

    async def send_custom_json(self, recipient_id: str, json_message: Dict[str, Any], **kwargs: Any) -> None:
        """A custom payload is a ready-made Send API ``message`` object."""
        if isinstance(json_message, dict) and json_message:
            await self._send(recipient_id, json_message)


# --- input channel ------------------------------------------------------------------

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class MessengerInput(InputChannel):
    """``/webhooks/messenger/webhook``: Facebook's verification (GET) and deliveries (POST)."""

    @classmethod
    def name(cls) -> str:
        return "messenger"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "MessengerInput":
        # Secrets come from the environment only: credentials.yml holds no value for us.
        return cls(MessengerSettings.from_env())

    def __init__(self, settings: MessengerSettings, deliveries: Optional[Deliveries] = None,
                 client: Optional[GraphClient] = None) -> None:
        self.settings = settings
        self.client = client or GraphClient(settings)
        self.deliveries = deliveries or Deliveries("messenger")
        self.locks = KeyedLocks()
        self._tasks: Set[asyncio.Task] = set()  # referenced until done, or asyncio may drop them
        if not settings.app_secret:
            log.warning("ATOUTS_MESSENGER_APP_SECRET is not set: every Messenger delivery will be refused")

    def get_output_channel(self) -> OutputChannel:
        """Used by Rasa for messages nobody asked for (trigger_intent, output_channel=latest)."""
        return MessengerOutput(self.client, "UPDATE")

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        on_new_message = with_missed(on_new_message)  # « Pendant ton absence… » first
        webhook = Blueprint("messenger_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verification(request: Request) -> HTTPResponse:
            args = {key: request.args.get(key) for key in ("hub.mode", "hub.verify_token", "hub.challenge")}
            challenge = verify_subscription(self.settings.verify_token, args)
            if challenge is None:
                log.warning("Messenger webhook verification refused (wrong verify token)")
                return response.text("forbidden", status=403)
            return response.text(challenge)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            status, text = self.accept(request.body or b"", request.headers.get(SIGNATURE_HEADER),
                                       on_new_message)
            return response.text(text, status=status)

        @webhook.listener("after_server_stop")
        async def close(app: Any, loop: Any) -> None:
            try:
                await asyncio.wait_for(self.drain(), timeout=15)
            except asyncio.TimeoutError:
                log.warning("Messenger events still running at shutdown")
            await self.client.close()

        return webhook

    def accept(self, body: bytes, signature: Optional[str], on_new_message: OnNewMessage) -> Tuple[int, str]:
        """Check and parse a delivery, start handling its events, answer at once."""
        if len(body) > MAX_BODY_BYTES:
            log.warning("Messenger delivery refused: %d bytes", len(body))
            return 413, "too large"
        if not signature_ok(self.settings.app_secret, body, signature):
            log.warning("Messenger delivery refused: missing or wrong signature")
            return 403, "forbidden"
        try:
            events = parse_delivery(body)
        except BadDelivery as exc:
            log.warning("Messenger delivery refused: %s", exc)
            return 400, "bad request"
        for incoming in events:
            self._spawn(self.handle(incoming, on_new_message))
        return 200, "EVENT_RECEIVED"

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the events being handled (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def handle(self, incoming: Incoming, on_new_message: OnNewMessage) -> None:
        """One event, after the sender's previous ones; never raises."""
        # Take the sender's lock before any await: tasks start in delivery order and
        # asyncio locks are fair, so this keeps the person's messages in order.
        async with self.locks(incoming.sender):
            claimed = False
            try:
                claimed = await self.deliveries.claim(incoming.delivery_id)
                if not claimed:
                    log.info("Messenger duplicate delivery ignored (%s)", incoming.kind)
                    return
                await self._answer(incoming, on_new_message)
            except Exception as exc:  # noqa: BLE001 - a turn must never be lost silently
                log.error("Messenger %s not handled (%s): the person is asked to retry",
                          incoming.kind, type(exc).__name__)
                if claimed:
                    await self._release(incoming.delivery_id)
                await MessengerOutput(self.client).send_text_message(incoming.sender, SORRY)

    async def _release(self, delivery_id: str) -> None:
        try:
            await self.deliveries.release(delivery_id)
        except Exception as exc:  # noqa: BLE001
            log.error("Messenger delivery not released (%s)", type(exc).__name__)

    async def _answer(self, incoming: Incoming, on_new_message: OnNewMessage) -> None:
        output = MessengerOutput(self.client)
        await self.client.sender_action(incoming.sender, "typing_on")
        if incoming.kind == "attachment":
            await output.send_text_message(incoming.sender, TEXT_ONLY)
            return
        await on_new_message(UserMessage(
            incoming.text, output, sender_id=namespaced(MESSENGER, incoming.sender), input_channel=self.name(),
            metadata={"messenger": {"kind": incoming.kind, "timestamp": incoming.timestamp}},
        ))


# --- page setup (Get Started, greeting, persistent menu) --------------------------------

MENU: Tuple[Tuple[str, str], ...] = (
    ("Raconter une expérience", "/want_to_tell"),
    ("Tester une compétence", "/start_assessment"),
    ("Mes badges", "/show_my_badges"),
    ("Effacer mes données", "/delete_my_data"),
)
GREETING = ("Salut {{user_first_name}} ! Raconte-moi ce que tu as vécu, je t'aide à repérer "
            "tes compétences 💪")


def messenger_profile() -> Dict[str, Any]:
    """The page's Messenger profile: Get Started says /greet, the menu is always at hand."""
    return {
        "get_started": {"payload": "/greet"},
        "greeting": [{"locale": "default", "text": GREETING}],
        "persistent_menu": [{
            "locale": "default",
            "composer_input_disabled": False,  # people mostly type their stories
            "call_to_actions": [{"type": "postback", "title": title, "payload": payload}
                                for title, payload in MENU],
        }],
    }


async def setup_profile(settings: MessengerSettings, client: Optional[GraphClient] = None) -> None:
    client = client or GraphClient(settings)
    try:
        await client.post("/me/messenger_profile", messenger_profile())
    finally:
        await client.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m channels.messenger",
                                     description="Connecteur Messenger d'Atouts.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="configure le bouton Démarrer, l'accueil et le menu de la page")
    parser.parse_args(argv)
    settings = MessengerSettings.from_env()
    if not settings.page_token:
        print("ATOUTS_MESSENGER_PAGE_TOKEN n'est pas défini.", file=sys.stderr)
        return 2
    try:
        asyncio.run(setup_profile(settings))
    except GraphError as exc:
        print(f"Échec de la configuration Messenger ({exc}).", file=sys.stderr)
        return 1
    print("Page Messenger configurée : bouton Démarrer, message d'accueil et menu.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Telegram connector: a Rasa custom channel (``channels.telegram.TelegramInput``).

Two ways to receive updates:

- **webhook** (production, ``ATOUTS_TELEGRAM_WEBHOOK_URL`` set): on start the bot
  registers the URL with ``setWebhook`` and a secret; Telegram then POSTs every update
  to ``/webhooks/telegram/webhook`` with the ``X-Telegram-Bot-Api-Secret-Token`` header;
- **long polling** (default: a laptop has no public HTTPS address): a background task
  calls ``getUpdates`` in a loop.

Telegram delivers *at least once*: a delivery we did not acknowledge comes back, and a
crash can replay a batch. Every ``update_id`` is claimed in the app database
(``Deliveries``), so a duplicate is ignored even after a restart; a turn that fails is
released so that the retry is handled (bounded: after ``MAX_ATTEMPTS`` the update is
dropped, the person having been told once). The messages of one chat are handled one
at a time, in arrival order (``KeyedLocks``).

Secrets come from the environment only; logs never hold the token, the secret, a
message text or a chat id.
"""
from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import logging
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot.sender_ids import TELEGRAM, namespaced, raw_id
from channels.common import Deliveries, KeyedLocks, env, plain_text, split_text
from channels.outbox import NoticeAware, with_missed

log = logging.getLogger(__name__)

# httpx logs every request URL at INFO, and Telegram's URLs contain the bot token;
# python-telegram-bot logs request parameters (message texts) at DEBUG. Neither may
# reach our logs, whatever level Rasa runs at.
for _noisy in ("httpx", "httpcore", "telegram"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

DEFAULT_API_URL = "https://api.telegram.org/bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]

MAX_TEXT = 4096            # Telegram's limit for one message
MAX_BUTTON_TITLE = 64      # longer titles are cut on small screens anyway
MAX_CALLBACK_BYTES = 64    # Telegram's limit for a button's callback_data
MAX_BODY_BYTES = 256 * 1024  # a real update is a few KB (a 4096-character text at most)
MAX_ATTEMPTS = 3           # a turn that keeps failing is dropped after this many tries
POLL_TIMEOUT = 30          # seconds a getUpdates call waits for news
MAX_BACKOFF = 60.0
MAX_RETRY_AFTER = 30.0     # flood control: wait at most this long before one more try
SEND_TRIES = 3

# What the person reads (French, "tu").
SORRY = "Oups, un souci de mon côté 😕 Réessaie dans un instant."
TEXT_ONLY = "Je ne lis que le texte pour l'instant 🙂"
PRIVATE_ONLY = "Je ne discute qu'en privé 🙂 Écris-moi directement."
EDITED = "Je ne vois pas les messages modifiés : renvoie-le-moi en nouveau message 🙂"
BUTTONS_ONLY = "👇"  # sendMessage needs a text: the buttons of a text-less message go under this

# Telegram commands → the Rasa payload they stand for.
COMMANDS = {"start": "/greet", "aide": "/help", "help": "/help", "supprimer": "/delete_my_data"}
# Rasa reads "/choose" outside a question as a stale button and answers "plus valable".
STALE_BUTTON_PAYLOAD = "/choose"
_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@[A-Za-z0-9_]+)?(?:\s+(.*))?$", re.DOTALL)
_SECRET_CHARS = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what setWebhook accepts
# Message contents the bot cannot read (service messages — pins, new members… — are ignored).
MEDIA_KEYS = frozenset({
    "animation", "audio", "contact", "dice", "document", "game", "location", "photo", "poll",
    "sticker", "story", "venue", "video", "video_note", "voice", "paid_media",
})


class TelegramConfigError(RasaException):
    """The ATOUTS_TELEGRAM_* configuration is unusable (the message never holds a secret)."""


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(repr=False)
    webhook_url: str = ""
    secret: str = field(default="", repr=False)
    api_url: str = DEFAULT_API_URL
    secret_generated: bool = False

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    @property
    def file_url(self) -> str:
        base = self.api_url.rstrip("/")
        return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file/bot"

    @classmethod
    def from_env(cls) -> "TelegramSettings":
        token = env("ATOUTS_TELEGRAM_TOKEN")
        if not token:
            raise TelegramConfigError(
                "ATOUTS_TELEGRAM_TOKEN is missing: the Telegram connector needs the token BotFather gave.")
        secret = env("ATOUTS_TELEGRAM_SECRET")
        generated = not secret
        if generated:
            # Still needed in polling mode (the webhook route exists): unguessable, per start.
            secret = secrets.token_urlsafe(32)
        elif not _SECRET_CHARS.match(secret):
            raise TelegramConfigError(
                "ATOUTS_TELEGRAM_SECRET may only hold 1 to 256 characters A-Z, a-z, 0-9, _ and -.")
        webhook_url = env("ATOUTS_TELEGRAM_WEBHOOK_URL")
        if webhook_url and not webhook_url.startswith("https://"):
            log.warning("ATOUTS_TELEGRAM_WEBHOOK_URL is not HTTPS: Telegram will refuse it")
        return cls(token=token, webhook_url=webhook_url, secret=secret,
                   api_url=env("ATOUTS_TELEGRAM_API_URL", DEFAULT_API_URL), secret_generated=generated)


def _describe(exc: BaseException) -> str:
    """An error for the logs: its type only, since Telegram errors may quote the token."""
    if isinstance(exc, RetryAfter):
        return f"RetryAfter({_retry_after(exc):.0f}s)"
    return type(exc).__name__


def _retry_after(exc: RetryAfter) -> float:
    value = exc.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


# --- what an update says ---------------------------------------------------------------


class MalformedUpdate(ValueError):
    """Not a Telegram update: not a JSON object, or no integer update_id."""


class Kind(str, enum.Enum):
    TEXT = "text"
    CALLBACK = "callback"
    MEDIA = "media"        # sticker, photo, voice…: only text is read
    EDITED = "edited"
    IGNORED = "ignored"    # service messages, channel posts, other update kinds


@dataclass(frozen=True)
class Incoming:
    update_id: int
    kind: Kind
    chat_id: Optional[int] = None
    chat_type: str = ""
    text: str = ""            # the message text, or the button's callback_data
    callback_id: str = ""
    message_id: Optional[int] = None

    @property
    def private(self) -> bool:
        return self.chat_type == "private"

    @property
    def lock_key(self) -> str:
        return f"chat:{self.chat_id}" if self.chat_id is not None else f"update:{self.update_id}"


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _chat(message: Any) -> tuple[Optional[int], str]:
    chat = message.get("chat") if isinstance(message, Mapping) else None
    if not isinstance(chat, Mapping):
        return None, ""
    return _int(chat.get("id")), str(chat.get("type") or "")


def parse_update(data: Any) -> Incoming:
    """The parts of a Telegram update the connector uses; tolerant of unknown fields."""
    if not isinstance(data, Mapping):
        raise MalformedUpdate("an update is a JSON object")
    update_id = _int(data.get("update_id"))
    if update_id is None:
        raise MalformedUpdate("update_id must be an integer")
    if isinstance(data.get("message"), Mapping):
        return _parse_message(update_id, data["message"])
    if isinstance(data.get("callback_query"), Mapping):
        return _parse_callback(update_id, data["callback_query"])
    if isinstance(data.get("edited_message"), Mapping):
        chat_id, chat_type = _chat(data["edited_message"])
        return Incoming(update_id, Kind.EDITED, chat_id, chat_type)
    return Incoming(update_id, Kind.IGNORED)


def _parse_message(update_id: int, message: Mapping[str, Any]) -> Incoming:
    chat_id, chat_type = _chat(message)
    message_id = _int(message.get("message_id"))
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        return Incoming(update_id, Kind.TEXT, chat_id, chat_type, text, message_id=message_id)
    if MEDIA_KEYS & set(message):
        return Incoming(update_id, Kind.MEDIA, chat_id, chat_type, message_id=message_id)
    return Incoming(update_id, Kind.IGNORED, chat_id, chat_type, message_id=message_id)


def _parse_callback(update_id: int, query: Mapping[str, Any]) -> Incoming:
    chat_id, chat_type = _chat(query.get("message"))
    data = query.get("data")
    message = query.get("message")
    message_id = _int(message.get("message_id")) if isinstance(message, Mapping) else None
    return Incoming(update_id, Kind.CALLBACK, chat_id, chat_type, data if isinstance(data, str) else "",
                    callback_id=str(query.get("id") or ""), message_id=message_id)


def rasa_text(text: str) -> str:
    """What Rasa receives for a typed message. Rasa reads "/intent" as a payload, so a
    typed "/…" is only passed on for our known commands; others lose their slash."""
    text = text.strip()
    if not text.startswith("/"):
        return text
    match = _COMMAND.match(text)
    if match and match.group(1).lower() in COMMANDS:
        return COMMANDS[match.group(1).lower()]
    if match:  # "/competences@AtoutsBot ma rigueur" → "competences ma rigueur"
        return " ".join(p for p in (match.group(1), (match.group(2) or "").strip()) if p)
    return text.lstrip("/").strip() or COMMANDS["aide"]


# --- buttons ---------------------------------------------------------------------------


class CallbackPayloads:
    """Button payloads ↔ Telegram's ``callback_data`` (64 bytes at most).

    Short payloads travel as they are. A longer one is replaced by a short key (a hash)
    kept in memory: after a restart — or on another Rasa instance — such an old button
    is unknown and sends ``STALE_BUTTON_PAYLOAD``, which the bot answers with "ce bouton
    n'est plus valable". The same payload always gets the same key.
    """

    PREFIX = "#h:"

    def __init__(self, max_entries: int = 10_000) -> None:
        self._payloads: "OrderedDict[str, str]" = OrderedDict()
        self._max = max_entries

    def encode(self, payload: str) -> str:
        if payload and len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(self.PREFIX):
            return payload
        key = self.PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        self._payloads[key] = payload
        self._payloads.move_to_end(key)
        while len(self._payloads) > self._max:
            self._payloads.popitem(last=False)
        return key

    def decode(self, data: str) -> str:
        if not data.startswith(self.PREFIX):
            return data
        return self._payloads.get(data, STALE_BUTTON_PAYLOAD)


def _title(title: str) -> str:
    title = " ".join(plain_text(title).split()) or "…"
    return title if len(title) <= MAX_BUTTON_TITLE else title[: MAX_BUTTON_TITLE - 1].rstrip() + "…"


def keyboard(buttons: Iterable[Mapping[str, Any]], payloads: CallbackPayloads) -> InlineKeyboardMarkup:
    """One button per row: titles stay readable on a phone."""
    rows = []
    for button in buttons:
        title = _title(str(button.get("title") or button.get("payload") or ""))
        url = button.get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            rows.append([InlineKeyboardButton(title, url=url)])
        else:
            payload = str(button.get("payload") or button.get("title") or "")
            rows.append([InlineKeyboardButton(title, callback_data=payloads.encode(payload))])
    return InlineKeyboardMarkup(rows)


# --- output ----------------------------------------------------------------------------


def _chat_id(recipient_id: Text) -> int | str:
    """The Bot API chat id of a conversation id ``tg:<chat id>`` (see bot/sender_ids.py)."""
    recipient_id = raw_id(str(recipient_id), TELEGRAM)
    try:
        return int(recipient_id)
    except (TypeError, ValueError):
        return str(recipient_id)


class TelegramOutput(NoticeAware):
    """Sends the bot's messages with the Bot API. Flood control (429) is waited out and
    network errors retried a little; a person who blocked the bot is skipped."""

    def __init__(self, bot: Bot, payloads: CallbackPayloads) -> None:
        self.bot = bot
        self.payloads = payloads
        self._typing: Optional["asyncio.Task[None]"] = None

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    async def _call(self, send: Callable[[], Awaitable[Any]]) -> Any:
        for attempt in range(1, SEND_TRIES + 1):
            try:
                return await send()
            except Forbidden as exc:  # blocked by the person, or kicked: nothing to deliver to
                self.not_delivered()
                log.info("telegram: not delivered (%s)", _describe(exc))
                return None
            except RetryAfter as exc:
                if attempt == SEND_TRIES:
                    raise
                await asyncio.sleep(min(_retry_after(exc), MAX_RETRY_AFTER))
            except BadRequest:
                raise  # our request is wrong: trying again changes nothing
            except NetworkError as exc:  # includes timeouts: a send that timed out may have
                # arrived, but a rare duplicate beats a lost answer
                if attempt == SEND_TRIES:
                    raise
                log.info("telegram: retrying a send (%s)", _describe(exc))
                await asyncio.sleep(0.5 * attempt)
        return None

    async def _before_sending(self) -> None:
        # The "typing…" action must reach Telegram before the answer, or it lingers after it.
        typing, self._typing = self._typing, None
        if typing is not None:
            await asyncio.gather(typing, return_exceptions=True)

    def start_typing(self, chat_id: int) -> None:
        """"Atouts écrit…" while Rasa thinks; sent alongside the turn, never blocking it."""

        async def typing() -> None:
            try:
                await self.bot.send_chat_action(chat_id=chat_id, action="typing")
            except TelegramError as exc:
                log.debug("telegram: typing action failed (%s)", _describe(exc))

        self._typing = asyncio.ensure_future(typing())

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self._send_texts(recipient_id, text, None)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self._send_texts(recipient_id, text or BUTTONS_ONLY, keyboard(buttons, self.payloads))

    async def _send_texts(self, recipient_id: Text, text: Optional[Text], markup: Optional[InlineKeyboardMarkup]) -> None:
        await self._before_sending()
        pieces = split_text(plain_text(text), MAX_TEXT) or ([BUTTONS_ONLY] if markup else [])
        chat_id = _chat_id(recipient_id)
        for n, piece in enumerate(pieces, start=1):
            # the buttons go under the last piece, next to the question they answer
            reply_markup = markup if n == len(pieces) else None
            await self._call(lambda piece=piece, reply_markup=reply_markup: self.bot.send_message(
                chat_id=chat_id, text=piece, reply_markup=reply_markup))

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        await self._before_sending()
        chat_id = _chat_id(recipient_id)
        try:
            await self._call(lambda: self.bot.send_photo(chat_id=chat_id, photo=image))
        except BadRequest as exc:
            # Telegram fetches the image itself and refuses what it cannot reach or read:
            # the link still shows it.
            log.info("telegram: photo refused (%s), sent as a link", _describe(exc))
            await self._send_texts(recipient_id, image, None)

    async def send_attachment(self, recipient_id: Text, attachment: Any, **kwargs: Any) -> None:
        if isinstance(attachment, str):
            await self._send_texts(recipient_id, attachment, None)
        elif isinstance(attachment, Mapping):
            src = (attachment.get("payload") or {}).get("src") if isinstance(attachment.get("payload"), Mapping) else None
            if attachment.get("type") == "image" and isinstance(src, str):
                await self.send_image_url(recipient_id, src)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        # Widget-specific payloads: showing raw JSON to a person helps nobody.
        log.debug("telegram: custom payload not shown")

    async def answer_callback(self, callback_id: str) -> None:
        """Stops the spinner on the tapped button (Telegram shows it until answered)."""
        if not callback_id:
            return
        try:
            await self.bot.answer_callback_query(callback_query_id=callback_id)
        except TelegramError as exc:  # too old (> 15 min) or already answered: harmless
            log.info("telegram: callback not answered (%s)", _describe(exc))

    async def say(self, chat_id: int, text: str) -> None:
        """A message of the connector itself; its failure must not hide the original one."""
        try:
            await self._send_texts(str(chat_id), text, None)
        except TelegramError as exc:
            log.warning("telegram: could not tell the person (%s)", _describe(exc))


# --- input -----------------------------------------------------------------------------


class Outcome(str, enum.Enum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    FAILED = "failed"      # released: the next delivery of this update is handled
    GAVE_UP = "gave_up"    # failed MAX_ATTEMPTS times: kept as seen, dropped


OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class TelegramInput(InputChannel):
    """Receives Telegram updates (webhook or long polling) and hands them to Rasa."""

    def __init__(
        self,
        settings: TelegramSettings,
        deliveries: Optional[Deliveries] = None,
        poll_timeout: int = POLL_TIMEOUT,
        retry_delay: float = 1.0,
    ) -> None:
        self.settings = settings
        # Our own HTTP clients, so that stop() closes them (Bot.shutdown only closes what
        # Bot.initialize opened, and initialize needs Telegram to answer).
        self._http = (HTTPXRequest(connection_pool_size=1), HTTPXRequest(connection_pool_size=64))
        self.bot = Bot(settings.token, base_url=settings.api_url, base_file_url=settings.file_url,
                       get_updates_request=self._http[0], request=self._http[1])
        self.payloads = CallbackPayloads()
        self.deliveries = deliveries or Deliveries("telegram")
        self.locks = KeyedLocks()
        self.poll_timeout = poll_timeout
        self.retry_delay = retry_delay
        self._attempts: Dict[int, int] = {}
        self._task: Optional["asyncio.Task[None]"] = None
        if settings.secret_generated:
            log.info("telegram: no ATOUTS_TELEGRAM_SECRET, a random webhook secret was generated")

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TelegramInput":
        # credentials.yml holds no secret: everything comes from ATOUTS_TELEGRAM_*.
        return cls(TelegramSettings.from_env())

    @property
    def mode(self) -> str:
        return self.settings.mode

    def get_output_channel(self) -> TelegramOutput:
        """Used by Rasa for proactive messages (trigger_intent, output_channel=latest)."""
        return TelegramOutput(self.bot, self.payloads)

    # --- one update ----------------------------------------------------------------

    async def process(self, incoming: Incoming, on_new_message: OnNewMessage) -> Outcome:
        """Handle one update once: in its chat's order, deduplicated, released on failure."""
        async with self.locks(incoming.lock_key):  # taken first: arrival order is kept
            return await self._process_locked(incoming, on_new_message)

    async def _process_locked(self, incoming: Incoming, on_new_message: OnNewMessage) -> Outcome:
        update_id = incoming.update_id
        try:
            if not await self.deliveries.claim(update_id):
                return Outcome.DUPLICATE
        except Exception as exc:  # the database is down: Telegram will deliver it again
            log.error("telegram: could not record update %s (%s)", update_id, _describe(exc))
            return self._count_failure(update_id)
        try:
            await self._handle(incoming, on_new_message)
        except asyncio.CancelledError:
            await self._release(update_id)  # stopping mid-turn: the next start handles it
            raise
        except Exception as exc:
            log.error("telegram: update %s failed (%s)", update_id, _describe(exc))
            outcome = self._count_failure(update_id)
            if outcome is Outcome.FAILED:
                await self._release(update_id)
            if self._attempts.get(update_id) == 1:  # told once, not at every retry
                await self._sorry(incoming)
            if outcome is Outcome.GAVE_UP:
                log.error("telegram: update %s dropped after %d attempts", update_id, MAX_ATTEMPTS)
                self._attempts.pop(update_id, None)
            return outcome
        self._attempts.pop(update_id, None)
        return Outcome.HANDLED

    def _count_failure(self, update_id: int) -> Outcome:
        if len(self._attempts) > 10_000:  # never grows without bound
            self._attempts.clear()
        count = self._attempts.get(update_id, 0) + 1
        self._attempts[update_id] = count
        return Outcome.GAVE_UP if count >= MAX_ATTEMPTS else Outcome.FAILED

    async def _release(self, update_id: int) -> None:
        try:
            await self.deliveries.release(update_id)
        except Exception as exc:
            log.error("telegram: could not release update %s (%s)", update_id, _describe(exc))

    async def _sorry(self, incoming: Incoming) -> None:
        if incoming.chat_id is not None and incoming.private:
            await self.get_output_channel().say(incoming.chat_id, SORRY)

    async def _handle(self, incoming: Incoming, on_new_message: OnNewMessage) -> None:
        output = self.get_output_channel()
        if incoming.kind is Kind.CALLBACK:
            await output.answer_callback(incoming.callback_id)
        if incoming.kind is Kind.IGNORED or incoming.chat_id is None:
            return
        if not incoming.private:
            if incoming.kind is not Kind.CALLBACK:
                await output.say(incoming.chat_id, PRIVATE_ONLY)
            return
        if incoming.kind is Kind.MEDIA:
            await output.say(incoming.chat_id, TEXT_ONLY)
            return
        if incoming.kind is Kind.EDITED:
            await output.say(incoming.chat_id, EDITED)
            return
        if incoming.kind is Kind.CALLBACK:
            text = self.payloads.decode(incoming.text) if incoming.text else ""
        else:
            text = rasa_text(incoming.text)
        if not text:
            return
        output.start_typing(incoming.chat_id)
        metadata = {"telegram": {"update_id": incoming.update_id, "message_id": incoming.message_id}}
        await on_new_message(UserMessage(
            text, output, sender_id=namespaced(TELEGRAM, str(incoming.chat_id)), input_channel=self.name(),
            message_id=f"telegram-{incoming.update_id}", metadata=metadata,
        ))

    # --- webhook ----------------------------------------------------------------------

    def secret_ok(self, given: Optional[str]) -> bool:
        return bool(given) and hmac.compare_digest(given.encode("utf-8"), self.settings.secret.encode("utf-8"))

    async def handle_webhook(self, secret: Optional[str], body: bytes, on_new_message: OnNewMessage) -> int:
        """HTTP status for one webhook delivery: 403 without the secret, 4xx for a body
        that is not an update, 500 when the turn failed (Telegram delivers it again)."""
        if not self.secret_ok(secret):
            return 403
        if len(body) > MAX_BODY_BYTES:
            return 413
        try:
            incoming = parse_update(json.loads(body))
        except (ValueError, RecursionError):  # MalformedUpdate and bad UTF-8 are ValueErrors
            return 400
        outcome = await self.process(incoming, on_new_message)
        return 500 if outcome is Outcome.FAILED else 200

    async def register_webhook(self) -> None:
        """setWebhook, retried with backoff until Telegram accepts it (or we stop)."""
        delay = self.retry_delay
        while True:
            try:
                await self.bot.set_webhook(url=self.settings.webhook_url, secret_token=self.settings.secret,
                                           allowed_updates=ALLOWED_UPDATES)
                log.info("telegram: webhook registered")
                return
            except (InvalidToken, BadRequest) as exc:
                log.error("telegram: webhook refused (%s): check ATOUTS_TELEGRAM_*", _describe(exc))
                return
            except TelegramError as exc:
                log.warning("telegram: webhook not registered yet (%s)", _describe(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    # --- long polling -------------------------------------------------------------

    async def poll(self, on_new_message: OnNewMessage) -> None:
        """getUpdates forever: each batch is handled (chats concurrently, each chat in
        order) before its updates are confirmed with the next offset."""
        offset: Optional[int] = None
        webhook_cleared = False
        delay = self.retry_delay
        while True:
            try:
                if not webhook_cleared:  # getUpdates is refused while a webhook is set
                    await self.bot.delete_webhook()
                    webhook_cleared = True
                updates = await self.bot.get_updates(offset=offset, timeout=self.poll_timeout,
                                                     allowed_updates=ALLOWED_UPDATES)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                wait = self._poll_backoff(exc, delay)
                if isinstance(exc, Conflict):
                    webhook_cleared = False
                log.warning("telegram: getUpdates failed (%s), next try in %.1fs", _describe(exc), wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            delay = self.retry_delay
            if updates:
                await self.handle_batch([u.to_dict() for u in updates], on_new_message)
                offset = max(u.update_id for u in updates) + 1

    def _poll_backoff(self, exc: Exception, delay: float) -> float:
        if isinstance(exc, RetryAfter):
            return _retry_after(exc)
        if isinstance(exc, InvalidToken):
            return MAX_BACKOFF  # a wrong token will not heal by itself: do not hammer
        return delay

    async def handle_batch(self, updates: List[Mapping[str, Any]], on_new_message: OnNewMessage) -> None:
        incoming = []
        for data in updates:
            try:
                incoming.append(parse_update(data))
            except MalformedUpdate:
                log.warning("telegram: a malformed update was skipped")
        # gather starts the tasks in order and each takes its chat lock before anything
        # else, so the messages of one chat keep their order.
        await asyncio.gather(*(self._process_with_retries(i, on_new_message) for i in incoming))

    async def _process_with_retries(self, incoming: Incoming, on_new_message: OnNewMessage) -> Outcome:
        # The chat stays locked during retries: a later message must not overtake this one.
        async with self.locks(incoming.lock_key):
            attempt = 0
            while True:
                outcome = await self._process_locked(incoming, on_new_message)
                if outcome is not Outcome.FAILED:
                    return outcome
                attempt += 1
                await asyncio.sleep(self.retry_delay * attempt)

    async def start(self, on_new_message: OnNewMessage) -> None:
        if self.mode == "webhook":
            self._task = asyncio.ensure_future(self.register_webhook())
        else:
            self._task = asyncio.ensure_future(self.poll(on_new_message))
        log.info("telegram: connector started (%s)", self.mode)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.close()

    async def close(self) -> None:
        """Closes the HTTP connections to Telegram."""
        for request in self._http:
            try:
                await request.shutdown()
            except Exception as exc:  # nothing left to save
                log.debug("telegram: shutdown (%s)", _describe(exc))

    # --- Rasa -----------------------------------------------------------------------

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        on_new_message = with_missed(on_new_message)  # « Pendant ton absence… » first
        bp = Blueprint("telegram_webhook", __name__)

        @bp.listener("after_server_start")
        async def _start(app: Any, loop: Any) -> None:
            await self.start(on_new_message)

        @bp.listener("before_server_stop")
        async def _stop(app: Any, loop: Any) -> None:
            await self.stop()

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "mode": self.mode})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            status = await self.handle_webhook(request.headers.get(SECRET_HEADER), request.body or b"",
                                               on_new_message)
            # Never a JSON body with a "method": Telegram would run it as an API call.
            return response.text("ok" if status == 200 else "", status=status)

        return bp

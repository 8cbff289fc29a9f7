"""A local fake of the Telegram Bot API, speaking its wire format.

``POST /bot<token>/<method>`` with form (urlencoded or multipart, as python-telegram-bot
sends them: every non-string value JSON-encoded) or JSON bodies; answers
``{"ok": true, "result": ...}`` with realistic ``Message``/``User``/``Chat`` objects, or
``{"ok": false, "error_code": ..., "description": ...}`` for a bad call, with the real
limits (4096-character texts, 64-byte ``callback_data``, known callback query ids…).

Every call is recorded (method + decoded params) for assertions; updates can be queued
for ``getUpdates`` (long polling, with its offset semantics); failures can be injected
(``fail``: flood control, a blocked bot, an unreachable photo URL…). The server runs in
a background thread with its own event loop, so tests drive it synchronously.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
from aiohttp import web

TOKEN = "123456789:AAFakeTelegramTokenForTests_0123456789"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "Atouts", "username": "AtoutsTestBot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
# Parameters that are plain strings on the wire (python-telegram-bot sends str values as is,
# everything else JSON-encoded): never JSON-decode them ("123" must stay a text).
TEXT_PARAMS = {"text", "caption", "url", "photo", "secret_token", "callback_query_id", "action",
               "parse_mode", "ip_address"}


@dataclass
class Call:
    method: str
    params: Dict[str, Any]
    ok: bool = True
    result: Any = None
    at: float = field(default_factory=time.monotonic)


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: Optional[int] = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _chat_id(params: Dict[str, Any]) -> int | str:
    value = params.get("chat_id")
    if value is None or value == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    if isinstance(value, bool):
        raise ApiError(400, "Bad Request: chat not found")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.startswith("@"):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "Bad Request: chat not found") from None


def _check_markup(params: Dict[str, Any]) -> None:
    markup = params.get("reply_markup")
    if markup is None:
        return
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object") from None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not button.get("text"):
            raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if data is None and "url" not in button:
            raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
    params["reply_markup"] = markup


class FakeTelegram:
    """The fake Bot API server; ``start()``/``stop()`` around a test session or module."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.secret = secrets.token_urlsafe(24)  # the webhook secret the stack is given
        self.port = 0
        self._calls: List[Call] = []
        self._lock = threading.Lock()
        self._updates: List[Dict[str, Any]] = []
        self._failures: List[tuple[str, ApiError]] = []
        self._callback_ids: set[str] = set()
        self._message_ids = itertools.count(1000)
        self._update_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)
        self.webhook_url = ""
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None

    # --- life cycle -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def env(self) -> Dict[str, str]:
        """ATOUTS_TELEGRAM_* for a stack in webhook mode (setWebhook only reaches this fake)."""
        return {
            "ATOUTS_TELEGRAM_TOKEN": self.token,
            "ATOUTS_TELEGRAM_API_URL": self.api_url,
            "ATOUTS_TELEGRAM_WEBHOOK_URL": "https://atouts.example.org/webhooks/telegram/webhook",
            "ATOUTS_TELEGRAM_SECRET": self.secret,
        }

    def start(self) -> "FakeTelegram":
        ready = threading.Event()
        errors: List[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-telegram", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use ---------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._updates.clear()
            self._failures.clear()
            self.webhook_url = ""

    def calls(self, method: Optional[str] = None, chat_id: Optional[int] = None) -> List[Call]:
        with self._lock:
            found = list(self._calls)
        return [c for c in found if (method is None or c.method == method)
                and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    def mark(self) -> int:
        """A position in the call log: ``calls_since(mark)`` gives what came after."""
        with self._lock:
            return len(self._calls)

    def calls_since(self, mark: int, method: Optional[str] = None, chat_id: Optional[int] = None) -> List[Call]:
        with self._lock:
            found = self._calls[mark:]
        return [c for c in found if (method is None or c.method == method)
                and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))]

    def texts(self, chat_id: int, since: int = 0) -> List[str]:
        return [c.params["text"] for c in self.calls_since(since, "sendMessage", chat_id) if c.ok]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("the fake Telegram never saw what was expected")

    def fail(self, method: str, code: int = 400, description: str = "Bad Request",
             retry_after: Optional[int] = None, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail like the real API would."""
        with self._lock:
            self._failures.extend([(method, ApiError(code, description, retry_after))] * times)

    def queue(self, *updates: Dict[str, Any]) -> None:
        """Updates for getUpdates (long polling)."""
        with self._lock:
            self._updates.extend(updates)

    def pending_updates(self) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self._updates)

    # --- updates as Telegram sends them ---------------------------------------------

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def _message(self, chat_id: int, chat_type: str, **content: Any) -> Dict[str, Any]:
        user = {"id": abs(chat_id) if chat_type == "private" else 777000, "is_bot": False,
                "first_name": "Inès", "language_code": "fr"}
        chat: Dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Inès"
        else:
            chat["title"] = "Les copains"
        return {"message_id": next(self._message_ids), "from": user, "chat": chat,
                "date": int(time.time()), **content}

    def text_update(self, chat_id: int, text: str, chat_type: str = "private",
                    update_id: Optional[int] = None) -> Dict[str, Any]:
        content: Dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return {"update_id": update_id or self.next_update_id(),
                "message": self._message(chat_id, chat_type, **content)}

    def sticker_update(self, chat_id: int) -> Dict[str, Any]:
        sticker = {"file_id": "CAACAgIAAxkBAAIB", "file_unique_id": "AgADBAAD", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}
        return {"update_id": self.next_update_id(), "message": self._message(chat_id, "private", sticker=sticker)}

    def edited_update(self, chat_id: int, text: str) -> Dict[str, Any]:
        message = self._message(chat_id, "private", text=text, edit_date=int(time.time()))
        return {"update_id": self.next_update_id(), "edited_message": message}

    def callback_update(self, chat_id: int, data: str, message_id: Optional[int] = None,
                        chat_type: str = "private") -> Dict[str, Any]:
        query_id = str(secrets.randbits(60))
        with self._lock:
            self._callback_ids.add(query_id)
        message = self._message(chat_id, chat_type, text="…")
        message["from"] = BOT_USER
        if message_id is not None:
            message["message_id"] = message_id
        user = {"id": abs(chat_id), "is_bot": False, "first_name": "Inès", "language_code": "fr"}
        return {"update_id": self.next_update_id(),
                "callback_query": {"id": query_id, "from": user, "message": message,
                                   "chat_instance": "-4242", "data": data}}

    # --- the API ----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        try:
            params = await self._params(request)
        except ApiError as err:
            return web.json_response(err.body(), status=err.code)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            self._record(method, params, ok=False)
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        injected = self._injected_failure(method)
        try:
            if injected is not None:
                raise injected
            result = handler({**params, "_request": request} if method == "getUpdates" else params)
            if asyncio.iscoroutine(result):
                result = await result
            if request.transport is None or request.transport.is_closing():
                # the client gave up (a poller being stopped): nothing was delivered
                return web.Response(status=499)
        except ApiError as err:
            self._record(method, params, ok=False)
            return web.json_response(err.body(), status=err.code)
        self._record(method, params, ok=True, result=result)
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> Dict[str, Any]:
        params: Dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: parameters must be an object")
            params.update(body)
            return params
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if not isinstance(value, str):  # an uploaded file
                    params[key] = {"filename": value.filename}
                    continue
                params[key] = value if key in TEXT_PARAMS else _decode(value)
        return params

    def _record(self, method: str, params: Dict[str, Any], ok: bool, result: Any = None) -> None:
        with self._lock:
            self._calls.append(Call(method, params, ok, result))

    def _injected_failure(self, method: str) -> Optional[ApiError]:
        with self._lock:
            for i, (name, error) in enumerate(self._failures):
                if name == method:
                    del self._failures[i]
                    return error
        return None

    def _sent(self, chat_id: int | str, **content: Any) -> Dict[str, Any]:
        chat: Dict[str, Any] = {"id": chat_id if isinstance(chat_id, int) else -100123, "type": "private",
                                "first_name": "Inès"}
        return {"message_id": next(self._message_ids), "from": BOT_USER, "chat": chat,
                "date": int(time.time()), **content}

    def _api_getMe(self, params: Dict[str, Any]) -> Dict[str, Any]:
        return BOT_USER

    def _api_sendMessage(self, params: Dict[str, Any]) -> Dict[str, Any]:
        chat_id = _chat_id(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        _check_markup(params)
        content: Dict[str, Any] = {"text": text}
        if params.get("reply_markup"):
            content["reply_markup"] = params["reply_markup"]
        return self._sent(chat_id, **content)

    def _api_sendPhoto(self, params: Dict[str, Any]) -> Dict[str, Any]:
        chat_id = _chat_id(params)
        if not params.get("photo"):
            raise ApiError(400, "Bad Request: there is no photo in the request")
        _check_markup(params)
        # The real API fetches a URL itself; the badge URLs of the tests are local: recorded only.
        sizes = [{"file_id": f"AgACAgQAAx{n}", "file_unique_id": f"AQAD{n}", "width": w, "height": w,
                  "file_size": w * 40} for n, w in enumerate((90, 320, 800))]
        content: Dict[str, Any] = {"photo": sizes}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._sent(chat_id, **content)

    def _api_sendChatAction(self, params: Dict[str, Any]) -> bool:
        _chat_id(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _api_answerCallbackQuery(self, params: Dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        with self._lock:
            known = query_id in self._callback_ids
            self._callback_ids.discard(query_id)  # a query is answered once
        if not known:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return True

    def _api_setWebhook(self, params: Dict[str, Any]) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: URL is empty")
        if url and not url.startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and 1 <= len(secret) <= 256
                                       and all(c.isalnum() or c in "_-" for c in secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url = url
        return True

    def _api_deleteWebhook(self, params: Dict[str, Any]) -> bool:
        self.webhook_url = ""
        return True

    def _api_getWebhookInfo(self, params: Dict[str, Any]) -> Dict[str, Any]:
        return {"url": self.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self.pending_updates())}

    async def _api_getUpdates(self, params: Dict[str, Any]) -> List[Dict[str, Any]]:
        request: web.Request = params.pop("_request")
        if self.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if isinstance(offset, int):  # confirms every update before the offset
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = sorted(self._updates, key=lambda u: u["update_id"])[:limit]
            if ready or time.monotonic() >= deadline or request.transport is None \
                    or request.transport.is_closing():
                return ready
            await asyncio.sleep(0.02)


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[FakeTelegram]:
    """Session-wide fake; ``.env`` holds the ATOUTS_TELEGRAM_* variables for the stack."""
    fake = FakeTelegram().start()
    try:
        yield fake
    finally:
        fake.stop()

"""Fake Messenger Graph API, speaking the real wire format, plus webhook deliveries.

An aiohttp server on a free 127.0.0.1 port, in a background thread with its own event
loop, so that the Rasa server (another process) and the tests can both reach it:

- ``POST /me/messages``: checks ``access_token`` (and ``appsecret_proof`` when sent),
  refuses what the real Send API refuses (quick replies over 13, titles over 20
  characters, texts over 2000…) with its error shape, records every call, and answers
  ``{"recipient_id": …, "message_id": "m_…"}``. ``fail_next`` makes the next calls fail
  with a transient 500 (code 2, ``is_transient``), a plain 503 or a permanent error.
- ``POST /me/messenger_profile``: records the page profile, answers ``{"result": "success"}``.

``delivery`` / ``signed`` build what Facebook POSTs to our webhook (real payload shape,
``X-Hub-Signature-256`` over the raw body).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, TypeVar

import pytest
from aiohttp import web

PAGE_ID = "1234567890123456"
PAGE_TOKEN = "EAAtest-page-token-" + "x" * 20
APP_SECRET = "test-app-secret-0123456789abcdef"
VERIFY_TOKEN = "atouts-verify-token"

T = TypeVar("T")
_ids = itertools.count(1)


@dataclass
class Call:
    """One request the fake received (the token is checked, not kept)."""

    path: str
    body: Any
    status: int
    problems: List[str] = field(default_factory=list)  # why the Send API refused it
    at: float = field(default_factory=time.monotonic)

    @property
    def recipient(self) -> Optional[str]:
        return ((self.body or {}).get("recipient") or {}).get("id") if isinstance(self.body, dict) else None

    @property
    def message(self) -> Optional[Dict[str, Any]]:
        return self.body.get("message") if isinstance(self.body, dict) else None


def _error(status: int, code: int, message: str, transient: bool = False, subcode: Optional[int] = None,
           kind: str = "OAuthException") -> web.Response:
    error: Dict[str, Any] = {"message": message, "type": kind, "code": code,
                             "fbtrace_id": uuid.uuid4().hex[:11]}
    if transient:
        error["is_transient"] = True
    if subcode is not None:
        error["error_subcode"] = subcode
    return web.json_response({"error": error}, status=status)


FAILURES: Dict[str, Callable[[], web.Response]] = {
    "transient": lambda: _error(500, 2, "An unexpected error has occurred. Please retry your request later.",
                                transient=True),
    "throttled": lambda: _error(400, 613, "Calls to this api have exceeded the rate limit."),
    "outage": lambda: web.Response(status=503, text="<html>Service Unavailable</html>",
                                   content_type="text/html"),
    "permanent": lambda: _error(400, 100, "(#100) No matching user found", subcode=2018001),
}


def problems(message: Dict[str, Any]) -> List[str]:
    """What the real Send API would refuse in a ``message`` object."""
    found: List[str] = []
    text, attachment = message.get("text"), message.get("attachment")
    if (text is None) == (attachment is None):
        found.append("message needs exactly one of text, attachment")
    if text is not None and not (isinstance(text, str) and 0 < len(text) <= 2000):
        found.append("text must be 1-2000 characters")
    replies = message.get("quick_replies")
    if replies is not None:
        if not isinstance(replies, list) or not 0 < len(replies) <= 13:
            found.append("1-13 quick replies")
        for reply in replies or []:
            if reply.get("content_type") != "text":
                found.append("quick reply content_type")
            if not 0 < len(reply.get("title") or "") <= 20:
                found.append("quick reply title 1-20 characters")
            if not 0 < len(reply.get("payload") or "") <= 1000:
                found.append("quick reply payload 1-1000 characters")
    if attachment is not None:
        payload = attachment.get("payload") or {}
        if attachment.get("type") not in ("image", "audio", "video", "file", "template"):
            found.append("attachment type")
        if attachment.get("type") == "image" and not payload.get("url"):
            found.append("image needs a url")
    return found


class FakeGraph:
    def __init__(self, page_token: str = PAGE_TOKEN, app_secret: str = APP_SECRET,
                 verify_token: str = VERIFY_TOKEN) -> None:
        self.page_token, self.app_secret, self.verify_token = page_token, app_secret, verify_token
        self.calls: List[Call] = []
        self.profile: Dict[str, Any] = {}
        self._failures: List[Tuple[str, str, bool]] = []  # (mode, path, messages only)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-graph", daemon=True)
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> "FakeGraph":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/me/messages", self._messages)
        app.router.add_post("/me/messenger_profile", self._profile)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> "FakeGraph":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> Dict[str, str]:
        return {
            "ATOUTS_MESSENGER_PAGE_TOKEN": self.page_token,
            "ATOUTS_MESSENGER_APP_SECRET": self.app_secret,
            "ATOUTS_MESSENGER_VERIFY_TOKEN": self.verify_token,
            "ATOUTS_MESSENGER_GRAPH_URL": self.url,
        }

    # --- test controls -----------------------------------------------------------------

    def fail_next(self, count: int = 1, mode: str = "transient", path: str = "/me/messages",
                  messages_only: bool = True) -> None:
        """The next ``count`` calls to ``path`` fail (by default only those carrying a
        message, so that typing indicators do not use up the failures)."""
        assert mode in FAILURES, mode
        with self._lock:
            self._failures.extend([(mode, path, messages_only)] * count)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._failures.clear()
            self.profile = {}

    def sent(self, psid: Optional[str] = None, path: str = "/me/messages") -> List[Call]:
        """Accepted calls, in order (only those to ``psid`` when given)."""
        with self._lock:
            calls = list(self.calls)
        return [c for c in calls if c.path == path and c.status == 200
                and (psid is None or c.recipient == psid)]

    def messages(self, psid: str) -> List[Dict[str, Any]]:
        """The ``message`` objects the person received (no typing indicators)."""
        return [c.message for c in self.sent(psid) if c.message is not None]

    def actions(self, psid: str) -> List[str]:
        return [c.body["sender_action"] for c in self.sent(psid) if "sender_action" in c.body]

    def refused(self) -> List[Call]:
        """Calls the real Send API would have refused as malformed."""
        with self._lock:
            return [c for c in self.calls if c.problems]

    def wait_for(self, probe: Callable[[], T], timeout: float = 20.0, what: str = "") -> T:
        """Poll ``probe`` until it returns something truthy (messages are sent in background)."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or probe}")
            time.sleep(0.05)

    # --- handlers ----------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        if request.query.get("access_token") != self.page_token:
            return False
        proof = request.query.get("appsecret_proof")
        expected = hmac.new(self.app_secret.encode(), self.page_token.encode(), hashlib.sha256).hexdigest()
        return proof is None or hmac.compare_digest(proof, expected)

    def _record(self, path: str, body: Any, status: int, found: Optional[List[str]] = None) -> None:
        with self._lock:
            self.calls.append(Call(path, body, status, found or []))

    def _take_failure(self, path: str, body: Any) -> Optional[str]:
        carries_message = isinstance(body, dict) and "message" in body
        with self._lock:
            for i, (mode, fail_path, messages_only) in enumerate(self._failures):
                if fail_path == path and (carries_message or not messages_only):
                    del self._failures[i]
                    return mode
        return None

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    async def _messages(self, request: web.Request) -> web.Response:
        path, body = "/me/messages", await self._json(request)
        if not self._authorised(request):
            self._record(path, body, 400)
            return _error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        failure = self._take_failure(path, body)
        if failure is not None:
            response = FAILURES[failure]()
            self._record(path, body, response.status)
            return response
        found = self._problems(body)
        if found:
            self._record(path, body, 400, found)
            return _error(400, 100, "(#100) " + "; ".join(found))
        self._record(path, body, 200)
        return web.json_response({"recipient_id": body["recipient"]["id"],
                                  "message_id": f"m_{next(_ids):08d}{uuid.uuid4().hex[:12]}"})

    @staticmethod
    def _problems(body: Any) -> List[str]:
        if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict) \
                or not body["recipient"].get("id"):
            return ["recipient.id is required"]
        if "sender_action" in body:
            ok = body["sender_action"] in ("typing_on", "typing_off", "mark_seen") and "message" not in body
            return [] if ok else ["sender_action alone, typing_on/typing_off/mark_seen"]
        if body.get("messaging_type") not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            return ["messaging_type"]
        if not isinstance(body.get("message"), dict):
            return ["message is required"]
        return problems(body["message"])

    async def _profile(self, request: web.Request) -> web.Response:
        path, body = "/me/messenger_profile", await self._json(request)
        if not self._authorised(request):
            self._record(path, body, 400)
            return _error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        failure = self._take_failure(path, body if body is not None else {})
        if failure is not None:
            response = FAILURES[failure]()
            self._record(path, body, response.status)
            return response
        if not isinstance(body, dict) or not body:
            self._record(path, body, 400)
            return _error(400, 100, "(#100) Requires one of the params")
        self._record(path, body, 200)
        with self._lock:
            self.profile.update(body)
        return web.json_response({"result": "success"})


# --- webhook deliveries (what Facebook POSTs to us) ------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


def new_psid() -> str:
    """A page-scoped id looks like a 16-digit number."""
    return str(uuid.uuid4().int)[:16]


def new_mid() -> str:
    return "m_" + uuid.uuid4().hex + uuid.uuid4().hex[:8]


def _event(psid: str, page_id: str, timestamp: Optional[int], **content: Any) -> Dict[str, Any]:
    return {"sender": {"id": psid}, "recipient": {"id": page_id},
            "timestamp": timestamp or _now_ms(), **content}


def text_event(psid: str, text: str, mid: Optional[str] = None, page_id: str = PAGE_ID,
               timestamp: Optional[int] = None) -> Dict[str, Any]:
    return _event(psid, page_id, timestamp, message={"mid": mid or new_mid(), "text": text})


def quick_reply_event(psid: str, title: str, payload: str, mid: Optional[str] = None,
                      page_id: str = PAGE_ID) -> Dict[str, Any]:
    return _event(psid, page_id, None, message={"mid": mid or new_mid(), "text": title,
                                                "quick_reply": {"payload": payload}})


def postback_event(psid: str, payload: str, title: str = "Démarrer", mid: Optional[str] = None,
                   page_id: str = PAGE_ID) -> Dict[str, Any]:
    return _event(psid, page_id, None, postback={"mid": mid or new_mid(), "title": title, "payload": payload})


def sticker_event(psid: str, page_id: str = PAGE_ID) -> Dict[str, Any]:
    """The thumbs-up: a sticker with an image attachment."""
    url = "https://scontent.xx.fbcdn.net/v/t39.1997-6/851557_369239266556155_759568595_n.png"
    return _event(psid, page_id, None, message={
        "mid": new_mid(), "sticker_id": 369239263222822,
        "attachments": [{"type": "image", "payload": {"url": url, "sticker_id": 369239263222822}}]})


def echo_event(psid: str, text: str, page_id: str = PAGE_ID) -> Dict[str, Any]:
    """Our own message, echoed back: sender is the page."""
    return {"sender": {"id": page_id}, "recipient": {"id": psid}, "timestamp": _now_ms(),
            "message": {"mid": new_mid(), "is_echo": True, "app_id": 1517776481860111, "text": text}}


def read_event(psid: str, page_id: str = PAGE_ID) -> Dict[str, Any]:
    return _event(psid, page_id, None, read={"watermark": _now_ms()})


def delivery(*events: Dict[str, Any], page_id: str = PAGE_ID) -> Dict[str, Any]:
    """One webhook POST body: one entry holding ``events``."""
    return {"object": "page", "entry": [{"id": page_id, "time": _now_ms(), "messaging": list(events)}]}


def batched(*groups: List[Dict[str, Any]], page_id: str = PAGE_ID) -> Dict[str, Any]:
    """Several entries in one POST, as Facebook batches them."""
    return {"object": "page", "entry": [{"id": page_id, "time": _now_ms(), "messaging": list(g)}
                                        for g in groups]}


def signed(body: Any, app_secret: str = APP_SECRET) -> Tuple[bytes, Dict[str, str]]:
    """The raw body and headers Facebook sends: JSON, X-Hub-Signature-256 over the bytes."""
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    signature = "sha256=" + hmac.new(app_secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


@pytest.fixture(scope="session")
def fake_graph() -> Iterator[FakeGraph]:
    """Session-wide fake; ``.env`` holds the ATOUTS_MESSENGER_* variables for the stack."""
    fake = FakeGraph().start()
    try:
        yield fake
    finally:
        fake.stop()

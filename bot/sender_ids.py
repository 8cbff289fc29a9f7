"""Sender ids, one namespace per channel: ``tg:<chat id>``, ``fb:<psid>``,
``web:<session>``, ``rest:<sender>``. A Telegram chat id typed over the web or REST
never names the Telegram person: every channel adds its own prefix, and the web's
sessions are issued and signed by the server (``WebSessions``).

Plain Python (no Rasa): used by the channels, the web app and the migrations.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Dict, Optional

TELEGRAM, MESSENGER, WEB, REST = "tg", "fb", "web", "rest"
# Rasa input channel name -> prefix (the names stored with consents and user events)
CHANNEL_PREFIXES: Dict[str, str] = {
    "telegram": TELEGRAM, "messenger": MESSENGER, "facebook": MESSENGER,
    "socketio": WEB, "rest": REST,
}
PREFIXES = (TELEGRAM, MESSENGER, WEB, REST)
SESSION_SECRET_ENV = "ATOUTS_WEB_SESSION_SECRET"
_SESSION = re.compile(r"([0-9a-f]{32})\.([A-Za-z0-9_-]{43})")


def namespaced(prefix: str, raw: str) -> str:
    """``prefix:raw``; a raw id that already carries this prefix keeps it (idempotent)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown sender prefix {prefix!r}")
    raw = str(raw)
    return raw if raw.startswith(prefix + ":") else f"{prefix}:{raw}"


def raw_id(sender_id: str, prefix: str) -> str:
    """The platform's id inside ``prefix:…`` (a bare id is returned as it is)."""
    head = prefix + ":"
    return sender_id[len(head):] if sender_id.startswith(head) else sender_id


def is_namespaced(sender_id: str) -> bool:
    return sender_id.split(":", 1)[0] in PREFIXES and ":" in sender_id


# --- web sessions --------------------------------------------------------------------


def load_session_secret(var_dir: Path) -> bytes:
    """$ATOUTS_WEB_SESSION_SECRET, else 32 random bytes in var/keys/web-session.secret
    (0600, created on first use). Every Rasa instance must share it."""
    from_env = os.environ.get(SESSION_SECRET_ENV, "").strip()
    if from_env:
        if len(from_env) < 32:
            raise ValueError(f"{SESSION_SECRET_ENV} must be at least 32 characters")
        return from_env.encode("utf-8")
    from bot.badges._files import locked, write_atomic

    folder = var_dir / "keys"
    path = folder / "web-session.secret"
    with locked(folder / ".lock"):
        folder.chmod(0o700)
        if not path.exists():
            write_atomic(path, secrets.token_bytes(32), 0o600)
        secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError("web-session.secret is too short")
    return secret


class WebSessions:
    """Web chat sessions issued by the server: ``<32 hex>.<HMAC-SHA256>`` (base64url).
    The browser keeps the whole token; Rasa's conversation id is ``web:<32 hex>``."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the web session secret must be at least 32 bytes")
        self._secret = secret

    def _mac(self, session: str) -> str:
        digest = hmac.new(self._secret, f"atouts-web-session:v1:{session}".encode("ascii"),
                          hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self) -> str:
        session = secrets.token_hex(16)
        return f"{session}.{self._mac(session)}"

    def verify(self, token: object) -> Optional[str]:
        """The sender id ``web:<session>`` of a token we issued, else None."""
        if not isinstance(token, str):
            return None
        match = _SESSION.fullmatch(token)
        if match is None:
            return None
        session, mac = match.groups()
        if not hmac.compare_digest(mac.encode("ascii"), self._mac(session).encode("ascii")):
            return None
        return f"{WEB}:{session}"

"""Secret link tokens (export, referent invitations): only their sha256 is stored."""
from __future__ import annotations

import hashlib
import secrets

TOKEN_MAX_LEN = 256  # token_urlsafe(32) is 43 characters


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def plausible(token: object) -> bool:
    """Cheap checks before any database lookup."""
    return isinstance(token, str) and 0 < len(token) <= TOKEN_MAX_LEN and token.isascii()

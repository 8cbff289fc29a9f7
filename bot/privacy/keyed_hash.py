"""Keyed hashes (HMAC-SHA256) of referent addresses and verification codes.

The key is ``$ATOUTS_REFERENT_SECRET``, else 32 random bytes generated on first use in
``var/keys/referent.secret`` (0600, in a 0700 folder). Without the key a stored hash
cannot be matched against a list of guessed addresses."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Optional

from bot.badges._files import locked, write_atomic

SECRET_ENV = "ATOUTS_REFERENT_SECRET"
SECRET_FILE = "referent.secret"


def load_secret(var_dir: Path, env: str = SECRET_ENV, name: str = SECRET_FILE) -> bytes:
    from_env = os.environ.get(env, "").strip()
    if from_env:
        return from_env.encode("utf-8")
    folder = var_dir / "keys"
    path = folder / name
    with locked(folder / ".lock"):
        folder.chmod(0o700)
        if not path.exists():
            write_atomic(path, secrets.token_bytes(32), 0o600)
        secret = path.read_bytes()
    if len(secret) < 32:
        raise ValueError(f"{name} is too short")
    return secret


class Keyed:
    """The key, read (or created) on first use."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self._secret: Optional[bytes] = None

    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_secret(self.var_dir)
        return self._secret

    def hash(self, purpose: str, value: str) -> str:
        return hmac.new(self.secret(), f"{purpose}\x00{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def normalise_email(address: str) -> str:
    """Trimmed and lower-cased: « Karim@Club.fr » and « karim@club.fr » are one referent."""
    return address.strip().lower()


def referent_key(keyed: Keyed, address: str) -> str:
    return keyed.hash("referent-email", normalise_email(address))


def code_hash(keyed: Keyed, invitation_id: int, code: str) -> str:
    return keyed.hash("referent-code", f"{invitation_id}:{code.strip()}")


def new_code() -> str:
    """Six digits, uniformly drawn."""
    return f"{secrets.randbelow(1_000_000):06d}"

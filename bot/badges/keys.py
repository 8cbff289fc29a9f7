"""Issuer signing keys: Ed25519 (JWS ``EdDSA``), generated on first use, with rotation.

Layout of the key folder (default ``var/keys``, git-ignored, mode 0700):
``<kid>.pem`` private key (PKCS#8, mode 0600) — only for the current key;
``<kid>.pub.pem`` public key — kept for every key ever used, so old badges still verify;
``current`` the kid that signs new badges; ``pseudonym.secret`` (0600) the HMAC key
that turns internal user ids into stable pseudonymous recipient ids.

A ``kid`` is the RFC 7638 JWK thumbprint of the public key. ``rotate()`` makes a new
key current and deletes the old private key (its public key stays in ``jwks()``).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from bot.badges._files import locked, write_atomic
from bot.config import ROOT

DEFAULT_KEYS_DIR = ROOT / "var" / "keys"
ALGORITHM = "EdDSA"
_KID = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(key))}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(key: Ed25519PublicKey) -> Dict[str, str]:
    """The public JWK (never ``d``) with its ``kid``."""
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_raw_public(key)),
            "kid": thumbprint(key), "alg": ALGORITHM, "use": "sig"}


def public_key_from_jwk(jwk: Dict[str, Any]) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a JWK; ValueError if it is not one."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise ValueError("JWK Ed25519 (kty OKP, crv Ed25519) attendue")
    x = jwk["x"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def find_jwk(jwks: Dict[str, Any], kid: str) -> Optional[Dict[str, Any]]:
    """The key of ``jwks`` whose kid is ``kid`` or the fragment of a kid URI (``…/jwks.json#<kid>``)."""
    wanted = kid.rsplit("#", 1)[-1]
    return next((k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("kid") == wanted), None)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


class KeyStore:
    """The issuer's keys in one folder; safe to share between processes (file lock)."""

    def __init__(self, folder: Union[Path, str] = DEFAULT_KEYS_DIR) -> None:
        self.folder = Path(folder)
        self._lock = self.folder / ".lock"

    # --- signing key -------------------------------------------------------------

    def current(self) -> SigningKey:
        """The key that signs new badges, generated on first use."""
        with locked(self._lock):
            self._secure_folder()
            kid = self._current_kid()
            if kid is None or not (self.folder / f"{kid}.pem").exists():
                return self._generate()
            data = (self.folder / f"{kid}.pem").read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{kid}.pem : clé Ed25519 attendue")
        return SigningKey(kid, key)

    def rotate(self) -> SigningKey:
        """Make a new key current; the old private key is deleted, its public key stays published."""
        with locked(self._lock):
            self._secure_folder()
            old = self._current_kid()
            new = self._generate()
            if old and old != new.kid:
                (self.folder / f"{old}.pem").unlink(missing_ok=True)
            return new

    def _current_kid(self) -> Optional[str]:
        path = self.folder / "current"
        kid = path.read_text(encoding="ascii").strip() if path.exists() else ""
        return kid if _KID.match(kid) else None

    def _generate(self) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        kid = thumbprint(private.public_key())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        write_atomic(self.folder / f"{kid}.pem", pem, 0o600)
        write_atomic(self.folder / f"{kid}.pub.pem", public_pem(private.public_key()), 0o644)
        write_atomic(self.folder / "current", kid.encode("ascii") + b"\n", 0o644)
        return SigningKey(kid, private)

    def _secure_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)

    # --- published keys ----------------------------------------------------------

    def public_keys(self) -> Dict[str, Ed25519PublicKey]:
        """Every public key ever used (current and retired), by kid."""
        keys: Dict[str, Ed25519PublicKey] = {}
        for path in sorted(self.folder.glob("*.pub.pem")):
            key = serialization.load_pem_public_key(path.read_bytes())
            if isinstance(key, Ed25519PublicKey):
                keys[thumbprint(key)] = key
        return keys

    def jwks(self) -> Dict[str, Any]:
        """The public JWK Set served at ``/.well-known/jwks.json``."""
        return {"keys": [public_jwk(key) for key in self.public_keys().values()]}

    def public_pem(self, kid: str) -> bytes:
        return public_pem(self.public_keys()[kid])

    # --- pseudonyms --------------------------------------------------------------

    def pseudonym_secret(self) -> bytes:
        """32 random bytes (created on first use) keying recipient pseudonyms."""
        path = self.folder / "pseudonym.secret"
        with locked(self._lock):
            self._secure_folder()
            if not path.exists():
                write_atomic(path, secrets.token_bytes(32), 0o600)
            return path.read_bytes()

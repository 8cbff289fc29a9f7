"""VC-JWT signing and verification of Open Badges 3.0 credentials (OB 3.0.3 §8.2).

Header ``{"alg": "EdDSA", "kid": "<base>/.well-known/jwks.json#<kid>", "typ": "JWT"}``:
OB 3.0 allows only alg/kid/jwk/typ and says ``typ``, if present, MUST be "JWT"
(VC-JOSE-COSE would use "vc+jwt"; verification accepts both). Payload: the credential
itself at the top level (VCDM 2.0, no ``vc`` wrapper) plus ``iss``, ``jti``, ``sub``,
``nbf``, ``iat`` and ``exp`` when the credential has ``validUntil``.

Verification picks the key named by ``kid`` in our JWK Set, then lets openbadgeslib's
``OB3Verifier`` check the signature (algorithm pinned to the key type), the dates
(exp/nbf and validFrom/validUntil), the types, contexts and claim/credential agreement;
finally the revocation bit is read from the status list.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Dict, Mapping, Optional

import jwt
from openbadgeslib.ob3 import OB3VerificationError, OB3Verifier, OpenBadgeCredential

from bot.badges.keys import ALGORITHM, SigningKey, find_jwk, public_key_from_jwk, public_pem
from bot.badges.status import bit_is_set

JOSE_TYP = "JWT"
ACCEPTED_TYP = (None, "JWT", "vc+jwt")
StatusLookup = Callable[[str], Mapping[str, Any]]  # status list URL -> BitstringStatusListCredential


def sign_payload(payload: Mapping[str, Any], key: SigningKey, kid_uri: str) -> str:
    return jwt.encode(dict(payload), key.private_key, algorithm=ALGORITHM,
                      headers={"kid": kid_uri, "typ": JOSE_TYP})


def sign_credential(credential: OpenBadgeCredential, key: SigningKey, kid_uri: str) -> str:
    payload = credential.to_jwt_payload()  # credential + iss, sub, jti, nbf (+ exp)
    payload["iat"] = payload["nbf"]
    return sign_payload(payload, key, kid_uri)


def sign_status_list(status_list: Mapping[str, Any], key: SigningKey, kid_uri: str) -> str:
    """The BitstringStatusListCredential as a VC-JWT (served at /status/1)."""
    payload = dict(status_list, iss=status_list["issuer"], jti=status_list["id"])
    payload["nbf"] = payload["iat"] = int(_timestamp(status_list["validFrom"]))
    if "validUntil" in status_list:
        payload["exp"] = int(_timestamp(status_list["validUntil"]))
    return sign_payload(payload, key, kid_uri)


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _dates_match(payload: Mapping[str, Any]) -> bool:
    """OB 3.0 §8.2.6: nbf MUST equal validFrom, and exp (if any) validUntil."""
    if payload.get("nbf") != int(_timestamp(payload["validFrom"])):
        return False
    until = payload.get("validUntil")
    return payload.get("exp") == (int(_timestamp(until)) if until else None)


def decode_unverified(token: str) -> Dict[str, Any]:
    """The payload, NOT verified: for display only."""
    payload = jwt.decode(token, options={"verify_signature": False})
    if not isinstance(payload, dict):
        raise ValueError("charge utile JWT invalide")
    return payload


@dataclass(frozen=True)
class Verification:
    """``reason``: ok | malformed | unknown_key | bad_signature | expired | not_yet_valid |
    invalid | wrong_issuer | revoked | status_unavailable."""

    ok: bool
    reason: str
    detail: str = ""
    credential: Optional[Dict[str, Any]] = None
    kid: Optional[str] = None

    def to_json(self) -> str:
        return json.dumps({"ok": self.ok, "reason": self.reason, "detail": self.detail}, ensure_ascii=False)


def _failure_reason(exc: OB3VerificationError) -> str:
    cause = exc.__cause__
    if isinstance(cause, jwt.ExpiredSignatureError) or "expired" in str(exc).lower():
        return "expired"
    if isinstance(cause, jwt.ImmatureSignatureError) or "not yet valid" in str(exc).lower():
        return "not_yet_valid"
    if isinstance(cause, jwt.InvalidSignatureError):
        return "bad_signature"
    return "invalid"


def _is_revoked(payload: Mapping[str, Any], status_lookup: StatusLookup) -> bool:
    """The revocation bit of every BitstringStatusListEntry; raises if a list cannot be read."""
    entries = payload.get("credentialStatus") or []
    for entry in entries if isinstance(entries, list) else [entries]:
        if entry.get("type") != "BitstringStatusListEntry" or entry.get("statusPurpose") != "revocation":
            continue
        status_list = status_lookup(entry["statusListCredential"])
        if bit_is_set(status_list, int(entry["statusListIndex"])):
            return True
    return False


def verify(token: str, jwks: Mapping[str, Any], *, issuer_id: Optional[str] = None,
           status_lookup: Optional[StatusLookup] = None) -> Verification:
    """Check a VC-JWT against our JWK Set; ``status_lookup`` enables the revocation check."""
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.InvalidTokenError, ValueError) as exc:
        return Verification(False, "malformed", str(exc))
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or header.get("typ") not in ACCEPTED_TYP or not isinstance(kid, str):
        return Verification(False, "malformed", f"en-tête JOSE inattendu : {header}")
    jwk = find_jwk(dict(jwks), kid)
    if jwk is None:
        return Verification(False, "unknown_key", f"clé {kid} absente du JWKS", kid=kid)
    kid = str(jwk["kid"])  # the short kid of the JWK Set
    try:
        pem = public_pem(public_key_from_jwk(jwk))
        payload = OB3Verifier(pem).verify(token).raw or {}
        if not _dates_match(payload):
            raise ValueError("nbf/exp ne correspondent pas à validFrom/validUntil")
    except OB3VerificationError as exc:
        return Verification(False, _failure_reason(exc), str(exc), kid=kid)
    except (ValueError, KeyError, TypeError) as exc:
        return Verification(False, "invalid", str(exc), kid=kid)
    if issuer_id is not None and payload.get("iss") != issuer_id:
        return Verification(False, "wrong_issuer", f"émetteur {payload.get('iss')}", payload, kid)
    if status_lookup is not None:
        try:
            if _is_revoked(payload, status_lookup):
                return Verification(False, "revoked", "badge révoqué par l'émetteur", payload, kid)
        except (KeyError, ValueError, TypeError, AttributeError, OSError) as exc:
            return Verification(False, "status_unavailable", str(exc), payload, kid)
    return Verification(True, "ok", "", payload, kid)

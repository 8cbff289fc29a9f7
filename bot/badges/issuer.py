"""The badge service: the one code path that issues, verifies and revokes Atouts badges.

Data under ``data_dir`` (default ``var/``, git-ignored): ``keys/`` (see keys.py) and
``badges/status-1.json`` (see status.py). The chat (Challenger step) calls ``issue``,
stores ``IssuedBadge.id`` and ``status_index``; the web pages serve ``jwks()`` at
/.well-known/jwks.json, ``status_list_jwt()`` at /status/1, ``issuer_profile()`` at
/issuer and call ``verify``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from bot.badges.baking import baked_images
from bot.badges.credential import ISSUER_NAME, LEVEL_LABELS, BadgeRequest, Urls, build_credential
from bot.badges.keys import KeyStore
from bot.badges.status import StatusList
from bot.badges.vc_jwt import Verification, sign_credential, sign_status_list, verify
from bot.config import ROOT, Settings

DEFAULT_DATA_DIR = ROOT / "var"


@dataclass(frozen=True)
class IssuedBadge:
    id: str  # urn:uuid of the credential
    token: str  # the VC-JWT (compact JWS)
    credential: Dict[str, Any]  # the credential, as signed
    status_index: int
    kid: str
    png: bytes  # baked images
    svg: bytes


class BadgeIssuer:
    def __init__(self, base_url: str, data_dir: Union[Path, str] = DEFAULT_DATA_DIR,
                 name: str = ISSUER_NAME) -> None:
        data_dir = Path(data_dir)
        self.urls = Urls(base_url)
        self.name = name
        self.keys = KeyStore(data_dir / "keys")
        self.status = StatusList(data_dir / "badges" / "status-1.json", self.urls.status_list(1))

    @classmethod
    def from_settings(cls, settings: Optional[Settings] = None) -> "BadgeIssuer":
        settings = settings or Settings.from_env()
        return cls(settings.public_url, settings.var_dir)

    def issue(self, request: BadgeRequest, *, now: Optional[datetime] = None) -> IssuedBadge:
        key = self.keys.current()
        index = self.status.allocate()
        credential = build_credential(request, urls=self.urls, status_index=index, issuer_name=self.name,
                                      pseudonym_secret=self.keys.pseudonym_secret(), now=now)
        token = sign_credential(credential, key, self.urls.key_id(key.kid))
        png, svg = baked_images(token, request.skill.label, LEVEL_LABELS[request.level], request.level)
        assert credential.id is not None
        return IssuedBadge(credential.id, token, credential.to_vc(), index, key.kid, png, svg)

    def verify(self, token: str) -> Verification:
        """Signature (key by kid in our JWKS), dates, structure, issuer and revocation."""
        return verify(token, self.jwks(), issuer_id=self.urls.issuer, status_lookup=self._status_lookup)

    def _status_lookup(self, url: str) -> Mapping[str, Any]:
        if url != self.status.url:
            raise ValueError(f"liste de statut inconnue : {url}")
        return self.status.credential(self.urls.issuer)

    def revoke(self, status_index: int, revoked: bool = True) -> None:
        self.status.set_revoked(status_index, revoked)

    def rotate_key(self) -> str:
        return self.keys.rotate().kid

    def jwks(self) -> Dict[str, Any]:
        return self.keys.jwks()

    def status_list_credential(self) -> Dict[str, Any]:
        return self.status.credential(self.urls.issuer)

    def status_list_jwt(self) -> str:
        key = self.keys.current()
        return sign_status_list(self.status_list_credential(), key, self.urls.key_id(key.kid))

    def issuer_profile(self) -> Dict[str, Any]:
        """The OB 3.0 Profile served at /issuer."""
        return {"@context": ["https://www.w3.org/ns/credentials/v2",
                             "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
                "id": self.urls.issuer, "type": ["Profile"], "name": self.name, "url": self.urls.base}


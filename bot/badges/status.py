"""Revocation with a W3C Bitstring Status List (one list, ``/status/1``, purpose ``revocation``).

Each badge gets a random free index (random, so that an index says nothing about the
order or the date of issuance); revoking sets its bit. The list is published as a
``BitstringStatusListCredential`` whose ``encodedList`` is the multibase base64url
(``u`` prefix, no padding) of the GZIP-compressed bitstring of at least 131 072 bits
(16 KiB, the W3C minimum, so a list hides its population). State file (JSON):
``{"size": …, "allocated": […], "revoked": […]}``.
"""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, FrozenSet, Mapping, Optional, Set, Tuple, Union

from openbadgeslib.ob3 import build_status_list_credential, decode_encoded_list, encode_bitstring, status_entry

from bot.badges._files import locked, write_atomic

MIN_BITS = 131072
PURPOSE = "revocation"


class StatusList:
    """A persistent revocation list served at ``url``."""

    def __init__(self, path: Union[Path, str], url: str, size: int = MIN_BITS) -> None:
        if size < MIN_BITS or size % 8:
            raise ValueError(f"taille de liste invalide : {size} (multiple de 8, au moins {MIN_BITS})")
        self.path = Path(path)
        self.url = url
        self.size = size
        self._lock = self.path.with_name(self.path.name + ".lock")

    def _load(self) -> Tuple[Set[int], Set[int]]:
        if not self.path.exists():
            return set(), set()
        data = json.loads(self.path.read_text(encoding="utf-8"))
        if data.get("size") != self.size:
            raise ValueError(f"{self.path.name} : taille {data.get('size')} au lieu de {self.size}")
        return set(data["allocated"]), set(data["revoked"])

    def _save(self, allocated: Set[int], revoked: Set[int]) -> None:
        data = {"size": self.size, "allocated": sorted(allocated), "revoked": sorted(revoked)}
        write_atomic(self.path, json.dumps(data).encode("utf-8"), 0o600)

    def allocate(self) -> int:
        """A new, random, never used index."""
        with locked(self._lock):
            allocated, revoked = self._load()
            if len(allocated) >= self.size:
                raise RuntimeError("liste de statut pleine : en ouvrir une autre (/status/2)")
            index = secrets.randbelow(self.size)
            while index in allocated:
                index = secrets.randbelow(self.size)
            allocated.add(index)
            self._save(allocated, revoked)
            return index

    def set_revoked(self, index: int, revoked: bool = True) -> None:
        """Revoke (or reinstate) the badge at ``index``; KeyError if never allocated."""
        with locked(self._lock):
            allocated, current = self._load()
            if index not in allocated:
                raise KeyError(f"index {index} jamais attribué")
            (current.add if revoked else current.discard)(index)
            self._save(allocated, current)

    def revoked(self) -> FrozenSet[int]:
        with locked(self._lock):
            return frozenset(self._load()[1])

    def is_revoked(self, index: int) -> bool:
        return index in self.revoked()

    def entry(self, index: int) -> Dict[str, Any]:
        """The ``credentialStatus`` (BitstringStatusListEntry) of the badge at ``index``."""
        return status_entry(self.url, PURPOSE, index)

    def encoded_list(self) -> str:
        return encode_bitstring(self.revoked(), self.size)

    def credential(self, issuer_id: str, *, now: Optional[datetime] = None,
                   validity: Optional[timedelta] = timedelta(days=1)) -> Dict[str, Any]:
        """The (unsigned) BitstringStatusListCredential; ``validity`` bounds how long a copy is trusted."""
        issued = (now or datetime.now(timezone.utc)).replace(microsecond=0)
        return build_status_list_credential(issuer_id, self.url, PURPOSE, self.revoked(), self.size,
                                            issued=issued, valid_until=issued + validity if validity else None)


def bit_is_set(status_list: Mapping[str, Any], index: int, purpose: str = PURPOSE) -> bool:
    """Read bit ``index`` of a BitstringStatusListCredential; ValueError if it is not usable."""
    subject = status_list.get("credentialSubject")
    if not isinstance(subject, Mapping) or subject.get("statusPurpose") != purpose:
        raise ValueError(f"liste de statut sans credentialSubject de but « {purpose} »")
    bits = decode_encoded_list(subject.get("encodedList", ""))
    if not 0 <= index < len(bits) * 8:
        raise ValueError(f"index {index} hors de la liste")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))

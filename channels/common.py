"""What every connector shares: durable dedupe of platform deliveries, in-order
processing per conversation, and text shaping for a platform's limits.

The bot's messages are channel-neutral (Rasa's response dicts: ``text``, ``buttons``
[{title, payload}], ``image``); each connector maps them onto its platform through
its Rasa ``OutputChannel`` and degrades what the platform cannot show.
"""
from __future__ import annotations

import asyncio
import logging
import os
import re
import weakref
from datetime import timedelta
from typing import List, Optional

from bot.storage import Store
from bot.storage.models import utcnow

log = logging.getLogger(__name__)

KEEP_DELIVERIES = timedelta(days=2)  # platforms give up retrying well before


class Deliveries:
    """Durable "seen" set of platform delivery ids, in the app database (shared by
    every Rasa instance in production, kept across restarts)."""

    def __init__(self, channel: str, store: Optional[Store] = None) -> None:
        self.channel = channel
        self._store = store
        self._claims = 0

    @property
    def store(self) -> Store:
        if self._store is None:
            from bot import services

            self._store = services.store()  # ATOUTS_DB_URL, migrated on first use
        return self._store

    async def claim(self, delivery_id: object) -> bool:
        """True the first time this delivery is seen: handle it; False: a duplicate."""
        fresh = await asyncio.to_thread(self.store.claim_delivery, self.channel, str(delivery_id))
        self._claims += 1
        if fresh and self._claims % 500 == 0:
            await asyncio.to_thread(self.store.prune_deliveries, utcnow() - KEEP_DELIVERIES)
        return fresh

    async def release(self, delivery_id: object) -> None:
        """Its handling failed: forget it, so that the platform's retry is handled."""
        await asyncio.to_thread(self.store.release_delivery, self.channel, str(delivery_id))


class KeyedLocks:
    """One asyncio.Lock per conversation: its messages are handled one at a time, in
    arrival order (asyncio locks are fair); locks of idle conversations are freed."""

    def __init__(self) -> None:
        self._locks: "weakref.WeakValueDictionary[str, asyncio.Lock]" = weakref.WeakValueDictionary()

    def __call__(self, key: object) -> asyncio.Lock:
        name = str(key)
        lock = self._locks.get(name)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[name] = lock
        return lock


_HARD_BREAK = re.compile(r"[ \t]{2,}\n")
# « [3114](tel:3114) »: tappable in the web chat (Markdown); elsewhere the label (the number)
CONTACT_LINK = re.compile(r"\[(?P<label>[^\]\n]{1,80})\]\((?P<scheme>tel|sms|mailto):(?P<target>[^)\s]{1,120})\)")


def plain_text(text: Optional[str]) -> str:
    """The bot writes markdown hard breaks ("  \\n") for the web chat: plain newlines elsewhere;
    phone, SMS and email links become their plain label (the number, the address)."""
    text = CONTACT_LINK.sub(lambda m: m["label"], text or "")
    return _HARD_BREAK.sub("\n", text).strip()


def split_text(text: str, limit: int) -> List[str]:
    """Pieces of at most ``limit`` characters, cut at a paragraph, a line, a sentence or
    a word when possible (never inside a word shorter than the limit)."""
    text = text.strip()
    pieces: List[str] = []
    while len(text) > limit:
        window = text[:limit + 1]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = max(window.rfind(". "), window.rfind("! "), window.rfind("? "))
            cut = cut + 1 if cut >= limit // 2 else window.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


def env(name: str, default: str = "") -> str:
    value = os.environ.get(name, "").strip()
    return value or default

"""Process-wide services for the action server: settings, database, référentiel."""
from __future__ import annotations

import threading
from typing import Optional

from bot.config import Settings
from bot.referentiel import Referentiel, default_referentiel
from bot.storage import Store

_lock = threading.Lock()
_store: Optional[Store] = None


def settings() -> Settings:
    return Settings.from_env()


def store() -> Store:
    """The app database, migrated to the latest schema on first use."""
    global _store
    with _lock:
        if _store is None:
            candidate = Store(settings().db_url)
            candidate.migrate()
            _store = candidate
        return _store


def reset_store() -> None:
    """Forget the cached store (tests point ATOUTS_DB_URL elsewhere)."""
    global _store
    with _lock:
        if _store is not None:
            _store.close()
        _store = None


def referentiel() -> Referentiel:
    return default_referentiel()


def session_summaries(skill_ids: list) -> list:
    """Profile of someone who did not consent: only this conversation's skills."""
    from collections import Counter

    from bot.storage import SkillSummary

    counts = Counter(s for s in skill_ids if isinstance(s, str))
    return [
        SkillSummary(skill_id=s, count=n, evidences=[])
        for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]

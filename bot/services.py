"""Process-wide services for the action server: settings, database, référentiel,
scoring rules and the badge issuer."""
from __future__ import annotations

import threading
from typing import Optional

from bot.badges import BadgeIssuer
from bot.config import Settings
from bot.referentiel import Referentiel, default_referentiel
from bot.scoring import ScoringRules, default_rules
from bot.storage import Store

_lock = threading.Lock()
_store: Optional[Store] = None
_issuer: Optional[BadgeIssuer] = None


def settings() -> Settings:
    return Settings.from_env()


def issuer() -> BadgeIssuer:
    """The badge issuer (keys and status list in ATOUTS_VAR_DIR)."""
    global _issuer
    with _lock:
        if _issuer is None:
            _issuer = BadgeIssuer.from_settings(settings())
        return _issuer


def store() -> Store:
    """The app database, migrated to the latest schema on first use; erasing a
    person revokes their badges in the issuer's status list."""
    global _store
    revoke = issuer().revoke
    with _lock:
        if _store is None:
            candidate = Store(settings().db_url, revoke_status=revoke)
            candidate.migrate()
            _store = candidate
        return _store


def reset_store() -> None:
    """Forget the cached store and issuer (tests point ATOUTS_DB_URL elsewhere)."""
    global _store, _issuer
    with _lock:
        if _store is not None:
            _store.close()
        _store = None
        _issuer = None


def scoring_rules() -> ScoringRules:
    return default_rules()


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


def warm_up() -> None:
    """Load everything once before the first message (the action server does it at
    start-up when ATOUTS_WARM_UP=1, as the launcher sets): database migrations,
    issuer keys, référentiel, scoring rules and catalogues. Otherwise the first
    conversations all wait for them at once."""
    from bot.progress.catalogue import default_catalogue
    from bot.progress.missions import default_catalogue as default_missions

    store()
    referentiel()
    scoring_rules()
    default_catalogue()
    default_missions()

"""Shared fixtures: the French spaCy model, a fresh app database, tracker factory, domain."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker

from bot import services

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_URL = "https://atouts.example.org"


@pytest.fixture(scope="session")
def nlp():
    """fr_core_news_md, loaded once per test session (~5 s).

    Loaded exactly as Rasa's ``SpacyNLP`` does (parser disabled), so the tests
    see the same spaCy docs as the trained bot.
    """
    import spacy

    return spacy.load("fr_core_news_md", disable=["parser"])


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty app database on the embedded default (SQLite) and on production's
    PostgreSQL (tests.services: a throw-away database on the machine's server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'atouts.db'}"
        return
    from tests.services import pg_database

    with pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Dict[str, Any]]:
    """Rasa's tracker store database, SQLite and PostgreSQL: the keyword arguments of
    ``SQLTrackerStore`` and, under ``url``, an SQLAlchemy URL to look at the rows."""
    if request.param == "sqlite":
        path = tmp_path / "rasa_tracker.db"
        yield {"dialect": "sqlite", "db": str(path), "url": f"sqlite:///{path}"}
        return
    from sqlalchemy.engine import make_url

    from tests.services import pg_database

    with pg_database() as url:
        parts = make_url(url)
        yield {"dialect": "postgresql", "host": parts.host, "port": parts.port, "db": parts.database,
               "username": parts.username, "url": url}


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the actions (``bot.services``) at a fresh SQLite database."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("ATOUTS_DB_URL", url)
    monkeypatch.setenv("ATOUTS_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("ATOUTS_EXPORT_TTL", "3600")
    monkeypatch.setenv("ATOUTS_VAR_DIR", str(tmp_path / "var"))  # issuer keys, status list
    services.reset_store()
    yield url
    services.reset_store()


@pytest.fixture
def make_tracker() -> Callable[..., Tracker]:
    """Build a rasa_sdk Tracker as the action server receives it."""

    def _make(
        slots: Optional[Dict[str, Any]] = None,
        text: str = "",
        intent: Optional[str] = None,
        soft_skills: Optional[List[Dict[str, Any]]] = None,
        sender_id: str = "test-user",
        entities: Optional[List[Dict[str, Any]]] = None,
        intent_ranking: Optional[List[Dict[str, Any]]] = None,
        slot_events: Optional[Dict[str, Any]] = None,
        active_loop: Optional[str] = None,
        input_channel: str = "socketio",
        history: Optional[List[Dict[str, Any]]] = None,
    ) -> Tracker:
        latest_message: Dict[str, Any] = {
            "text": text,
            "intent": {"name": intent, "confidence": 1.0} if intent else {},
            "entities": entities or [],
            "intent_ranking": intent_ranking or [],
        }
        if soft_skills is not None:
            latest_message["soft_skills"] = soft_skills
        events: List[Dict[str, Any]] = list(history or []) + [
            {"event": "action", "name": "action_listen"},
            {
                "event": "user",
                "text": text,
                "parse_data": latest_message,
                "input_channel": input_channel,
            },
        ]
        # Slot candidates extracted by the form come last (see Tracker.slots_to_validate).
        for name, value in (slot_events or {}).items():
            events.append({"event": "slot", "name": name, "value": value})
        all_slots = dict(slots or {})
        all_slots.update(slot_events or {})
        return Tracker(
            sender_id=sender_id,
            slots=all_slots,
            latest_message=latest_message,
            events=events,
            paused=False,
            followup_action=None,
            active_loop={"name": active_loop} if active_loop else {},
            latest_action_name="action_listen",
        )

    return _make


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))

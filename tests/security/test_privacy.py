"""Issue 10, items 5 and 7 (privacy, files). Files: databases and key files are created 0600, and erasure
overwrites the erased rows whatever the platform's SQLite was built with.

Run on the code before the fix: the databases were 0644 (umask 022) and, on a SQLite
built without SECURE_DELETE, an erased story was still readable in the file."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path
from typing import Iterator, List

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.privacy.keyed_hash import Keyed
from bot.storage import Store
from bot.tracker_store import ErasableSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
MARKER = "Zorglub-recomptait-la-caisse-7f3a"

pytestmark = pytest.mark.filterwarnings("ignore:Slot auto-fill has been removed:UserWarning")


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)  # what most servers run with: files 0644 unless we say otherwise
    yield
    os.umask(old)


@pytest.fixture
def no_builtin_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every new SQLite connection starts with secure_delete off, as on a platform whose
    SQLite was built without SQLITE_SECURE_DELETE (Debian's is built with it)."""
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):  # noqa: ANN002, ANN003
        connection = real_connect(*args, **kwargs)
        connection.execute("PRAGMA secure_delete=OFF")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    monkeypatch.setattr(sqlite3.dbapi2, "connect", connect)  # what SQLAlchemy calls


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def raw_bytes(path: Path) -> bytes:
    """The database file after a checkpoint (WAL copied in), plus what is left of its log."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_app_database_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "atouts.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.record_consent("tg:1", True, "v1")
    store.close()
    assert mode(path) == 0o600
    for companion in (path.with_name(path.name + s) for s in ("-wal", "-shm")):
        if companion.exists():
            assert mode(companion) == 0o600, companion.name


def conversation(sender_id: str, domain: Domain) -> DialogueStateTracker:
    events: List[Event] = [
        ActionExecuted("action_session_start"), ActionExecuted("action_listen"),
        UserUttered(f"j'ai tenu la caisse {MARKER}", {"name": "tell_experience", "confidence": 0.9}),
        BotUttered("Merci !"), ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(sender_id, events, domain.slots)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def test_tracker_database_is_created_0600(tmp_path: Path, domain: Domain) -> None:
    path = tmp_path / "rasa_tracker.db"
    store = ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(path))
    asyncio.run(store.save(conversation("tg:1", domain)))
    assert mode(path) == 0o600


def test_referent_secret_is_0600_in_a_0700_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATOUTS_REFERENT_SECRET", raising=False)
    (tmp_path / "keys").mkdir(mode=0o755)
    Keyed(tmp_path).hash("t", "x")
    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / "referent.secret") == 0o600


def test_erased_story_is_gone_from_the_app_database_file(tmp_path: Path, no_builtin_secure_delete: None) -> None:
    path = tmp_path / "atouts.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    store.record_consent("tg:1", True, "v1")
    store.add_experience("tg:1", f"J'ai tenu la caisse tout l'été. {MARKER}")
    store.close()
    assert MARKER.encode() in raw_bytes(path)  # the test can see it while it is there
    store = Store(f"sqlite:///{path}")
    assert store.erase_person("tg:1") > 0
    store.close()
    assert MARKER.encode() not in raw_bytes(path)


def test_erased_conversation_is_gone_from_the_tracker_file(tmp_path: Path, domain: Domain,
                                                           no_builtin_secure_delete: None) -> None:
    path = tmp_path / "rasa_tracker.db"
    store = ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(path))
    asyncio.run(store.save(conversation("tg:1", domain)))
    assert MARKER.encode() in raw_bytes(path)
    assert asyncio.run(store.erase("tg:1")) > 0
    store.engine.dispose()
    assert MARKER.encode() not in raw_bytes(path)


# --- item 5: the tracker keeps only what the bot says ------------------------------------------

REFERENT_TOKEN = "Qm9uam91ci1jZXN0LXVuLXNlY3JldC1kZS00My1jYXI"
EXPORT_TOKEN = "ZXhwb3J0LWxpbmstc2VjcmV0LXRva2VuLTQzLWNoYXJz"
STORY = "L'été dernier j'ai tenu la caisse du Zorglub-market, je recomptais tout deux fois."
EVIDENCE = "je recomptais tout deux fois"


def tracker_store(tmp_path: Path, domain: Domain) -> ErasableSQLTrackerStore:
    return ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "rasa_tracker.db"))


def save(store: ErasableSQLTrackerStore, sender: str, domain: Domain, events: List[Event]) -> None:
    """Rasa's way: retrieve what is stored, append this turn's events, save."""
    tracker = asyncio.run(store.retrieve(sender)) or DialogueStateTracker(sender, domain.slots)
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))


def test_links_typed_places_and_emails_never_reach_the_tracker(tmp_path: Path, domain: Domain) -> None:
    from rasa.shared.core.events import ActiveLoop, SlotSet

    store = tracker_store(tmp_path, domain)
    save(store, "tg:9", domain, [
        ActionExecuted("action_session_start"), ActionExecuted("action_listen"),
        UserUttered("inviter mon coach", {"name": "invite_referent", "confidence": 0.9}),
        BotUttered(f"Voici le lien pour Karim : https://atouts.example.org/referent/{REFERENT_TOKEN}",
                   {"buttons": [{"title": "Ouvrir", "payload": f"/referent/{REFERENT_TOKEN}"}]}),
        BotUttered(f"Tes données : http://localhost:8080/mes-donnees/{EXPORT_TOKEN}"),
        ActiveLoop("missions_form"), SlotSet("requested_slot", "mission_place"),
        BotUttered("Tu es où ? (code postal ou ville)"), ActionExecuted("action_listen"),
    ])
    save(store, "tg:9", domain, [  # the next turn: the answer to « Tu es où ? »
        UserUttered("j'habite 12 rue des Lilas 69003 Lyon", {"name": "inform", "confidence": 0.6},
                    [{"entity": "place", "value": "69003 Lyon", "start": 20, "end": 30}]),
        SlotSet("mission_place", "j'habite 12 rue des Lilas 69003 Lyon"), SlotSet("mission_place", "69"),
        ActiveLoop(None), SlotSet("requested_slot", None),
        ActiveLoop("invite_form"), SlotSet("requested_slot", "referent_email"), ActionExecuted("action_listen"),
        UserUttered("c'est karim.benali@club-sport.fr", {"name": "inform", "confidence": 0.7}),
        SlotSet("referent_email", "karim.benali@club-sport.fr"), ActionExecuted("action_listen"),
        UserUttered("tu peux écrire à lea.martin@ecole.fr aussi", {"name": "inform", "confidence": 0.7}),
    ])
    store.engine.dispose()
    raw = raw_bytes(tmp_path / "rasa_tracker.db")
    for secret in (REFERENT_TOKEN, EXPORT_TOKEN, "rue des Lilas", "69003", "karim.benali",
                   "club-sport.fr", "lea.martin@ecole.fr"):
        assert secret.encode() not in raw, secret
    assert b"/referent/[lien masqu" in raw  # the bot's message is kept, its secret is not
    tracker = asyncio.run(tracker_store(tmp_path, domain).retrieve("tg:9"))
    assert tracker.get_slot("mission_place") == "69"  # the department only


def test_a_story_without_consent_is_forgotten_once_used(tmp_path: Path, domain: Domain) -> None:
    from rasa.shared.core.events import SlotSet

    store = tracker_store(tmp_path, domain)
    proposal = [{"skill_id": "rigueur", "confidence": 0.8, "evidence": EVIDENCE}]
    save(store, "tg:7", domain, [
        ActionExecuted("action_session_start"), ActionExecuted("action_listen"),
        UserUttered("/deny", {"name": "deny", "confidence": 1.0}), SlotSet("consent", "non"),
        BotUttered("Pas de souci 👍 Je ne garde rien de plus que notre conversation."),
        ActionExecuted("action_listen"),
        UserUttered(STORY, {"name": "tell_experience", "confidence": 0.9}),
        SlotSet("experience_story", None), SlotSet("experience_story", STORY),
        SlotSet("pending_skills", proposal),
        BotUttered(f"Tu as dit « {EVIDENCE} » : c'est de la rigueur. Tu te reconnais ?"),
        ActionExecuted("action_listen"),
    ])
    # while the story is being used, it is there (the next turn needs it)
    assert b"Zorglub-market" in raw_bytes(tmp_path / "rasa_tracker.db")
    save(store, "tg:7", domain, [
        UserUttered("oui", {"name": "affirm", "confidence": 0.99}),
        SlotSet("pending_skills", []), SlotSet("session_skills", ["rigueur"]),
        BotUttered("Bravo 🎉 Tu as montré : Rigueur. (Je ne garde rien, comme tu l'as choisi.)"),
        SlotSet("experience_story", None), SlotSet("pending_skills", None),
        ActionExecuted("action_listen"),
    ])
    store.engine.dispose()
    raw = raw_bytes(tmp_path / "rasa_tracker.db")
    assert b"Zorglub-market" not in raw and EVIDENCE.encode() not in raw
    tracker = asyncio.run(tracker_store(tmp_path, domain).retrieve("tg:7"))
    assert tracker.get_slot("session_skills") == ["rigueur"]  # what the bot says it keeps


def test_a_story_with_consent_is_not_rewritten(tmp_path: Path, domain: Domain) -> None:
    from rasa.shared.core.events import SlotSet

    store = tracker_store(tmp_path, domain)
    save(store, "tg:8", domain, [
        ActionExecuted("action_session_start"), SlotSet("consent", "oui"),
        UserUttered(STORY, {"name": "tell_experience", "confidence": 0.9}),
        SlotSet("experience_story", STORY), SlotSet("experience_story", None),
    ])
    store.engine.dispose()
    assert b"Zorglub-market" in raw_bytes(tmp_path / "rasa_tracker.db")


def test_retention_erases_people_inactive_beyond_the_limit(tmp_path: Path, domain: Domain,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import time as clock

    from bot.privacy import retention

    app_url = f"sqlite:///{tmp_path / 'atouts.db'}"
    app = Store(app_url)
    app.migrate()
    from datetime import datetime, timedelta, timezone
    from unittest import mock

    long_ago = datetime.now(timezone.utc) - timedelta(days=420)
    for sender in ("tg:old", "tg:new"):
        with mock.patch("bot.storage.utcnow", return_value=long_ago):  # consented long ago
            app.record_consent(sender, True, "v1")
        app.add_experience(sender, f"Une histoire de {sender}")
    app.close()
    store = tracker_store(tmp_path, domain)
    now = clock.time()
    for sender, age_days in (("tg:old", 400), ("tg:new", 10), ("tg:anonymous-old", 500)):
        tracker = DialogueStateTracker(sender, domain.slots)
        tracker.update(UserUttered("salut", {"name": "greet", "confidence": 1.0},
                                   timestamp=now - age_days * 86400))
        asyncio.run(store.save(tracker))
    store.engine.dispose()
    monkeypatch.setenv("ATOUTS_DB_URL", app_url)
    monkeypatch.setenv("ATOUTS_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ATOUTS_RETENTION_DAYS", "365")
    told: list = []
    monkeypatch.setattr(retention, "rasa_notify", lambda url, token: lambda sender, day: told.append(sender) or True)
    assert retention.main(["--tracker-db", str(tmp_path / "rasa_tracker.db")]) == 0
    assert told == ["tg:old"]  # told first (bot.privacy.retention), erased 30 days later at the earliest
    app = Store(app_url)
    assert app.export_person("tg:old")["experiences"]
    app.mark_retention_notice("tg:old", datetime.now(timezone.utc) - timedelta(days=31))
    app.close()
    assert retention.main(["--tracker-db", str(tmp_path / "rasa_tracker.db")]) == 0
    assert told == ["tg:old"]
    app = Store(app_url)
    assert app.export_person("tg:old")["person"] is None
    assert app.export_person("tg:new")["experiences"]
    app.close()
    with sqlite3.connect(tmp_path / "rasa_tracker.db") as db:
        senders = {row[0] for row in db.execute("SELECT DISTINCT sender_id FROM events")}
    assert senders == {"tg:new"}
    assert b"Une histoire de tg:old" not in raw_bytes(tmp_path / "atouts.db")

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

"""Issue 10: namespaced sender ids and their migrations, signed web sessions, text made
inert for Markdown, the client address behind trusted proxies, REST off by default."""
from __future__ import annotations

import asyncio
import html
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from alembic import command

from bot.config import parse_networks
from bot.sender_ids import WebSessions, is_namespaced, load_session_secret, namespaced, raw_id
from bot.text import clean_text, markdown_inert
from bot.web.clients import client_address

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore:Slot auto-fill has been removed:UserWarning")


def test_namespaces() -> None:
    assert namespaced("tg", "123") == "tg:123" and namespaced("tg", "tg:123") == "tg:123"
    assert namespaced("rest", "tg:123") == "rest:tg:123"  # another channel's prefix is just text
    assert raw_id("fb:987", "fb") == "987" and raw_id("987", "fb") == "987"
    assert is_namespaced("web:abc") and not is_namespaced("abc") and not is_namespaced("xx:abc")
    with pytest.raises(ValueError):
        namespaced("mail", "x")


def test_web_sessions_are_issued_and_cannot_be_forged() -> None:
    sessions = WebSessions(b"k" * 32)
    token = sessions.issue()
    session, mac = token.split(".")
    assert len(session) == 32 and sessions.verify(token) == f"web:{session}"
    assert sessions.issue() != token
    for forged in (session, f"web:{session}", f"{session}.{'A' * 43}", f"{session}.{mac[:-1]}x",
                   token + "x", "", None, 12, WebSessions(b"o" * 32).issue()):
        assert sessions.verify(forged) is None, forged
    with pytest.raises(ValueError):
        WebSessions(b"short")


def test_the_session_secret_is_created_once_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATOUTS_WEB_SESSION_SECRET", raising=False)
    first = load_session_secret(tmp_path)
    assert load_session_secret(tmp_path) == first and len(first) == 32
    assert (tmp_path / "keys" / "web-session.secret").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("ATOUTS_WEB_SESSION_SECRET", "x" * 40)
    assert load_session_secret(tmp_path) == b"x" * 40


def test_clean_text_removes_bidi_and_invisible_characters() -> None:
    tricky = "fac\u202etxt.exe\u202c ze\u200bro\u200d\u2066x\u2069\ufeff\u00ad ok\nligne"
    assert clean_text(tricky) == "factxt.exe zerox ok\nligne"
    assert clean_text("Très bien 👍 « merci »") == "Très bien 👍 « merci »"


def test_markdown_inert_keeps_the_text_and_no_syntax() -> None:
    text = "[Clique](https://evil.example) ![x](https://e.x/p.png) **gras** <https://a.b> t'as vu ?"
    inert = markdown_inert(text)
    assert html.unescape(inert) == text
    assert not any(c in inert.replace("&#", "").replace(";", "") for c in "[]()!*<>:/?'")
    assert markdown_inert("Très bien 👍") == "Très bien 👍"


TRUSTED = parse_networks("127.0.0.1, 10.0.0.0/8")


@pytest.mark.parametrize("peer, forwarded, expected", [
    ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),            # untrusted peer: header ignored
    ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),             # our proxy: the client it saw
    ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),    # a client's own entry is on the left
    ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),   # two proxies of ours
    ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # header repeated
    ("127.0.0.1", ["pas-une-ip"], "pas-une-ip"),                 # garbage: not believed further
    ("127.0.0.1", [], "127.0.0.1"),
])
def test_client_address_right_to_left(peer, forwarded, expected) -> None:
    assert client_address(peer, forwarded, TRUSTED) == expected


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"
    with pytest.raises(ValueError):
        parse_networks("pas une ip")


def test_app_database_migration_namespaces_people(tmp_path: Path) -> None:
    from bot.storage.db import alembic_config, make_engine, migration_connection

    url = f"sqlite:///{tmp_path / 'atouts.db'}"
    engine = make_engine(url)
    config = alembic_config(url)
    with migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    people = [("123", "telegram"), ("987", "messenger"), ("a" * 32, "socketio"), ("bench", "rest"),
              ("tg:555", "rest"), ("tg:777", "telegram"), ("orphan", None)]
    with sqlite3.connect(tmp_path / "atouts.db") as db:
        db.executemany("INSERT INTO persons (sender_id, channel, consent_given, created_at) "
                       "VALUES (?, ?, 1, '2026-01-01')", people)
    with migration_connection(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with sqlite3.connect(tmp_path / "atouts.db") as db:
        ids = sorted(r[0] for r in db.execute("SELECT sender_id FROM persons"))
    assert ids == sorted(["tg:123", "fb:987", f"web:{'a' * 32}", "rest:bench", "rest:tg:555", "tg:777", "orphan"])
    engine.dispose()


def test_tracker_store_namespaces_old_conversations_once(tmp_path: Path) -> None:
    """Old tracker rows get their channel's prefix (from their latest user message): the
    conversation, the export and the erasure of a person stay whole."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.tracker_store import ErasableSQLTrackerStore

    domain = Domain.load(str(ROOT / "domain.yml"))
    db = tmp_path / "rasa_tracker.db"
    old = SQLTrackerStore(domain, dialect="sqlite", db=str(db))
    for sender, channel in (("123", "telegram"), ("987", "messenger"), ("b" * 32, "socketio"),
                            ("tg:9", "rest")):
        tracker = DialogueStateTracker.from_events(sender, [
            ActionExecuted("action_listen"), UserUttered("salut", {"name": "greet"}, input_channel=channel)])
        asyncio.run(old.save(tracker))
    old.engine.dispose()
    store = ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(db))
    with sqlite3.connect(db) as conn:
        ids = {r[0] for r in conn.execute("SELECT DISTINCT sender_id FROM events")}
    assert ids == {"tg:123", "fb:987", f"web:{'b' * 32}", "rest:tg:9"}
    assert store.namespace_senders() == 0  # done once
    store.engine.dispose()


def test_launcher_writes_rest_only_when_enabled(tmp_path: Path) -> None:
    from bot.launcher import StackConfig, write_credentials

    config = StackConfig(var_dir=tmp_path, web_port=8123)
    plain = yaml.safe_load(write_credentials(config, {}).read_text(encoding="utf-8"))
    assert "channels.rest.RestInput" not in plain
    socket = plain["channels.socketio.SocketIOInput"]
    assert "http://localhost:8123" in socket["allowed_origins"]
    enabled = yaml.safe_load(write_credentials(config, {"ATOUTS_ENABLE_REST": "1"}).read_text(encoding="utf-8"))
    assert "channels.rest.RestInput" in enabled
    assert "channels.rest.RestInput" not in yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))

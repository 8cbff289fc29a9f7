"""bot.storage against real SQLite files and a real PostgreSQL database (no mocks)."""
from __future__ import annotations

import hashlib
import json
import itertools
import math
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, table, text

from bot.storage import Base, SkillSummary, Store
from bot.storage.db import MIGRATIONS_DIR, make_engine

ROOT = Path(__file__).resolve().parents[2]
# the tables that hold something about a person (channel_deliveries holds platform ids
# only, partner_groups a partner's name, code and token hash)
NOT_PERSONAL = ("channel_deliveries", "partner_groups")
TABLES = [t.name for t in Base.metadata.sorted_tables if t.name not in NOT_PERSONAL]
_INDEXES = itertools.count(7)


@pytest.fixture
def url(db_url: str) -> str:
    return db_url  # SQLite and PostgreSQL (tests/conftest.py)


@pytest.fixture
def store(url: str):
    s = Store(url)
    s.migrate()
    yield s
    s.close()


def row_counts(url: str, where_sender: str | None = None) -> dict[str, int]:
    """Rows per table, all of them or only those linked to one sender_id."""
    links = {
        "persons": "SELECT id FROM persons WHERE sender_id = :s",
        "experiences": "SELECT e.id FROM experiences e JOIN persons p ON p.id = e.person_id "
        "WHERE p.sender_id = :s",
        "skill_claims": "SELECT c.id FROM skill_claims c JOIN experiences e "
        "ON e.id = c.experience_id JOIN persons p ON p.id = e.person_id WHERE p.sender_id = :s",
        "export_tokens": "SELECT t.id FROM export_tokens t JOIN persons p ON p.id = t.person_id "
        "WHERE p.sender_id = :s",
        "badges": "SELECT b.id FROM badges b JOIN persons p ON p.id = b.person_id "
        "WHERE p.sender_id = :s",
        "assessments": "SELECT a.id FROM assessments a JOIN persons p ON p.id = a.person_id "
        "WHERE p.sender_id = :s",
        "referent_invitations": "SELECT i.id FROM referent_invitations i JOIN persons p "
        "ON p.id = i.person_id WHERE p.sender_id = :s",
        "referent_responses": "SELECT r.id FROM referent_responses r JOIN referent_invitations i "
        "ON i.id = r.invitation_id JOIN persons p ON p.id = i.person_id WHERE p.sender_id = :s",
        "progress_profiles": "SELECT g.id FROM progress_profiles g JOIN persons p ON p.id = g.person_id "
        "WHERE p.sender_id = :s",
        "resource_feedback": "SELECT f.id FROM resource_feedback f JOIN persons p ON p.id = f.person_id "
        "WHERE p.sender_id = :s",
        "group_members": "SELECT m.id FROM group_members m JOIN persons p ON p.id = m.person_id "
        "WHERE p.sender_id = :s",
        "outbox": "SELECT o.id FROM outbox o JOIN persons p ON p.id = o.person_id WHERE p.sender_id = :s",
        "scheduled": "SELECT d.id FROM scheduled d JOIN persons p ON p.id = d.person_id WHERE p.sender_id = :s",
    }
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if where_sender is None:
                return {
                    name: conn.execute(select(func.count()).select_from(table(name))).scalar_one()
                    for name in TABLES
                }
            return {
                name: len(conn.execute(text(links[name]), {"s": where_sender}).all())
                for name in TABLES
            }
    finally:
        engine.dispose()


def populate(store: Store, sender_id: str) -> int:
    store.record_consent(sender_id, True, "v1", channel="web")
    store.set_first_name(sender_id, "Inès")
    exp = store.add_experience(
        sender_id, "J'ai organisé un tournoi de foot.", {"action": "planning"}, "sport"
    )
    store.add_skill_claim(sender_id, exp, "organisation", 0.9, "confirmed", "j'ai tout planifié")
    store.add_skill_claim(sender_id, exp, "leadership", 0.4, "rejected")
    store.create_export_token(sender_id)
    store.save_badge(sender_id, f"urn:uuid:{uuid.uuid4()}", "organisation", "confirme",
                     f"header.payload-{sender_id}.signature", next(_INDEXES),
                     datetime(2026, 3, 1, tzinfo=timezone.utc))
    store.open_self_assessment(sender_id, "organisation")
    store.record_self_answer(sender_id, "organisation", "organisation_1", 2)
    token, _ = store.create_invitation(sender_id, "Karim", "coach", ["organisation"])
    store.submit_referent(token, {"organisation": {"organisation_1": 3, "organisation_2": None}})
    store.create_invitation(sender_id, "Léa", "tuteur", ["organisation"])
    store.set_progress_prefs(sender_id, kinds=["video"], max_minutes=30, department="69")
    store.record_resources(sender_id, "organisation", ["organisation_video_1", "organisation_mooc_1"])
    code, _ = store.create_group(f"Mission locale {sender_id}")
    store.join_group(sender_id, code)
    store.add_notice(sender_id, "referent", "Karim, ton coach, a répondu pour Organisation 🎉")
    store.add_notice(sender_id, "follow_up", "Tu as pu essayer « Planifier sa semaine » ?")
    store.schedule(sender_id, "follow_up", datetime.now(timezone.utc) + timedelta(days=5),
                   {"follow_up": "resource:organisation_video_1"})
    return exp


# --- schema and migrations -------------------------------------------------


def test_migrate_creates_tables_and_is_idempotent(url: str) -> None:
    store = Store(url)
    store.migrate()
    store.migrate()
    engine = make_engine(url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == {*TABLES, *NOT_PERSONAL, "alembic_version"}
        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert MigrationContext.configure(conn).get_current_revision() == head
    engine.dispose()
    store.close()


@pytest.mark.parametrize("steps_back", [1, 2])
def test_upgrading_from_a_previous_schema_keeps_the_data(url: str, steps_back: int) -> None:
    """A database at an earlier revision, with a person in it, upgraded to head (as a
    deployment does): nothing lost, the new columns and kinds usable (on PostgreSQL,
    0011 used to reset the outbox's id sequence: the next notice failed); and back."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    previous = scripts.get_current_head()
    for _ in range(steps_back):
        previous = scripts.get_revision(previous).down_revision
    command.upgrade(config, previous)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO persons (sender_id, channel, first_name, consent_given, consent_at, "
                          "notice_version, created_at) VALUES ('rest:old', 'rest', 'Inès', :t, :now, 'v1', :now)"),
                     {"t": True, "now": now})
        person = conn.execute(text("SELECT id FROM persons WHERE sender_id = 'rest:old'")).scalar_one()
        conn.execute(text("INSERT INTO experiences (person_id, text, details, created_at) "
                          "VALUES (:p, 'J''ai tenu la caisse', '{}', :now)"), {"p": person, "now": now})
        conn.execute(text("INSERT INTO outbox (person_id, kind, text, created_at) "
                          "VALUES (:p, 'badge', 'Ton badge est prêt', :now)"), {"p": person, "now": now})
    engine.dispose()
    store = Store(url)
    store.migrate()  # to head, the way `make run` and the servers do
    export = store.export_person("rest:old")
    assert export["person"]["first_name"] == "Inès" and export["person"]["consent_given"]
    assert [e["text"] for e in export["experiences"]] == ["J'ai tenu la caisse"]
    assert store.add_notice("rest:old", "retention", "Je vais effacer ton espace") is not None  # new kind
    store.close()
    command.downgrade(config, previous)  # and back, data kept
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT first_name FROM persons")).scalars().all() == ["Inès"]
    engine.dispose()


def test_migrations_match_models(store: Store, url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_alembic_ini_uses_env_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_url = f"sqlite:///{tmp_path / 'sub' / 'cli.db'}"
    monkeypatch.setenv("ATOUTS_DB_URL", db_url)
    config = Config(str(ROOT / "alembic.ini"))
    command.upgrade(config, "head")
    command.check(config)  # raises if autogenerate would produce a migration
    assert row_counts(db_url) == {name: 0 for name in TABLES}


def test_store_creates_sqlite_parent_folder(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'a' / 'b' / 'atouts.db'}")
    store.migrate()
    assert (tmp_path / "a" / "b" / "atouts.db").is_file()
    store.close()


def test_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOUTS_DB_URL", f"sqlite:///{tmp_path / 'env.db'}")
    store = Store.from_env()
    store.migrate()
    assert (tmp_path / "env.db").is_file()
    store.close()


# --- consent ---------------------------------------------------------------


def test_consent_given(store: Store, url: str) -> None:
    assert not store.has_consent("u1")
    store.record_consent("u1", True, "v1", channel="web")
    store.record_consent("u1", True, "v2")  # renewed under a new notice
    assert store.has_consent("u1")
    person = store.export_person("u1")["person"]
    assert person["consent_given"] is True
    assert person["notice_version"] == "v2"
    assert person["channel"] == "web"
    assert row_counts(url)["persons"] == 1


def test_consent_refused_stores_nothing(store: Store, url: str) -> None:
    store.record_consent("u1", False, "v1", channel="web")
    assert not store.has_consent("u1")
    assert row_counts(url) == {name: 0 for name in TABLES}


def test_consent_withdrawn_erases_everything(store: Store, url: str) -> None:
    populate(store, "u1")
    store.record_consent("u1", False, "v1")
    assert not store.has_consent("u1")
    assert row_counts(url) == {name: 0 for name in TABLES}


def test_nothing_stored_without_consent(store: Store, url: str) -> None:
    assert store.add_experience("u1", "une histoire") is None
    store.set_first_name("u1", "Inès")
    assert store.create_export_token("u1") is None
    assert store.confirmed_skills("u1") == []
    assert store.export_person("u1")["person"] is None
    assert row_counts(url) == {name: 0 for name in TABLES}


def test_first_name_is_trimmed_and_bounded(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    store.set_first_name("u1", "  Inès  ")
    assert store.export_person("u1")["person"]["first_name"] == "Inès"
    store.set_first_name("u1", "x" * 80)
    assert store.export_person("u1")["person"]["first_name"] == "x" * 50
    store.set_first_name("u1", None)
    assert store.export_person("u1")["person"]["first_name"] is None


# --- experiences and skills --------------------------------------------------


def test_experience_and_claims_round_trip(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    details = {"action": "j'ai appelé", "difficulty": "le stress", "result": "ça a marché"}
    exp = store.add_experience("u1", "Au travail, un client énervé…", details, "job d'été")
    assert isinstance(exp, int)
    claim = store.add_skill_claim("u1", exp, "gestion_stress", 0.75, "confirmed", "j'ai respiré")
    assert isinstance(claim, int)
    [experience] = store.export_person("u1")["experiences"]
    assert experience["text"] == "Au travail, un client énervé…"
    assert experience["context"] == "job d'été"
    assert experience["details"] == details
    [skill] = experience["skills"]
    assert skill["skill_id"] == "gestion_stress"
    assert skill["confidence"] == 0.75
    assert skill["status"] == "confirmed"
    assert skill["evidence"] == "j'ai respiré"


def test_unknown_detail_keys_rejected(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    with pytest.raises(ValueError):
        store.add_experience("u1", "histoire", {"address": "12 rue…"})


@pytest.mark.parametrize(
    "confidence, status",
    [(-0.01, "confirmed"), (1.01, "confirmed"), (math.nan, "confirmed"), (0.5, "maybe"),
     (0.5, "")],
)
def test_invalid_claim_rejected(store: Store, confidence: float, status: str) -> None:
    store.record_consent("u1", True, "v1")
    exp = store.add_experience("u1", "histoire")
    with pytest.raises(ValueError):
        store.add_skill_claim("u1", exp, "organisation", confidence, status)


def test_claim_on_unknown_experience_rejected(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    assert store.add_skill_claim("u1", 999, "organisation", 0.5, "confirmed") is None
    assert store.export_person("u1")["experiences"] == []


def test_claim_on_someone_elses_experience_writes_nothing(store: Store) -> None:
    """Ownership in the storage layer: an experience id from a request (a forged slot)
    never reaches another person's rows."""
    store.record_consent("victim", True, "v1")
    store.record_consent("attacker", True, "v1")
    victim_exp = store.add_experience("victim", "histoire")
    assert store.add_skill_claim("attacker", victim_exp, "organisation", 0.9, "confirmed", "forgé") is None
    assert store.export_person("victim")["experiences"][0]["skills"] == []
    assert store.export_person("attacker")["experiences"] == []
    assert isinstance(store.add_skill_claim("victim", victim_exp, "organisation", 0.9, "confirmed"), int)
    with pytest.raises(TypeError):  # the old call shape fails loudly
        store.add_skill_claim(victim_exp, "organisation", 0.9, "confirmed")  # type: ignore[arg-type]


def test_confidence_bounds_accepted(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    exp = store.add_experience("u1", "histoire")
    store.add_skill_claim("u1", exp, "a", 0, "confirmed")
    store.add_skill_claim("u1", exp, "b", 1, "rejected")


def test_confirmed_skills_aggregation(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    store.record_consent("u2", True, "v1")
    e1 = store.add_experience("u1", "histoire 1")
    e2 = store.add_experience("u1", "histoire 2")
    other = store.add_experience("u2", "histoire d'un autre")
    store.add_skill_claim("u1", e1, "organisation", 0.9, "confirmed", "j'ai planifié")
    store.add_skill_claim("u1", e2, "organisation", 0.8, "confirmed", "j'ai fait un planning")
    store.add_skill_claim("u1", e2, "ecoute", 0.7, "confirmed")
    store.add_skill_claim("u1", e1, "creativite", 0.6, "confirmed", "idée")
    store.add_skill_claim("u1", e1, "leadership", 0.9, "rejected", "pas moi")
    store.add_skill_claim("u2", other, "leadership", 0.9, "confirmed", "autre")
    assert store.confirmed_skills("u1") == [
        SkillSummary("organisation", 2, ["j'ai planifié", "j'ai fait un planning"]),
        SkillSummary("creativite", 1, ["idée"]),
        SkillSummary("ecoute", 1, []),
    ]
    assert store.confirmed_skills("nobody") == []


# --- export and erasure --------------------------------------------------------


def test_export_contains_everything(store: Store) -> None:
    populate(store, "u1")
    data = store.export_person("u1")
    json.dumps(data)
    assert data["person"]["sender_id"] == "u1"
    assert data["person"]["first_name"] == "Inès"
    assert data["person"]["consent_at"].endswith("+00:00")
    [experience] = data["experiences"]
    assert experience["details"] == {"action": "planning"}
    assert {s["skill_id"]: s["status"] for s in experience["skills"]} == {
        "organisation": "confirmed",
        "leadership": "rejected",
    }
    assert len(data["export_tokens"]) == 1
    [badge] = data["badges"]
    assert badge["jwt"] == "header.payload-u1.signature" and badge["level"] == "confirme"
    assert badge["issued_at"] == "2026-03-01T00:00:00+00:00" and badge["revoked_at"] is None
    # every stored value of the person appears in the export
    exported = json.dumps(data, ensure_ascii=False)
    for value in ["web", "v1", "J'ai organisé un tournoi de foot.", "sport",
                  "j'ai tout planifié", "0.9", "0.4", "Mission locale u1"]:
        assert value in exported


def test_export_unknown_person(store: Store) -> None:
    data = store.export_person("nobody")
    assert data["person"] is None and data["experiences"] == []
    json.dumps(data)


def test_erase_removes_every_row_of_the_person_only(store: Store, url: str) -> None:
    populate(store, "u1")
    populate(store, "u2")
    before = row_counts(url, "u2")
    linked = row_counts(url, "u1")
    assert linked == {"persons": 1, "experiences": 1, "skill_claims": 2, "export_tokens": 1,
                      "badges": 1, "assessments": 1, "referent_invitations": 2,
                      "referent_responses": 1, "progress_profiles": 1, "resource_feedback": 2,
                      "group_members": 1, "outbox": 2, "scheduled": 1}
    assert store.erase_person("u1") == sum(linked.values())
    assert row_counts(url, "u1") == {name: 0 for name in TABLES}
    assert row_counts(url) == before  # all that is left belongs to u2
    assert store.export_person("u2")["person"]["first_name"] == "Inès"
    assert store.erase_person("u1") == 0
    assert store.erase_person("nobody") == 0


def test_database_cascades_on_person_delete(store: Store, url: str) -> None:
    populate(store, "u1")
    populate(store, "u2")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM persons WHERE sender_id = 'u1'"))
    engine.dispose()
    assert row_counts(url) == {"persons": 1, "experiences": 1, "skill_claims": 2,
                               "export_tokens": 1, "badges": 1, "assessments": 1,
                               "referent_invitations": 2, "referent_responses": 1,
                               "progress_profiles": 1, "resource_feedback": 2, "group_members": 1,
                               "outbox": 2, "scheduled": 1}
    assert row_counts(url, "u2") == row_counts(url)


# --- export tokens ---------------------------------------------------------------


def test_export_token_single_use_and_hashed(store: Store, url: str) -> None:
    store.record_consent("u1", True, "v1")
    token = store.create_export_token("u1")
    assert token and len(token) >= 43  # 32 random bytes
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM export_tokens")).scalar_one()
    engine.dispose()
    assert stored == hashlib.sha256(token.encode()).hexdigest() != token
    assert store.resolve_export_token(token) == "u1"
    assert store.resolve_export_token(token) is None


def test_export_tokens_are_distinct(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    first, second = store.create_export_token("u1"), store.create_export_token("u1")
    assert first != second
    assert store.resolve_export_token(second) == "u1"
    assert store.resolve_export_token(first) == "u1"


def test_export_token_expires(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    token = store.create_export_token("u1", ttl_seconds=-1)
    assert store.resolve_export_token(token) is None


def test_export_token_dies_with_the_person(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    token = store.create_export_token("u1")
    store.erase_person("u1")
    assert store.resolve_export_token(token) is None


@pytest.mark.parametrize(
    "garbage",
    ["", " ", "x" * 1_000_000, "jeton-élève-🎓", "\ud800", "' OR 1=1 --", "\x00",
     "A" * 43, None, b"bytes", 42],
)
def test_garbage_tokens_return_none(store: Store, garbage) -> None:
    store.record_consent("u1", True, "v1")
    store.create_export_token("u1")
    assert store.resolve_export_token(garbage) is None


# --- badges ------------------------------------------------------------------------


def test_badge_round_trip_and_revocation(store: Store) -> None:
    revoked: list[int] = []
    store.revoke_status = revoked.append
    store.record_consent("u1", True, "v1")
    badge_id = str(uuid.uuid4())
    until = datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert store.save_badge("u1", f"urn:uuid:{badge_id.upper()}", "empathie", "expert", "a.b.c", 42,
                            datetime(2026, 1, 1, tzinfo=timezone.utc), until) == badge_id
    stored = store.badge(badge_id)
    assert stored is not None and stored == store.badge(f"urn:uuid:{badge_id}")
    assert (stored.skill_id, stored.level, stored.jwt, stored.status_index) == ("empathie", "expert", "a.b.c", 42)
    assert stored.valid_until == until and stored.revoked_at is None
    assert store.badges_of("u1") == [stored] and store.badges_of("nobody") == []
    first = store.revoke_badge(badge_id)
    assert first is not None and first.revoked_at is not None and revoked == [42]
    again = store.revoke_badge(badge_id)
    assert again is not None and again.revoked_at == first.revoked_at
    assert store.revoke_badge(str(uuid.uuid4())) is None


def test_badge_rules(store: Store) -> None:
    now = datetime.now(timezone.utc)
    assert store.save_badge("u1", str(uuid.uuid4()), "empathie", "confirme", "a.b.c", 1, now) is None
    store.record_consent("u1", True, "v1")
    with pytest.raises(ValueError):
        store.save_badge("u1", "not-a-uuid", "empathie", "confirme", "a.b.c", 1, now)
    with pytest.raises(ValueError):
        store.save_badge("u1", str(uuid.uuid4()), "empathie", "debutant", "a.b.c", 1, now)
    store.save_badge("u1", str(uuid.uuid4()), "empathie", "confirme", "a.b.c", 1, now)
    with pytest.raises(Exception):  # the status index is unique
        store.save_badge("u1", str(uuid.uuid4()), "empathie", "expert", "a.b.c", 1, now + timedelta(1))
    for garbage in ["", "x" * 10_000, "é", "urn:uuid:", str(uuid.uuid4()).replace("-", ""), None]:
        assert store.badge(garbage) is None  # type: ignore[arg-type]


def test_erase_revokes_badges_first(store: Store) -> None:
    revoked: list[int] = []

    def revoke(index: int) -> None:
        if index == 99:
            raise KeyError(index)  # never allocated in this list: nothing to revoke
        revoked.append(index)

    store.revoke_status = revoke
    store.record_consent("u1", True, "v1")
    now = datetime.now(timezone.utc)
    ids = [store.save_badge("u1", str(uuid.uuid4()), "empathie", "confirme", "a.b.c", i, now)
           for i in (5, 99)]
    assert store.erase_person("u1") == 3 and revoked == [5]
    assert all(store.badge(i) is None for i in ids if i)


def test_erase_fails_whole_when_revocation_fails(store: Store) -> None:
    def broken(index: int) -> None:
        raise OSError("status list unwritable")

    store.revoke_status = broken
    store.record_consent("u1", True, "v1")
    store.save_badge("u1", str(uuid.uuid4()), "empathie", "confirme", "a.b.c", 3,
                     datetime.now(timezone.utc))
    with pytest.raises(OSError):
        store.erase_person("u1")
    assert len(store.badges_of("u1")) == 1 and store.has_consent("u1")


def test_channel_deliveries_are_claimed_once_and_released_on_failure(store: Store) -> None:
    assert store.claim_delivery("telegram", "1001") is True
    assert store.claim_delivery("telegram", "1001") is False  # a retry, or after a restart
    assert store.claim_delivery("messenger", "1001") is True  # another platform
    store.release_delivery("telegram", "1001")  # its turn failed: the retry is handled
    assert store.claim_delivery("telegram", "1001") is True
    later = datetime.now(timezone.utc) + timedelta(days=3)
    assert store.prune_deliveries(later) == 2
    assert store.claim_delivery("telegram", "1001") is True


def test_progress_prefs_and_resource_history(store: Store) -> None:
    store.record_consent("u1", True, "v1")
    assert store.progress_prefs("u1").kinds is None  # not asked yet
    assert store.set_progress_prefs("u1", kinds=["video", "article", "video"], max_minutes=15)
    assert store.set_progress_prefs("u1", department="2A", is_minor=True)
    prefs = store.progress_prefs("u1")
    assert (prefs.kinds, prefs.max_minutes, prefs.department, prefs.is_minor) == (("article", "video"), 15, "2A", True)
    store.record_resources("u1", "rigueur", ["r1", "r2"])
    store.record_resources("u1", "rigueur", ["r1"], "done")
    store.record_resources("u1", "rigueur", ["r1"])  # proposed again: "done" is kept
    assert store.progress_prefs("u1").history == {"r1": "done", "r2": "proposed"}
    assert store.export_person("u1")["progress"]["department"] == "2A"
    assert not store.set_progress_prefs("nobody", kinds=[])
    with pytest.raises(ValueError):
        store.record_resources("u1", "rigueur", ["r1"], "liked")


def test_taking_back_a_skill_only_touches_ones_own_claims(store: Store) -> None:
    """« enlève la rigueur » with a forged experience id changes nothing of someone else's."""
    store.record_consent("victim", True, "v1")
    store.record_consent("attacker", True, "v1")
    victim_exp = store.add_experience("victim", "histoire")
    store.add_skill_claim("victim", victim_exp, "rigueur", 0.9, "confirmed", "je vérifie tout")
    assert store.reject_claims("attacker", victim_exp, "rigueur") == 0
    assert [c["status"] for c in store.export_person("victim")["experiences"][0]["skills"]] == ["confirmed"]
    assert store.reject_claims("victim", victim_exp, "rigueur") == 1
    assert [c["status"] for c in store.export_person("victim")["experiences"][0]["skills"]] == ["rejected"]


def _migrate_in_process(url: str) -> None:
    store = Store(url)
    try:
        store.migrate()
    finally:
        store.close()


def test_processes_starting_together_migrate_once(url: str) -> None:
    """The action server and every web app process migrate at start-up (the web app's
    scheduler polls right away: fuzzer seed 99 saw « no such table: scheduled »). Started
    together on a new database, they must not trip over each other's DDL."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_migrate_in_process, args=(url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = Store(url)
    try:
        store.record_consent("rest:after", True, "v2", "rest")
        assert store.pending_scheduled("rest:after") == []
    finally:
        store.close()

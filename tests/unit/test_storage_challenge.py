"""Challenger storage: self-assessments, referent invitations, referent answers."""
from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import text

from bot.storage import Store
from bot.storage.db import make_engine
from bot.storage.models import utcnow


@pytest.fixture
def url(db_url: str) -> str:
    return db_url  # SQLite and PostgreSQL (tests/conftest.py)


@pytest.fixture
def store(url: str):
    s = Store(url)
    s.migrate()
    s.record_consent("u1", True, "v1", channel="rest")
    s.set_first_name("u1", "Inès")
    yield s
    s.close()


def test_self_assessment_persists_answer_by_answer_and_resumes(store: Store) -> None:
    assert store.self_assessment("u1", "rigueur") is None
    opened = store.open_self_assessment("u1", "rigueur")
    assert opened and opened.answers == {} and not opened.completed
    store.record_self_answer("u1", "rigueur", "rigueur_1", 3)
    store.record_example("u1", "rigueur", "rigueur_1", "  Je vérifie   la caisse\n deux fois. ")
    store.record_self_answer("u1", "rigueur", "rigueur_2", 0)
    # a new process (same database) sees the same progress: pause and resume
    again = Store(store.url)
    resumed = again.open_self_assessment("u1", "rigueur")
    again.close()
    assert resumed.answers == {"rigueur_1": 3, "rigueur_2": 0}
    assert resumed.examples == {"rigueur_1": "Je vérifie la caisse deux fois."}
    done = store.complete_self_assessment("u1", "rigueur")
    assert done.completed and done.completed_at >= done.started_at
    restarted = store.open_self_assessment("u1", "rigueur", restart=True)
    assert restarted.answers == {} and restarted.examples == {} and not restarted.completed
    assert [a.skill_id for a in store.self_assessments("u1")] == ["rigueur"]


def test_self_assessment_needs_consent_and_valid_values(store: Store) -> None:
    assert store.open_self_assessment("nobody", "rigueur") is None
    store.record_consent("u2", False, "v1")
    assert store.open_self_assessment("u2", "rigueur") is None
    assert store.record_self_answer("u2", "rigueur", "rigueur_1", 1) is None
    store.open_self_assessment("u1", "rigueur")
    for bad in (-1, 4, True, 2.0, "2"):
        with pytest.raises(ValueError):
            store.record_self_answer("u1", "rigueur", "rigueur_1", bad)  # type: ignore[arg-type]


def test_invitation_token_is_random_long_and_stored_hashed(store: Store, url: str) -> None:
    token, info = store.create_invitation("u1", "  Karim  ", "coach", ["rigueur", "rigueur", "autonomie"])
    assert len(token) >= 43  # 256 random bits, base64url
    assert info.referent_name == "Karim" and info.skill_ids == ("rigueur", "autonomie")
    assert info.state == "open" and info.expires_at - info.created_at == timedelta(days=30)
    engine = make_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM referent_invitations")).scalar_one()
        dump = json.dumps([list(r) for r in conn.execute(text("SELECT * FROM referent_invitations"))], default=str)
    engine.dispose()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in dump
    view = store.invitation_by_token(token)
    assert view.person_first_name == "Inès" and view.invitation.id == info.id


@pytest.mark.parametrize("name, relation, skills", [
    ("", "coach", ["rigueur"]), ("Karim", "cousin", ["rigueur"]), ("Karim", "coach", []),
    ("Karim", "coach", ["a", "b", "c", "d", "e"]),
])
def test_invitation_rejects_bad_fields(store: Store, name: str, relation: str, skills: list) -> None:
    with pytest.raises(ValueError):
        store.create_invitation("u1", name, relation, skills)


def verify(store: Store, token: str, key: str = "k" * 64) -> None:
    """The referent confirmed their address (the web page's job): their answers count."""
    assert store.start_verification(token, key, "c" * 64) == "ok"
    assert store.confirm_verification(token, "c" * 64)[0] == "ok"


def test_verification_counts_each_address_once_and_needs_the_right_code(store: Store) -> None:
    first, _ = store.create_invitation("u1", "Karim", "coach", ["rigueur"])
    second, _ = store.create_invitation("u1", "Léa", "tuteur", ["rigueur", "autonomie"])
    assert store.start_verification(first, "k1", "c" * 64) == "not_answered"
    store.submit_referent(first, {"rigueur": {"rigueur_1": 3}})
    store.submit_referent(second, {"rigueur": {"rigueur_1": 1}, "autonomie": {}})
    assert store.confirm_verification(first, "c" * 64) == ("no_code", None)
    assert store.start_verification(first, "k1", "c" * 64) == "ok"
    for _ in range(4):
        assert store.confirm_verification(first, "d" * 64) == ("wrong", None)
    outcome, submission = store.confirm_verification(first, "c" * 64)
    assert outcome == "ok" and submission.invitation.verified_at is not None
    assert store.confirm_verification(first, "c" * 64) == ("verified", None)
    assert store.start_verification(second, "k1", "e" * 64) == "duplicate"  # same address, same skill
    assert [a.referent_name for a in store.referent_answers("u1", "rigueur")] == ["Karim"]
    assert store.start_verification(second, "k2", "e" * 64) == "ok"
    for _ in range(5):
        store.confirm_verification(second, "f" * 64)
    assert store.confirm_verification(second, "e" * 64) == ("too_many", None)  # 5 tries only


def test_invitation_needs_a_consenting_person(store: Store) -> None:
    assert store.create_invitation("nobody", "Karim", "coach", ["rigueur"]) is None


def test_submission_is_single_use_and_answers_are_kept(store: Store) -> None:
    token, info = store.create_invitation("u1", "Karim", "coach", ["rigueur"])
    answers = {"rigueur": {"rigueur_1": 3, "rigueur_2": None}}
    outcome, submission = store.submit_referent(token, answers, {"rigueur": " Toujours   à l'heure "})
    assert outcome == "ok" and submission.sender_id == "u1" and submission.channel == "rest"
    assert submission.invitation.state == "used"
    assert store.submit_referent(token, answers) == ("used", None)
    assert store.invitation_by_token(token).invitation.state == "used"
    assert store.referent_answers("u1", "rigueur") == []  # not before the referent is verified
    verify(store, token)
    [got] = store.referent_answers("u1", "rigueur")
    assert got.referent_name == "Karim" and got.relation == "coach"
    assert got.answers == {"rigueur_1": 3, "rigueur_2": None} and got.comment == "Toujours à l'heure"
    assert store.referent_answers("u1", "autonomie") == []


def test_concurrent_submissions_only_one_wins(store: Store) -> None:
    token, _ = store.create_invitation("u1", "Karim", "coach", ["rigueur"])
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        barrier.wait()
        outcomes.append(store.submit_referent(token, {"rigueur": {"rigueur_1": 2}})[0])

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "used", "used", "used"]
    verify(store, token)
    assert len(store.referent_answers("u1", "rigueur")) == 1


def test_answers_must_match_the_invitation_skills(store: Store) -> None:
    token, _ = store.create_invitation("u1", "Karim", "coach", ["rigueur"])
    with pytest.raises(ValueError):
        store.submit_referent(token, {"autonomie": {"autonomie_1": 2}})
    assert store.invitation_by_token(token).invitation.state == "open"  # nothing spent


def test_expired_revoked_and_unknown_links(store: Store) -> None:
    token, info = store.create_invitation("u1", "Karim", "coach", ["rigueur"], ttl_seconds=60)
    later = utcnow() + timedelta(seconds=61)
    with mock.patch("bot.storage.challenge.utcnow", return_value=later):
        assert store.invitation_by_token(token).invitation.state == "expired"
        assert store.submit_referent(token, {"rigueur": {}}) == ("expired", None)
        assert store.revoke_invitation("u1", info.id).state == "expired"  # nothing to revoke
    token2, info2 = store.create_invitation("u1", "Léa", "tuteur", ["rigueur"])
    assert store.revoke_invitation("someone-else", info2.id) is None
    assert store.revoke_invitation("u1", info2.id).state == "revoked"
    assert store.submit_referent(token2, {"rigueur": {}}) == ("revoked", None)
    assert store.invitation_by_token(token2).invitation.state == "revoked"
    for bad in ("", "x" * 300, "é" * 10, None, "unknown-token"):
        assert store.invitation_by_token(bad) is None  # type: ignore[arg-type]
        assert store.submit_referent(bad, {}) == ("unknown", None)  # type: ignore[arg-type]
    assert [i.state for i in store.invitations_of("u1")] == ["open", "revoked"]


def test_export_and_erase_cover_challenger_data(store: Store) -> None:
    store.open_self_assessment("u1", "rigueur")
    store.record_self_answer("u1", "rigueur", "rigueur_1", 2)
    token, _ = store.create_invitation("u1", "Karim", "coach", ["rigueur"])
    store.submit_referent(token, {"rigueur": {"rigueur_1": 3}}, {"rigueur": "Bravo"})
    data = store.export_person("u1")
    assert data["assessments"][0]["answers"] == {"rigueur_1": 2}
    [inv] = data["referent_invitations"]
    assert inv["referent_name"] == "Karim" and inv["state"] == "used"
    assert inv["answers"][0]["comment"] == "Bravo"
    assert token not in json.dumps(data) and hashlib.sha256(token.encode()).hexdigest() not in json.dumps(data)
    assert store.erase_person("u1") > 0
    assert store.export_person("u1")["referent_invitations"] == []
    assert store.invitation_by_token(token) is None

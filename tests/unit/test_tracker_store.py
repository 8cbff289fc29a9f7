"""bot.tracker_store.ErasableSQLTrackerStore on a real SQLite file and a real PostgreSQL database."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import ERASE_SLOT, ErasableSQLTrackerStore, erasure_requested

ROOT = Path(__file__).resolve().parents[2]

# Rasa 3.6 warns about the removed slot auto-fill on every Domain.load
pytestmark = pytest.mark.filterwarnings("ignore:Slot auto-fill has been removed:UserWarning")


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def db_path(tracker_db: Dict[str, Any]) -> str:
    return tracker_db["url"]  # SQLite and PostgreSQL (tests/conftest.py)


@pytest.fixture
def store(domain: Domain, tracker_db: Dict[str, Any]) -> Iterator[ErasableSQLTrackerStore]:
    s = ErasableSQLTrackerStore(domain, **{k: v for k, v in tracker_db.items() if k != "url"})
    yield s
    s.engine.dispose()


def conversation(sender_id: str, domain: Domain, name: str = "Inès") -> DialogueStateTracker:
    events: List[Event] = [
        ActionExecuted("action_session_start"),
        ActionExecuted("action_listen"),
        UserUttered("salut", {"name": "greet", "confidence": 0.98}),
        ActionExecuted("utter_welcome"),
        BotUttered("Salut 👋 Moi c'est Atouts."),
        ActionExecuted("action_listen"),
        UserUttered(f"moi c'est {name}", {"name": "give_name", "confidence": 0.9}),
        SlotSet("first_name", name),
        ActionExecuted("action_after_name"),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(sender_id, events, domain.slots)


def _query(url: str, sql: str, **params: Any) -> List[Any]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))
    finally:
        engine.dispose()


def rows(db_path: str, sender_id: str) -> int:
    return _query(db_path, "SELECT COUNT(*) FROM events WHERE sender_id = :s", s=sender_id)[0][0]


def stored_texts(db_path: str, sender_id: str) -> List[str]:
    data = [r[0] for r in _query(db_path, "SELECT data FROM events WHERE sender_id = :s", s=sender_id)]
    # events are stored as JSON with \u escapes: decode them to search the text
    return [json.dumps(json.loads(d), ensure_ascii=False) for d in data]


def ask_erasure(tracker: DialogueStateTracker) -> None:
    """The turn in which action_delete_my_data runs."""
    for event in [
        UserUttered("supprime mes données", {"name": "delete_my_data", "confidence": 0.97}),
        ActionExecuted("delete_form"),
        SlotSet("delete_confirmed", True),
        ActionExecuted("action_delete_my_data"),
        BotUttered("C'est fait 🧹"),
        SlotSet(ERASE_SLOT, True),
        ActionExecuted("action_listen"),
    ]:
        tracker.update(event)


def test_normal_turns_are_stored(store: ErasableSQLTrackerStore, domain: Domain, db_path: str) -> None:
    tracker = conversation("alice", domain)
    asyncio.run(store.save(tracker))
    assert rows(db_path, "alice") == len(tracker.events)
    assert any("Inès" in data for data in stored_texts(db_path, "alice"))

    retrieved = asyncio.run(store.retrieve("alice"))
    assert retrieved is not None
    assert retrieved.get_slot("first_name") == "Inès"


def test_erasure_turn_deletes_every_row_of_that_sender_only(
    store: ErasableSQLTrackerStore, domain: Domain, db_path: str
) -> None:
    alice, bob = conversation("alice", domain), conversation("bob", domain, name="Bilal")
    asyncio.run(store.save(alice))
    asyncio.run(store.save(bob))
    assert rows(db_path, "alice") > 0 and rows(db_path, "bob") > 0
    bob_rows = rows(db_path, "bob")

    ask_erasure(alice)
    assert erasure_requested(alice)
    asyncio.run(store.save(alice))

    assert rows(db_path, "alice") == 0
    assert rows(db_path, "bob") == bob_rows
    assert not any("Inès" in data for data in stored_texts(db_path, "alice"))
    assert asyncio.run(store.retrieve("alice")) is None
    assert asyncio.run(store.retrieve("bob")).get_slot("first_name") == "Bilal"


def test_a_new_conversation_after_erasure_starts_from_zero(
    store: ErasableSQLTrackerStore, domain: Domain, db_path: str
) -> None:
    alice = conversation("alice", domain)
    ask_erasure(alice)
    asyncio.run(store.save(alice))
    assert rows(db_path, "alice") == 0

    again = conversation("alice", domain, name="Inès")
    asyncio.run(store.save(again))
    assert rows(db_path, "alice") == len(again.events)
    assert ERASE_SLOT not in "".join(stored_texts(db_path, "alice"))


def test_erase_returns_the_number_of_deleted_rows(
    store: ErasableSQLTrackerStore, domain: Domain, db_path: str
) -> None:
    tracker = conversation("alice", domain)
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.erase("alice")) == len(tracker.events)
    assert asyncio.run(store.erase("alice")) == 0
    assert asyncio.run(store.erase("nobody")) == 0


def test_flag_before_the_last_user_message_is_not_an_erasure(
    store: ErasableSQLTrackerStore, domain: Domain, db_path: str
) -> None:
    tracker = conversation("alice", domain)
    tracker.update(SlotSet(ERASE_SLOT, True))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("salut", {"name": "greet", "confidence": 0.9}))
    tracker.update(ActionExecuted("utter_greet_again"))
    tracker.update(ActionExecuted("action_listen"))
    assert erasure_requested(tracker) is False

    asyncio.run(store.save(tracker))
    assert rows(db_path, "alice") == len(tracker.events)


@pytest.mark.parametrize("value", [False, None, "true", 1])
def test_only_a_true_flag_erases(domain: Domain, value) -> None:
    tracker = conversation("alice", domain)
    tracker.update(UserUttered("supprime", {"name": "delete_my_data", "confidence": 0.9}))
    tracker.update(SlotSet(ERASE_SLOT, value))
    assert erasure_requested(tracker) is False


def test_no_user_message_yet(domain: Domain) -> None:
    empty = DialogueStateTracker.from_events("x", [], domain.slots)
    assert erasure_requested(empty) is False
    flagged = DialogueStateTracker.from_events("x", [SlotSet(ERASE_SLOT, True)], domain.slots)
    assert erasure_requested(flagged) is True


def test_endpoints_use_the_erasable_store() -> None:
    import yaml

    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["tracker_store"]["type"] == "bot.tracker_store.ErasableSQLTrackerStore"


def test_action_response_validation_keeps_rasa_semantics() -> None:
    import pytest
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction

    from bot import rasa_speedups

    rasa_speedups.apply()
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": [{"no_event_key": 1}]})


def test_spacy_ner_is_off_at_serving_time_and_features_are_unchanged(nlp) -> None:
    import numpy as np
    from rasa.nlu.utils.spacy_utils import SpacyNLP

    from bot import rasa_speedups

    rasa_speedups.apply()
    served = SpacyNLP.load_model("fr_core_news_md").model
    assert "ner" not in served.pipe_names and "lemmatizer" in served.pipe_names
    text = "L'été dernier j'ai bossé au McDo et je suis resté calme pendant le rush."
    full, light = nlp(text), served(text)  # `nlp` keeps the NER
    assert [t.lemma_ for t in full] == [t.lemma_ for t in light]
    assert [t.pos_ for t in full] == [t.pos_ for t in light]
    assert np.allclose(full.vector, light.vector)


# --- redaction before writing (safety layer) ----------------------------------------------

from bot.tracker_store import MASKED, REDACTORS, redact  # noqa: E402


def crisis_turn(tracker: DialogueStateTracker, text: str) -> None:
    for event in [
        UserUttered(text, {"name": "crisis", "confidence": 1.0},
                    entities=[{"entity": "first_name", "value": "Kevin", "start": 10, "end": 15}],
                    parse_data={"intent": {"name": "crisis", "confidence": 1.0}, "entities": [],
                                "text": text, "safety": {"categories": ["violence_couple"]},
                                "soft_skills": [{"id": "gestion_du_stress", "evidence": text}]}),
        ActionExecuted("action_crisis_support"),
        BotUttered("Merci de me l'avoir dit 💛"),
        SlotSet("distress_seen", True),
        ActionExecuted("action_listen"),
    ]:
        tracker.update(event)


def test_a_crisis_message_is_masked_in_the_stored_conversation(
    store: ErasableSQLTrackerStore, domain: Domain, db_path: str
) -> None:
    tracker = conversation("alice", domain)
    secret = "mon copain Kevin me frappe tous les soirs"
    crisis_turn(tracker, secret)
    asyncio.run(store.save(tracker))

    stored = stored_texts(db_path, "alice")
    assert rows(db_path, "alice") == len(tracker.events)
    assert not any("frappe" in data or "Kevin" in data for data in stored)
    assert any(MASKED in data and '"crisis"' in data and "violence_couple" in data for data in stored)
    assert any("moi c'est Inès" in data for data in stored)  # ordinary messages are kept as they are

    retrieved = asyncio.run(store.retrieve("alice"))
    masked = [e for e in retrieved.events if isinstance(e, UserUttered) and e.intent_name == "crisis"]
    assert [e.text for e in masked] == [MASKED] and masked[0].entities == []
    assert retrieved.get_slot("distress_seen") is True


def test_redactors_are_a_list_applied_in_order() -> None:
    data = {"event": "user", "text": "je vais me suicider", "parse_data": {
        "intent": {"name": "crisis"}, "text": "je vais me suicider", "entities": [{"x": 1}]}}
    out = redact(data)
    assert out["text"] == MASKED and out["parse_data"]["text"] == MASKED and out["parse_data"]["entities"] == []
    assert data["text"] == "je vais me suicider"  # the live event is not changed
    token = redact({"event": "user", "text": "abc", "parse_data": {"intent": {"name": "greet"}}},
                   [lambda d: dict(d, text=d["text"].upper())])
    assert token["text"] == "ABC"
    assert REDACTORS and all(callable(r) for r in REDACTORS)


def test_words_of_a_person_without_consent_are_not_stored() -> None:
    from bot.tracker_store import NOT_KEPT, redact_words

    user = {"event": "user", "text": "j'ai gardé mes frères", "parse_data": {"text": "j'ai gardé mes frères",
                                                                              "intent": {"name": "tell_experience"}}}
    masked = redact_words(user)
    assert masked["text"] == NOT_KEPT and masked["parse_data"]["text"] == NOT_KEPT
    assert masked["parse_data"]["intent"]["name"] == "tell_experience"
    assert redact_words({"event": "user", "text": "/affirm"})["text"] == "/affirm"  # buttons say nothing
    assert redact_words({"event": "bot", "text": "Salut"})["text"] == "Salut"


def test_without_consent_no_quote_and_no_story_text_is_stored() -> None:
    from bot.tracker_store import NOT_KEPT, redact_words

    user = {"event": "user", "text": "J'ai gardé mes frères", "parse_data": {
        "text": "J'ai gardé mes frères", "intent": {"name": "tell_experience"},
        "soft_skills": [{"id": "autonomie", "confidence": 0.7, "evidence": "j'ai gardé mes frères"}]}}
    out = redact_words(user)
    assert out["text"] == NOT_KEPT and out["parse_data"]["text"] == NOT_KEPT
    assert out["parse_data"]["soft_skills"] == [{"id": "autonomie", "confidence": 0.7, "evidence": ""}]
    assert out["parse_data"]["intent"] == {"name": "tell_experience"}
    last = {"event": "slot", "name": "last_story", "value": {
        "experience_id": None, "text": "J'ai gardé mes frères", "confirmed": ["autonomie"],
        "skills": [{"id": "autonomie", "confidence": 0.7, "evidence": "j'ai gardé mes frères"}]}}
    kept = redact_words(last)["value"]
    assert kept["text"] == "" and kept["skills"][0]["evidence"] == "" and kept["confirmed"] == ["autonomie"]
    assert "frères" not in json.dumps(redact_words(user)) + json.dumps(redact_words(last))
    button = {"event": "user", "text": "/affirm", "parse_data": {"text": "/affirm"}}
    assert redact_words(button) == button

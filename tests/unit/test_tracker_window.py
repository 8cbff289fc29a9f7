"""bot.tracker_window on a real SQLite tracker store: a long session is loaded as a
bounded window that ends in the same state, new events are written once and in order,
the full tracker (export, API) keeps every event."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, BotUttered, Event, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import ErasableSQLTrackerStore
from bot.tracker_window import SHIFT, rest_cut

from tests.unit.test_tracker_store import domain  # noqa: F401 - fixture

pytestmark = pytest.mark.filterwarnings("ignore:Slot auto-fill has been removed:UserWarning")


@pytest.fixture
def store(domain: Domain, tracker_db: Dict[str, Any]) -> Iterator[ErasableSQLTrackerStore]:
    """On SQLite and PostgreSQL (tests/conftest.py)."""
    s = ErasableSQLTrackerStore(domain, **{k: v for k, v in tracker_db.items() if k != "url"})
    s.window = 40
    yield s
    s.engine.dispose()


def turn(i: int, with_form: bool = False) -> List[Event]:
    events: List[Event] = [UserUttered(f"question {i}", {"name": "ask_what_are_soft_skills", "confidence": 1.0}),
                           ActionExecuted("action_explain_skill"), BotUttered(f"réponse {i}")]
    if with_form:
        events += [ActionExecuted("experience_form"), ActiveLoop("experience_form"),
                   SlotSet("requested_slot", "experience_story"), BotUttered("Raconte-moi"),
                   ActionExecuted("action_listen"),
                   UserUttered("stop", {"name": "stop", "confidence": 1.0}), ActionExecuted("action_pause_form"),
                   ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("paused_form", "experience_form")]
    return events + [SlotSet("skill", None), ActionExecuted("action_listen")]


def long_session(domain: Domain, sender: str, turns: int) -> DialogueStateTracker:
    events: List[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                           UserUttered("salut", {"name": "greet", "confidence": 1.0}),
                           SlotSet("consent", "oui"), SlotSet("first_name", "Inès"), ActionExecuted("action_listen")]
    for i in range(turns):
        events += turn(i, with_form=i % 7 == 3)
        if i == 5:
            events.insert(-1, SlotSet("session_skills", ["rigueur"]))
    return DialogueStateTracker.from_events(sender, events, domain.slots)


def test_a_long_session_is_loaded_as_a_window_in_the_same_state(store, domain) -> None:
    full = long_session(domain, "tg:1", 60)
    asyncio.run(store.save(full))
    loaded = asyncio.run(store.retrieve("tg:1"))
    assert len(loaded.events) < 60 < len(full.events)
    assert loaded.current_slot_values() == full.current_slot_values()
    assert loaded.active_loop_name == full.active_loop_name is None
    assert list(loaded.events)[0].as_dict()["event"] == "session_started"
    assert len(asyncio.run(store.retrieve_full_tracker("tg:1")).events) == len(full.events)  # export: all


def test_new_events_are_written_once_and_in_order(store, domain, tmp_path) -> None:
    asyncio.run(store.save(long_session(domain, "tg:2", 60)))
    for i in range(100, 110):  # ten more turns, each on a freshly loaded window
        tracker = asyncio.run(store.retrieve("tg:2"))
        assert getattr(tracker, SHIFT) < 0
        for event in turn(i):
            tracker.update(event)
        asyncio.run(store.save(tracker))
        asyncio.run(store.save(tracker))  # Rasa may save twice in a turn: nothing doubled
    with store.engine.connect() as db:
        texts = [json.loads(r[0]).get("text") for r in db.execute(sa.text(
            "SELECT data FROM events WHERE sender_id='tg:2' AND type_name='user' ORDER BY id"))]
    assert texts[-10:] == [f"question {i}" for i in range(100, 110)]
    questions = [t for t in texts if t.startswith("question")]
    assert len(questions) == len(set(questions)) == 70
    final = asyncio.run(store.retrieve_full_tracker("tg:2"))
    assert final.get_slot("first_name") == "Inès" and final.get_slot("session_skills") == ["rigueur"]


def test_short_sessions_and_open_forms_load_whole(store, domain) -> None:
    asyncio.run(store.save(long_session(domain, "tg:3", 3)))
    assert getattr(asyncio.run(store.retrieve("tg:3")), SHIFT, None) is None
    events = [{"event": "active_loop", "name": "experience_form"}] + [
        {"event": "action", "name": "action_listen"}, {"event": "user", "text": "x"}] * 5
    assert rest_cut(events, None) is None  # a form open the whole window: no cut
    assert rest_cut(events[1:], None) == 1


def test_a_fallback_right_after_the_cut_keeps_the_slots(store, domain) -> None:
    """A fallback rewinds its user message, then the action before it: when that user
    message was the first of the window, the rewind ate the slot snapshot (fuzzer walk:
    consent « non » lost, the privacy question asked again)."""
    from rasa.shared.core.events import UserUtteranceReverted

    events: List[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                           UserUttered("salut", {"name": "greet", "confidence": 1.0}),
                           SlotSet("consent", "non"), SlotSet("first_name", "-"), ActionExecuted("action_listen")]
    for i in range(30):
        events += [UserUttered(f"grave {i}", {"name": "affirm", "confidence": 1.0}),
                   ActionExecuted("action_default_fallback"), BotUttered("Je ne comprends pas"),
                   UserUtteranceReverted(), ActionExecuted("action_listen")]
    full = DialogueStateTracker.from_events("tg:2", events, domain.slots)
    asyncio.run(store.save(full))
    loaded = asyncio.run(store.retrieve("tg:2"))
    assert len(loaded.events) < len(full.events)
    assert loaded.get_slot("consent") == "non"
    assert loaded.current_slot_values() == full.current_slot_values()

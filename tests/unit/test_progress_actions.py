"""actions/progress.py: CollectingDispatcher, rasa_sdk trackers, a real SQLite database,
the real catalogue; missions through a local fake of the API Engagement."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Dict

import pytest
from rasa_sdk.events import ReminderCancelled

from actions import progress as pa
from bot import messages, services
from bot.progress.catalogue import default_catalogue
from tests.unit.test_actions import consent, run, slots_of, texts
from tests.unit.test_challenge_actions import answer_all, confirm, required, validate

SENDER = "test-user"


def resource_ids(msgs) -> list:
    return [json.loads(b["payload"][len("/resource_feedback"):])["resource"]
            for m in msgs for b in m.get("buttons") or [] if '"done"' in b["payload"]]


def test_start_named_skill_and_remembered_preferences(app_db, make_tracker, domain) -> None:
    consent()
    services.store().set_progress_prefs(SENDER, kinds=["video"], max_minutes=30)
    tracker = make_tracker(slots={"consent": "oui"}, entities=[{"entity": "skill", "value": "rigueur"}])
    events = slots_of(run(pa.ActionStartResources(), tracker, domain)[1])
    assert events["progress_skill"] == "rigueur"
    assert (events["resource_kinds"], events["resource_time"]) == (["video"], 30)  # not asked again
    # without consent nothing is read or stored, and every skill can be chosen
    events = slots_of(run(pa.ActionStartResources(), make_tracker(slots={"consent": "non"}), domain)[1])
    assert events["progress_skill"] is None and "resource_kinds" not in events


def test_the_form_asks_skill_format_and_time(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    confirm("autonomie")
    form = pa.ValidateResourcesForm()
    slots: Dict[str, Any] = {"consent": "oui"}
    msgs, _ = run(pa.ActionAskProgressSkill(), make_tracker(slots=slots), domain)
    assert {b["payload"] for b in msgs[0]["buttons"]} == {'/choose{"skill":"rigueur"}', '/choose{"skill":"autonomie"}',
                                                          "/stop"}
    assert validate(form, make_tracker(slots=slots), domain, "progress_skill", "euh") == {"progress_skill": None}
    slots.update(validate(form, make_tracker(slots=slots), domain, "progress_skill", "la gestion du stress"))
    assert slots["progress_skill"] == "gestion_du_stress"  # any skill of the référentiel
    msgs, _ = run(pa.ActionAskResourceKinds(), make_tracker(slots=slots), domain)
    assert len(msgs[0]["buttons"]) == 7  # 6 formats and a way out
    slots.update(validate(form, make_tracker(slots=slots, entities=[{"entity": "kind", "value": "podcast"}]),
                          domain, "resource_kinds", '/choose{"kind":"podcast"}'))
    assert slots["resource_kinds"] == ["podcast"]
    assert validate(form, make_tracker(slots=slots), domain, "resource_time", "bof") == {"resource_time": None}
    slots.update(validate(form, make_tracker(slots=slots), domain, "resource_time", "une heure à peu près"))
    assert slots["resource_time"] == 60
    prefs = services.store().progress_prefs(SENDER)
    assert (prefs.kinds, prefs.max_minutes) == (("podcast",), 60)
    assert required(form, make_tracker(slots=slots), domain) == ["progress_skill", "resource_kinds", "resource_time"]


@pytest.mark.parametrize("text, kinds", [
    ("des vidéos", ["video"]), ("peu importe", []), ("je préfère écouter", ["podcast"]), ("🤷", None),
])
def test_kinds_from_text(text: str, kinds) -> None:
    assert pa.kinds_from_text(text) == kinds


@pytest.mark.parametrize("text, minutes", [("20 min", 20), ("1h", 60), ("2 heures", 120), ("pas beaucoup", 10),
                                           ("aucune idée", None)])
def test_minutes_from_text(text: str, minutes) -> None:
    assert pa.minutes_from_text(text) == minutes


def test_three_resources_targeting_the_weak_item_then_feedback(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    answer_all("rigueur", 3)
    weakest = services.referentiel().get("rigueur").items[1].id
    services.store().record_self_answer(SENDER, "rigueur", weakest, 0)
    slots = {"consent": "oui", "progress_skill": "rigueur", "resource_kinds": [], "resource_time": 60}
    msgs, events = run(pa.ActionRecommendResources(), make_tracker(slots=slots), domain)
    ids = resource_ids(msgs)
    assert len(ids) == 3 and len(set(ids)) == 3
    catalogue = default_catalogue()
    assert all(catalogue.get(i).skill_id == "rigueur" for i in ids)
    assert any(weakest in catalogue.get(i).items for i in ids)  # the weak item is worked on
    assert all("https://" in m["text"] for m in msgs[1:])
    assert slots_of(events)["progress_skill"] is None
    assert services.store().progress_prefs(SENDER).history == {i: "proposed" for i in ids}

    tracker = make_tracker(entities=[{"entity": "resource", "value": ids[0]}, {"entity": "feedback", "value": "done"}],
                           slots={"consent": "oui"})
    msgs, _ = run(pa.ActionResourceFeedback(), tracker, domain)
    assert "Bravo pour" in msgs[0]["text"] and msgs[0]["buttons"][0]["payload"] == "/want_to_tell"
    tracker = make_tracker(entities=[{"entity": "resource", "value": ids[1]},
                                     {"entity": "feedback", "value": "not_for_me"}], slots={"consent": "oui"})
    assert texts(run(pa.ActionResourceFeedback(), tracker, domain)[0]) == [messages.resource_not_for_me()]
    # the next proposal brings neither back
    msgs, _ = run(pa.ActionRecommendResources(), make_tracker(slots=slots), domain)
    assert not {ids[0], ids[1]} & set(resource_ids(msgs))
    # a typed « c'est fait » without the button: ask to use it
    msgs, _ = run(pa.ActionResourceFeedback(), make_tracker(text="c'est fait"), domain)
    assert texts(msgs) == [messages.FEEDBACK_USE_BUTTONS]


def test_follow_up_offer_answer_reminder_and_opt_out(app_db, make_tracker, domain, monkeypatch) -> None:
    monkeypatch.setenv("ATOUTS_FOLLOW_UP_SECONDS", str(3 * 86400))
    consent()
    msgs, events = run(pa.ActionOfferFollowUp(), make_tracker(slots={"consent": "oui"}), domain)
    assert "Je te relance dans 3 jours" in msgs[0]["text"] and slots_of(events) == {"follow_up_asked": True}
    msgs, events = run(pa.ActionFollowUpAnswer(), make_tracker(
        slots={"consent": "oui", "follow_up_asked": True}, intent="affirm"), domain)
    # kept in the app database (sent by the web app when due), not in Rasa's memory
    assert not [e for e in events if e.get("event") == "reminder"]
    pending = services.store().pending_scheduled(SENDER)
    assert [(p["kind"], p["entities"]) for p in pending] == [("follow_up", {"follow_up": "missions"})]
    due = datetime.fromisoformat(pending[0]["due_at"]) - datetime.now(timezone.utc)
    assert timedelta(days=3) - timedelta(minutes=1) < due <= timedelta(days=3)
    assert services.store().progress_prefs(SENDER).follow_ups is True
    # next time: scheduled without asking again (still one pending)
    msgs, events = run(pa.ActionOfferFollowUp(), make_tracker(slots={"consent": "oui"}), domain)
    assert texts(msgs) == [messages.follow_up_scheduled(3)] and len(services.store().pending_scheduled(SENDER)) == 1
    # the reminder fires
    tracker = make_tracker(slots={"consent": "oui"}, intent="EXTERNAL_follow_up",
                           entities=[{"entity": "follow_up", "value": "missions"}])
    msgs, _ = run(pa.ActionFollowUp(), tracker, domain)
    assert "Coucou 👋" in msgs[0]["text"] and msgs[0]["buttons"] == messages.FOLLOW_UP_BUTTONS
    # opting out cancels the pending reminder and silences the next ones
    msgs, events = run(pa.ActionStopFollowUps(), make_tracker(slots={"consent": "oui"}), domain)
    assert events == [ReminderCancelled(name=pa.FOLLOW_UP)] and services.store().pending_scheduled(SENDER) == []
    assert run(pa.ActionFollowUp(), tracker, domain) == ([], [])
    assert run(pa.ActionOfferFollowUp(), make_tracker(slots={"consent": "oui"}), domain) == ([], [])
    # without consent: never a reminder
    assert run(pa.ActionOfferFollowUp(), make_tracker(slots={"consent": "non"}), domain) == ([], [])


def test_join_group_with_a_code(app_db, make_tracker, domain) -> None:
    msgs, events = run(pa.ActionJoinGroup(), make_tracker(slots={"consent": "non"}, text="code ABCDEF"), domain)
    assert texts(msgs) == [messages.GROUP_NEEDS_CONSENT]
    assert slots_of(events) == {"consent": None} and events[-1] == {"event": "followup", "name": "consent_form",
                                                                     "timestamp": None}
    consent()
    code, _ = services.store().create_group("Mission locale de Lyon")
    msgs, _ = run(pa.ActionJoinGroup(), make_tracker(slots={"consent": "oui"}, text="j'ai un code"), domain)
    assert texts(msgs) == [messages.GROUP_ASK_CODE]
    msgs, _ = run(pa.ActionJoinGroup(), make_tracker(slots={"consent": "oui"}, text="code ZZZZZZ"), domain)
    assert texts(msgs) == [messages.GROUP_UNKNOWN]
    msgs, _ = run(pa.ActionJoinGroup(), make_tracker(slots={"consent": "oui"}, text=f"mon code c'est {code.lower()}"),
                  domain)
    assert "Mission locale de Lyon" in msgs[0]["text"] and "anonymes" in msgs[0]["text"]
    assert [g.name for g in services.store().groups_of(SENDER)] == ["Mission locale de Lyon"]


def test_profile_shows_tests_badges_and_pending(app_db, make_tracker, domain) -> None:
    from actions.actions import ActionShowMySkills
    from actions.challenge import _progress
    from tests.unit.test_challenge_actions import referent

    consent()
    confirm("rigueur")
    confirm("autonomie")
    answer_all("rigueur", 3)
    referent("rigueur", 3)
    _progress(make_tracker(), services.referentiel().get("rigueur"))  # issues the badge
    services.store().open_self_assessment(SENDER, "autonomie")
    services.store().create_invitation(SENDER, "Léa", "tuteur", ["autonomie"])
    msgs, _ = run(ActionShowMySkills(), make_tracker(slots={"consent": "oui"}), domain)
    assert "Rigueur (1 expérience) · confirmé 🏅  \n« je recompte la caisse »" in msgs[0]["text"]
    assert "Autonomie (1 expérience) · test à finir" in msgs[0]["text"]
    assert "1 invitation en attente" in msgs[1]["text"]
    assert msgs[-1]["buttons"] == messages.PROFILE_BUTTONS


def test_every_resource_card_keeps_the_house_style() -> None:
    from tests.unit.test_actions import assert_house_style

    reason = "Pour travailler « Je relis ou je vérifie mon travail avant de le rendre ». "
    for resource in default_catalogue().resources.values():
        assert_house_style(messages.resource_card(resource, reason))


def test_opening_the_form_says_nothing_about_empty_slots(app_db, make_tracker, domain) -> None:
    """The action that opens a form resets its slots: their validation must stay silent."""
    form = pa.ValidateResourcesForm()
    for slot in ("progress_skill", "resource_kinds", "resource_time"):
        assert validate(form, make_tracker(), domain, slot, None) == {slot: None}
        assert validate.messages == []  # type: ignore[attr-defined]
    form = pa.ValidateMissionsForm()
    for slot in ("progress_skill", "mission_place", "mission_minor"):
        assert validate(form, make_tracker(), domain, slot, None) == {slot: None}
        assert validate.messages == []  # type: ignore[attr-defined]


def test_skill_named_in_the_request_without_an_entity(app_db, make_tracker, domain) -> None:
    tracker = make_tracker(text="je veux progresser en rigueur", intent="find_resources")
    assert slots_of(run(pa.ActionStartResources(), tracker, domain)[1])["progress_skill"] == "rigueur"


def test_a_big_profile_is_split_into_phone_sized_messages(app_db, make_tracker, domain) -> None:
    from actions.actions import ActionShowMySkills

    consent()
    store = services.store()
    for skill_id in list(services.referentiel().skills)[:10]:
        exp = store.add_experience(SENDER, "Une longue histoire.")
        store.add_skill_claim(SENDER, exp, skill_id, 0.8, "confirmed", "j'ai " + "vraiment " * 20 + "tout fait")
    msgs, _ = run(ActionShowMySkills(), make_tracker(slots={"consent": "oui"}), domain)  # style checked
    assert len(msgs) > 1 and sum(m["text"].count("(1 expérience)") for m in msgs) == 10


def test_a_place_not_understood_three_times_moves_on_to_remote_missions(app_db, make_tracker, domain) -> None:
    form = pa.ValidateMissionsForm()
    asked = [{"event": "active_loop", "name": "missions_form"},
             {"event": "slot", "name": "requested_slot", "value": "mission_place"}]
    for n in range(2):
        tracker = make_tracker(history=asked, text="👍")
        assert validate(form, tracker, domain, "mission_place", "👍") == {"mission_place": None}
        assert [m["text"] for m in validate.messages] == [messages.PLACE_NOT_UNDERSTOOD]  # type: ignore[attr-defined]
        asked = asked + [{"event": "bot", "text": messages.PLACE_NOT_UNDERSTOOD}]
    tracker = make_tracker(history=asked, text="j'ai monté une cagnotte")
    assert validate(form, tracker, domain, "mission_place", "j'ai monté une cagnotte") == {"mission_place": pa.REMOTE}
    assert [m["text"] for m in validate.messages] == [messages.PLACE_MOVED_ON]  # type: ignore[attr-defined]
    assert pa._place(pa.REMOTE) is None  # remote missions


def test_no_skill_chosen_three_times_starts_with_the_first_offered(app_db, make_tracker, domain) -> None:
    form = pa.ValidateResourcesForm()
    asked = [{"event": "active_loop", "name": "resources_form"},
             {"event": "slot", "name": "requested_slot", "value": "progress_skill"},
             {"event": "bot", "text": messages.PROGRESS_SKILL_NOT_UNDERSTOOD},
             {"event": "bot", "text": messages.PROGRESS_SKILL_NOT_UNDERSTOOD}]
    tracker = make_tracker(history=asked, text="bof", slots={"session_skills": ["autonomie"]})
    assert validate(form, tracker, domain, "progress_skill", "bof") == {"progress_skill": "autonomie"}
    assert [m["text"] for m in validate.messages] == [messages.progress_skill_chosen("Autonomie")]  # type: ignore[attr-defined]

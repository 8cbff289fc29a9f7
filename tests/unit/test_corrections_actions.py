"""Issue 9 in the actions: corrections, only shown skills answered, the no-skill path."""
from __future__ import annotations

import asyncio
from typing import Any, Dict

from rasa_sdk.executor import CollectingDispatcher

import actions.actions as acts
from bot import messages, services
from tests.unit.test_actions import STRESS, TEAM, claims, experience, run, slots_of, texts

SHOWN = "gestion_du_stress"


def correct(tracker, domain, value: Any = None):
    dispatcher = CollectingDispatcher()
    result = acts.ValidateConfirmSkillsForm().validate_skill_answer(
        value if value is not None else tracker.latest_message.get("text"), dispatcher, tracker, domain)
    return result, texts(dispatcher.messages)


def form_slots(exp_id, **extra) -> Dict[str, Any]:
    slots = {"consent": "oui", "experience_id": exp_id, "pending_skills": [STRESS, TEAM],
             "confirmed_now": [], "session_skills": [], "skill_shown": SHOWN,
             "experience_story": "au mcdo le samedi c'était la folie mais je restais calme"}
    slots.update(extra)
    return slots


def test_a_oui_given_before_any_skill_is_shown_saves_nothing(app_db, make_tracker, domain):
    # the « oui » that answered the story's difficulty question reaches the form at its start
    exp_id = experience()
    tracker = make_tracker(text="oui", intent="affirm", slots=form_slots(exp_id, skill_shown=None))
    result, msgs = correct(tracker, domain, "oui")
    assert result == {"skill_answer": None} and msgs == []
    assert claims(app_db) == []


def test_only_the_skill_on_screen_is_answered(app_db, make_tracker, domain):
    exp_id = experience()
    tracker = make_tracker(text="oui", slots=form_slots(exp_id, skill_shown="travail_en_equipe"))
    result, _ = correct(tracker, domain, "oui")
    assert result == {"skill_answer": None} and claims(app_db) == []


def test_plutot_replaces_the_skill_on_screen(app_db, make_tracker, domain):
    exp_id = experience()
    tracker = make_tracker(text="c'est plutôt de l'autonomie", slots=form_slots(exp_id))
    result, msgs = correct(tracker, domain)
    pending = result["pending_skills"]
    assert [p["id"] for p in pending] == ["autonomie", "travail_en_equipe"] and pending[0]["added"]
    assert result["skill_answer"] is None and result["confirmed_now"] == []
    title = services.referentiel().get(SHOWN).title
    assert msgs == [messages.removed([services.referentiel().get(SHOWN)])] and title in msgs[0]
    assert claims(app_db) == [(SHOWN, "rejected", 0.82, "je suis resté calme")]


def test_an_added_skill_is_asked_with_its_meaning_then_saved(app_db, make_tracker, domain):
    exp_id = experience()
    tracker = make_tracker(text="y a pas aussi la rigueur ?", slots=form_slots(exp_id))
    result, msgs = correct(tracker, domain)
    assert msgs == []
    assert [p["id"] for p in result["pending_skills"]] == ["rigueur", SHOWN, "travail_en_equipe"]
    asked, events = run(acts.ActionAskSkillAnswer(), make_tracker(slots=result), domain)
    rigueur = services.referentiel().get("rigueur")
    assert rigueur.definition in asked[0]["text"] and asked[0]["buttons"][:len(messages.ADDED_BUTTONS)] == messages.ADDED_BUTTONS
    assert slots_of(events) == {"skill_shown": "rigueur"}
    # « oui »: saved as confirmed, with the person's action as evidence
    after, _ = correct(make_tracker(text="oui", slots=form_slots(exp_id, **{**result, "skill_shown": "rigueur"})), domain, "oui")
    assert after["confirmed_now"] == ["rigueur"]
    assert claims(app_db) == [("rigueur", "confirmed", 0.0, "je restais calme")]


def test_an_added_skill_refused_is_not_saved(app_db, make_tracker, domain):
    exp_id = experience()
    added = {"id": "rigueur", "confidence": 0.0, "evidence": None, "added": True}
    tracker = make_tracker(text="non", slots=form_slots(exp_id, pending_skills=[added, STRESS], skill_shown="rigueur"))
    result, _ = correct(tracker, domain, "non")
    assert result["pending_skills"] == [STRESS] and claims(app_db) == []


def test_remove_a_skill_not_shown_yet_or_already_confirmed(app_db, make_tracker, domain):
    exp_id = experience()
    tracker = make_tracker(text="pas le travail en équipe", slots=form_slots(exp_id))
    result, msgs = correct(tracker, domain)
    assert result["pending_skills"] == [STRESS] and claims(app_db) == []  # never shown: never saved
    services.store().add_skill_claim("test-user", exp_id, "rigueur", 0.7, "confirmed", "j'ai tout vérifié")
    tracker = make_tracker(text="enlève la rigueur", slots=form_slots(
        exp_id, pending_skills=[STRESS], confirmed_now=["rigueur"], session_skills=["rigueur"]))
    result, msgs = correct(tracker, domain)
    assert result["confirmed_now"] == [] and result["session_skills"] == []
    assert claims(app_db) == [("rigueur", "rejected", 0.7, "j'ai tout vérifié")]
    # the last one removed: the form ends
    tracker = make_tracker(text="pas le stress", slots=form_slots(exp_id, pending_skills=[STRESS]))
    result, _ = correct(tracker, domain)
    assert result["pending_skills"] == [] and result["skill_answer"] is not None


def test_a_correction_the_nlu_took_for_a_question_stays_in_the_form(make_tracker, domain):
    form = acts.ValidateConfirmSkillsForm()
    tracker = make_tracker(text="c'est plutôt de l'autonomie", intent="ask_what_are_soft_skills",
                           slots={"requested_slot": "skill_answer", "pending_skills": [STRESS]})
    assert asyncio.run(form.extract_skill_answer(CollectingDispatcher(), tracker, domain)) == {
        "skill_answer": "c'est plutôt de l'autonomie"}
    # a real question about a meaning is left to the explanation rule
    tracker = make_tracker(text="c'est quoi l'autonomie ?", intent="ask_what_are_soft_skills",
                           slots={"requested_slot": "skill_answer", "pending_skills": [STRESS]})
    assert asyncio.run(form.extract_skill_answer(CollectingDispatcher(), tracker, domain)) == {}


def test_story_form_asks_one_targeted_question_when_nothing_is_clear(make_tracker, domain):
    form = acts.ValidateExperienceForm()
    story = "ce week end jsuis allé au mariage de mon cousin à Lyon, on a mangé et dansé jusqu'au matin, au final c'était cool"
    tracker = make_tracker(slots={"experience_story": story, "story_skills": []})
    slots = asyncio.run(form.required_slots([], CollectingDispatcher(), tracker, domain))
    assert slots[-1] == "experience_probe"
    tracker = make_tracker(slots={"experience_story": story, "story_skills": [STRESS]})
    assert "experience_probe" not in asyncio.run(form.required_slots([], CollectingDispatcher(), tracker, domain))
    _, ask = messages.ASK["experience_probe"][0], messages.ASK["experience_probe"]
    assert "toi" in ask[0] and ask[0].count("?") == 2


def test_a_second_short_answer_is_taken_as_the_story(make_tracker, domain):
    form = acts.ValidateExperienceForm()
    tracker = make_tracker(text="foot", slots={})
    # asked, « foot », « tell me more » and asked again: the second « foot » is taken
    tracker.events.insert(0, {"event": "bot", "text": messages.ASK["experience_story"][0]})
    tracker.events.insert(1, {"event": "user", "text": "foot"})
    tracker.events.insert(2, {"event": "bot", "text": messages.STORY_TOO_SHORT})
    tracker.events.insert(3, {"event": "bot", "text": messages.ASK["experience_story"][0]})
    dispatcher = CollectingDispatcher()
    result = form.validate_experience_story("foot", dispatcher, tracker, domain)
    assert result["experience_story"] == "foot foot" and dispatcher.messages == []  # both answers kept
    # a thin story gets no follow-up questions, only the targeted one
    tracker = make_tracker(slots={"experience_story": "foot", "story_skills": []})
    assert asyncio.run(form.required_slots([], CollectingDispatcher(), tracker, domain)) == [
        "experience_story", "experience_probe"]
    # the first time, « tell me more »
    result = form.validate_experience_story("foot", CollectingDispatcher(), make_tracker(text="foot"), domain)
    assert result == {"experience_story": None}


def test_pick_a_skill_in_plain_words(app_db, make_tracker, domain):
    exp_id = experience()
    last = {"experience_id": exp_id, "text": "foot\nj'étais attaquant et je gardais mon calme", "skills": [], "confirmed": []}
    msgs, events = run(acts.ActionPickSkill(), make_tracker(slots={"skill": "toutes", "last_story": last}), domain)
    assert len(msgs[0]["buttons"]) == 14 + 1
    msgs, events = run(acts.ActionPickSkill(), make_tracker(slots={"skill": "gestion_du_stress", "last_story": last}), domain)
    slots = slots_of(events)
    assert msgs == [] and slots["has_proposals"] is True and slots["experience_id"] == exp_id
    assert slots["pending_skills"] == [{"id": "gestion_du_stress", "confidence": 0.0,
                                        "evidence": "je gardais mon calme"}]
    # an old picker button with nothing to pick for
    msgs, _ = run(acts.ActionPickSkill(), make_tracker(slots={"skill": "rigueur"}), domain)
    assert texts(msgs) == [messages.pick_nothing_to_pick()]


def test_corrections_after_the_summary(app_db, make_tracker, domain):
    exp_id = experience()
    services.store().add_skill_claim("test-user", exp_id, "rigueur", 0.7, "confirmed", "j'ai tout vérifié")
    last = {"experience_id": exp_id, "text": "je restais calme", "skills": [STRESS], "confirmed": ["rigueur"]}
    msgs, events = run(acts.ActionCorrectSkills(), make_tracker(
        text="enlève la rigueur", slots={"consent": "oui", "last_story": last, "session_skills": ["rigueur"]}), domain)
    slots = slots_of(events)
    assert slots["has_proposals"] is False and slots["last_story"]["confirmed"] == []
    assert "enlève" in texts(msgs)[0] and claims(app_db)[0][1] == "rejected"
    msgs, events = run(acts.ActionCorrectSkills(), make_tracker(
        text="y a aussi le stress", slots={"consent": "oui", "last_story": last}), domain)
    slots = slots_of(events)
    assert slots["has_proposals"] is True and slots["experience_id"] == exp_id
    assert slots["pending_skills"] == [{**STRESS, "added": True}]
    msgs, _ = run(acts.ActionCorrectSkills(), make_tracker(text="y a aussi le stress", slots={}), domain)
    assert texts(msgs) == [messages.NOTHING_TO_CORRECT]

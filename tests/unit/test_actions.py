"""actions/actions.py with CollectingDispatcher, rasa_sdk trackers and a real SQLite database."""
from __future__ import annotations

import asyncio
import inspect
import re
import sqlite3
from typing import Any, Dict, List, Tuple

import pytest
from rasa_sdk import Action
from rasa_sdk.events import ReminderCancelled, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

import actions.actions as acts
from bot import messages, services
from bot.dialogue.asking import STOP_BUTTON
from bot.nlu.text import fold

MAX_CHARS = 400
_VOUS = re.compile(r"\bvous\b|\bvotre\b|\bvos\b")

COMPLETE_STORY = (
    "L'été dernier j'ai bossé au McDo. Un soir c'était le rush et un client s'est énervé, "
    "mais je suis resté calme et je lui ai refait sa commande. "
    "Au final mon manager m'a félicité devant toute l'équipe."
)
SHORT_STORY = "jai bossé au mcdo tout l'été"
STRESS = {"id": "gestion_du_stress", "confidence": 0.82, "evidence": "je suis resté calme"}
TEAM = {"id": "travail_en_equipe", "confidence": 0.55, "evidence": "toute l'équipe"}


# --- helpers ----------------------------------------------------------------------------


_QUOTED = re.compile(r"«[^»]*»|https?://\S+")


def assert_house_style(text: str) -> None:
    assert text, "empty bot message"
    readable = re.sub(r"https?://\S+", "", text)  # a link is tapped, not read
    assert len(readable) <= MAX_CHARS, f"message too long ({len(readable)}): {text!r}"
    # quoted words (the person's, a resource's title) and links are not the bot's voice
    assert not _VOUS.search(fold(_QUOTED.sub("", text))), f"'vous' in a bot message: {text!r}"


def run(action: Action, tracker, domain) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Run an action like the action server does; check every message's style."""
    dispatcher = CollectingDispatcher()
    result = action.run(dispatcher, tracker, domain)
    events = asyncio.run(result) if inspect.isawaitable(result) else result
    for message in dispatcher.messages:
        assert_house_style(message["text"])
        for button in message.get("buttons") or []:
            assert_house_style(button["title"])
            assert len(button["title"]) <= 40
    return dispatcher.messages, events


def texts(msgs: List[Dict[str, Any]]) -> List[str]:
    return [m["text"] for m in msgs]


def slots_of(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def db_rows(url: str, sql: str, *args: Any) -> List[tuple]:
    """Query the app database directly (created and migrated if no action touched it)."""
    assert services.store().url == url
    with sqlite3.connect(url[len("sqlite:///"):]) as conn:
        return conn.execute(sql, args).fetchall()


def consent(sender_id: str = "test-user") -> None:
    services.store().record_consent(sender_id, True, messages.NOTICE_VERSION, "socketio")


def experience(sender_id: str = "test-user") -> int:
    consent(sender_id)
    exp_id = services.store().add_experience(sender_id, COMPLETE_STORY)
    assert exp_id is not None
    return exp_id


# --- onboarding -------------------------------------------------------------------------


def test_consent_given_is_recorded(app_db: str, make_tracker, domain) -> None:
    tracker = make_tracker(slots={"consent": "oui"}, intent="affirm", text="oui", sender_id="alice")
    msgs, events = run(acts.ActionRecordConsent(), tracker, domain)
    assert events == []
    assert texts(msgs) == [messages.consent_answer(True)]
    assert db_rows(app_db, "SELECT sender_id, consent_given, notice_version, channel FROM persons") == [
        ("alice", 1, messages.NOTICE_VERSION, "socketio")
    ]


def test_consent_refused_stores_nothing(app_db: str, make_tracker, domain) -> None:
    tracker = make_tracker(slots={"consent": "non"}, intent="deny", text="non", sender_id="alice")
    msgs, _ = run(acts.ActionRecordConsent(), tracker, domain)
    assert texts(msgs) == [messages.consent_answer(False)]
    assert db_rows(app_db, "SELECT COUNT(*) FROM persons") == [(0,)]


def test_consent_withdrawn_erases(app_db: str, make_tracker, domain) -> None:
    experience("alice")
    run(acts.ActionRecordConsent(), make_tracker(slots={"consent": "non"}, sender_id="alice"), domain)
    assert db_rows(app_db, "SELECT COUNT(*) FROM persons") == [(0,)]
    assert db_rows(app_db, "SELECT COUNT(*) FROM experiences") == [(0,)]


@pytest.mark.parametrize(
    "value, expected",
    [("moi c'est Inès", "Inès"), ("je m'appelle jean-paul", "Jean-Paul"), ("-", "-")],
)
def test_name_is_cleaned(make_tracker, domain, value: str, expected: str) -> None:
    dispatcher = CollectingDispatcher()
    result = acts.ValidateNameForm().validate_first_name(value, dispatcher, make_tracker(text=value), domain)
    assert result == {"first_name": expected}
    assert dispatcher.messages == []


@pytest.mark.parametrize("value", ["oui", "salut", "j'ai 17 ans et je cherche un taf", None])
def test_name_not_understood_is_asked_again(make_tracker, domain, value) -> None:
    dispatcher = CollectingDispatcher()
    result = acts.ValidateNameForm().validate_first_name(value, dispatcher, make_tracker(), domain)
    assert result == {"first_name": None}
    assert texts(dispatcher.messages) == [messages.name_not_understood()]


def test_name_form_validation_through_run(make_tracker, domain) -> None:
    tracker = make_tracker(text="moi c'est inès", slot_events={"first_name": "moi c'est inès"},
                           active_loop="name_form")
    msgs, events = run(acts.ValidateNameForm(), tracker, domain)
    assert msgs == []
    assert slots_of(events) == {"first_name": "Inès"}


def test_after_name_with_consent_stores_it(app_db: str, make_tracker, domain) -> None:
    consent("alice")
    msgs, _ = run(acts.ActionAfterName(), make_tracker(slots={"consent": "oui", "first_name": "Inès"},
                                                     sender_id="alice"), domain)
    assert texts(msgs) == ["Trop bien, Inès 🙂"]
    assert db_rows(app_db, "SELECT first_name FROM persons WHERE sender_id = 'alice'") == [("Inès",)]


def test_after_name_without_consent_stores_nothing(app_db: str, make_tracker, domain) -> None:
    msgs, _ = run(acts.ActionAfterName(), make_tracker(slots={"consent": "non", "first_name": "Inès"}), domain)
    assert texts(msgs) == ["Trop bien, Inès 🙂"]
    assert db_rows(app_db, "SELECT COUNT(*) FROM persons") == [(0,)]


def test_after_name_skipped(app_db: str, make_tracker, domain) -> None:
    msgs, _ = run(acts.ActionAfterName(), make_tracker(slots={"first_name": "-"}), domain)
    assert texts(msgs) == ["Pas de souci 🙂"]


# --- the story ---------------------------------------------------------------------------


def test_start_story_takes_the_message_and_resets_the_rest(make_tracker, domain) -> None:
    tracker = make_tracker(text=f"  {COMPLETE_STORY}\x00 ", slots={"story_skills": [STRESS], "experience_id": 3})
    _, events = run(acts.ActionStartStory(), tracker, domain)
    slots = slots_of(events)
    assert slots["experience_story"] == COMPLETE_STORY
    assert slots["story_skills"] is None and slots["experience_id"] is None
    assert slots["pending_skills"] is None and slots["experience_action"] is None


def required(tracker, domain) -> List[str]:
    form = acts.ValidateExperienceForm()
    return asyncio.run(form.required_slots(form.domain_slots(domain), CollectingDispatcher(), tracker, domain))


def test_required_slots_complete_story_needs_no_follow_up(make_tracker, domain) -> None:
    # (a skill is clear: the targeted question of the no-skill path is not needed)
    assert required(make_tracker(slots={"experience_story": COMPLETE_STORY, "story_skills": [STRESS]}),
                    domain) == ["experience_story"]


def test_required_slots_short_story_asks_every_follow_up(make_tracker, domain) -> None:
    assert required(make_tracker(slots={"experience_story": "jai bossé au mcdo", "story_skills": [STRESS]}), domain) == [
        "experience_story", "experience_action", "experience_difficulty", "experience_result"
    ]


def test_required_slots_without_story(make_tracker, domain) -> None:
    assert required(make_tracker(), domain) == acts.STORY_SLOTS


def test_required_slots_answered_follow_ups_stay_and_complete_the_story(make_tracker, domain) -> None:
    slots = {
        "experience_story": SHORT_STORY,
        "experience_difficulty": "le samedi soir c'était le rush, c'était dur",
        "story_skills": [STRESS],
    }
    # the difficulty answer is kept (not asked again); the result is still missing
    assert required(make_tracker(slots=slots), domain) == [
        "experience_story", "experience_difficulty", "experience_result"
    ]
    slots["experience_result"] = "au final ils m'ont gardé pour l'été d'après"
    assert required(make_tracker(slots=slots), domain) == [
        "experience_story", "experience_difficulty", "experience_result"
    ]


@pytest.mark.parametrize("value", ["ok", "😀", "je sais pas", "", None])
def test_story_too_short_is_refused(make_tracker, domain, value) -> None:
    dispatcher = CollectingDispatcher()
    result = acts.ValidateExperienceForm().validate_experience_story(
        value, dispatcher, make_tracker(text=value or ""), domain
    )
    assert result == {"experience_story": None}
    assert texts(dispatcher.messages) == [messages.STORY_TOO_SHORT]


def test_story_is_accepted_with_merged_skills(make_tracker, domain) -> None:
    tracker = make_tracker(
        text=COMPLETE_STORY,
        soft_skills=[{**STRESS, "confidence": 0.9}, TEAM],
        slots={"story_skills": [STRESS, {"id": "rigueur", "confidence": 0.35}]},
    )
    dispatcher = CollectingDispatcher()
    result = acts.ValidateExperienceForm().validate_experience_story(
        COMPLETE_STORY + "\x07", dispatcher, tracker, domain
    )
    assert dispatcher.messages == []
    assert result["experience_story"] == COMPLETE_STORY
    assert result["story_skills"] == [
        {**STRESS, "confidence": 0.9}, TEAM, {"id": "rigueur", "confidence": 0.35, "evidence": None},
    ]


def test_short_story_accepted_when_a_skill_was_detected(make_tracker, domain) -> None:
    tracker = make_tracker(text="j'ai géré", soft_skills=[STRESS])
    result = acts.ValidateExperienceForm().validate_experience_story(
        "géré le rush", CollectingDispatcher(), tracker, domain
    )
    assert result["experience_story"] == "géré le rush"
    assert [s["id"] for s in result["story_skills"]] == ["gestion_du_stress"]


def test_follow_up_answer_merges_skills(make_tracker, domain) -> None:
    tracker = make_tracker(text="on s'est entraidés", soft_skills=[TEAM], slots={"story_skills": [STRESS]})
    form = acts.ValidateExperienceForm()
    result = form.validate_experience_action("on s'est entraidés\n", CollectingDispatcher(), tracker, domain)
    assert result == {"experience_action": "on s'est entraidés", "story_skills": [STRESS, TEAM]}
    empty = form.validate_experience_result(None, CollectingDispatcher(), make_tracker(), domain)
    assert empty == {"experience_result": "-", "story_skills": []}


def test_experience_form_through_run_short_story_asks_the_action(make_tracker, domain) -> None:
    tracker = make_tracker(text="jai bossé au mcdo", soft_skills=[STRESS],
                           slot_events={"experience_story": "jai bossé au mcdo"},
                           active_loop="experience_form")
    msgs, events = run(acts.ValidateExperienceForm(), tracker, domain)
    assert msgs == []
    slots = slots_of(events)
    assert slots["experience_story"] == "jai bossé au mcdo" and slots["story_skills"] == [STRESS]
    # every follow-up is needed: the first one is asked (the targeted question
    # experience_probe only comes when no skill is clear)
    assert slots["requested_slot"] == "experience_action"


def test_experience_form_through_run_asks_only_what_is_missing(make_tracker, domain) -> None:
    story = "jai bossé au mcdo tout l'été avec mon cousin"  # action said, no difficulty, no result
    tracker = make_tracker(text=story, soft_skills=[STRESS], slot_events={"experience_story": story},
                           active_loop="experience_form")
    _, events = run(acts.ValidateExperienceForm(), tracker, domain)
    assert slots_of(events)["requested_slot"] == "experience_difficulty"
    answer = "au final ils m'ont gardé, mais le rush c'était dur"
    tracker = make_tracker(text=answer, slots={"experience_story": story, "story_skills": [STRESS]},
                           slot_events={"experience_difficulty": answer}, active_loop="experience_form")
    _, events = run(acts.ValidateExperienceForm(), tracker, domain)
    slots = slots_of(events)
    assert slots["experience_difficulty"] == answer
    assert slots["requested_slot"] is None


def test_experience_form_through_run_complete_story_ends_the_form(make_tracker, domain) -> None:
    tracker = make_tracker(text=COMPLETE_STORY, soft_skills=[STRESS],
                           slot_events={"experience_story": COMPLETE_STORY}, active_loop="experience_form")
    _, events = run(acts.ValidateExperienceForm(), tracker, domain)
    slots = slots_of(events)
    assert slots["story_skills"] == [STRESS]
    assert slots["requested_slot"] is None


def test_experience_form_through_run_ok_asks_the_story_again(make_tracker, domain) -> None:
    tracker = make_tracker(text="ok", slot_events={"experience_story": "ok"}, active_loop="experience_form")
    msgs, events = run(acts.ValidateExperienceForm(), tracker, domain)
    assert texts(msgs) == [messages.STORY_TOO_SHORT]
    assert slots_of(events)["experience_story"] is None


# --- proposals --------------------------------------------------------------------------------


def story_slots(**extra: Any) -> Dict[str, Any]:
    slots = {
        "experience_story": SHORT_STORY,
        "experience_action": "-",
        "experience_difficulty": "un client s'est énervé",
        "experience_result": "mon manager m'a félicité",
        "story_skills": [STRESS, TEAM, {"id": "leadership", "confidence": 0.99},
                         {"id": "rigueur", "confidence": 0.1}],
        "first_name": "Inès",
    }
    slots.update(extra)
    return slots


def test_propose_with_consent_stores_the_experience(app_db: str, make_tracker, domain) -> None:
    consent("alice")
    tracker = make_tracker(slots=story_slots(consent="oui"), sender_id="alice")
    msgs, events = run(acts.ActionProposeSkills(), tracker, domain)
    slots = slots_of(events)
    assert slots["has_proposals"] is True
    # unknown ids are dropped; the two likeliest known ones; 0.1 is not proposed
    assert slots["pending_skills"] == [STRESS, TEAM]
    assert slots["confirmed_now"] == []
    assert texts(msgs) == [messages.proposals_intro(2, "Inès")]
    rows = db_rows(app_db, "SELECT e.id, e.text, e.details FROM experiences e JOIN persons p "
                           "ON p.id = e.person_id WHERE p.sender_id = 'alice'")
    assert len(rows) == 1
    assert slots["experience_id"] == rows[0][0]
    assert rows[0][1] == SHORT_STORY
    assert "un client" in rows[0][2] and "action" not in rows[0][2]


def test_propose_without_consent_stores_nothing(app_db: str, make_tracker, domain) -> None:
    msgs, events = run(acts.ActionProposeSkills(), make_tracker(slots=story_slots(consent="non")), domain)
    slots = slots_of(events)
    assert slots["has_proposals"] is True and slots["experience_id"] is None
    assert len(slots["pending_skills"]) == 2
    assert db_rows(app_db, "SELECT COUNT(*) FROM experiences") == [(0,)]


@pytest.mark.parametrize("skills", [None, [], [{"id": "rigueur", "confidence": 0.2}]])
def test_nothing_detected(app_db: str, make_tracker, domain, skills) -> None:
    consent()
    msgs, events = run(acts.ActionProposeSkills(), make_tracker(slots=story_slots(consent="oui", story_skills=skills)), domain)
    slots = slots_of(events)
    assert slots["has_proposals"] is False
    assert not slots.get("pending_skills")
    # the targeted question was the story form's last one: the person picks in plain words
    assert texts(msgs) == [messages.pick_intro()]
    titles = [b["title"] for b in msgs[0]["buttons"]]
    assert "Garder mon calme" in titles and "Voir les 14" in titles and "Raconter autre chose" in titles
    assert 3 <= len(titles) - 2 <= 4
    assert slots["no_skill_step"] == "pick"
    # the old story is cleared (a new one starts clean) and remembered for the picker
    assert slots["experience_story"] is None and slots["story_skills"] is None
    assert slots["last_story"]["text"].startswith(SHORT_STORY)
    # the story itself is still kept for someone who consented
    assert slots["last_story"]["experience_id"] is not None
    assert db_rows(app_db, "SELECT COUNT(*) FROM experiences") == [(1,)]


def test_ask_skill_answer_shows_the_skill_and_the_evidence(make_tracker, domain) -> None:
    msgs, events = run(acts.ActionAskSkillAnswer(), make_tracker(slots={"pending_skills": [STRESS, TEAM]}), domain)
    assert slots_of(events) == {"skill_shown": "gestion_du_stress"}  # answers count for this one only
    assert len(msgs) == 1
    text = msgs[0]["text"]
    assert text.startswith(services.referentiel().get("gestion_du_stress").title)
    assert "« je suis resté calme »" in text
    assert msgs[0]["buttons"] == messages.CONFIRM_BUTTONS + [STOP_BUTTON]  # and a way out


def test_ask_skill_answer_without_pending_says_nothing(make_tracker, domain) -> None:
    msgs, _ = run(acts.ActionAskSkillAnswer(), make_tracker(slots={"pending_skills": []}), domain)
    assert msgs == []


# --- confirmation ------------------------------------------------------------------------------


def confirm(value: Any, tracker, domain) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    result = acts.ValidateConfirmSkillsForm().validate_skill_answer(value, dispatcher, tracker, domain)
    for m in dispatcher.messages:
        assert_house_style(m["text"])
    return result, dispatcher.messages


def claims(url: str) -> List[tuple]:
    return db_rows(url, "SELECT skill_id, status, confidence, evidence FROM skill_claims ORDER BY id")


def test_confirm_then_reject_records_claims(app_db: str, make_tracker, domain) -> None:
    exp_id = experience()
    slots = {"consent": "oui", "experience_id": exp_id, "pending_skills": [STRESS, TEAM],
             "confirmed_now": [], "session_skills": ["rigueur"], "skill_shown": "gestion_du_stress"}
    result, msgs = confirm("oui", make_tracker(slots=slots), domain)
    assert msgs == []
    # one proposal left: the form asks again
    assert result == {"skill_answer": None, "pending_skills": [TEAM], "skill_shown": None,
                      "confirmed_now": ["gestion_du_stress"], "session_skills": ["rigueur", "gestion_du_stress"]}
    assert claims(app_db) == [("gestion_du_stress", "confirmed", 0.82, "je suis resté calme")]

    slots.update(result, skill_shown="travail_en_equipe")
    result, _ = confirm("non", make_tracker(slots=slots), domain)
    assert result == {"skill_answer": "non", "pending_skills": [], "skill_shown": None,
                      "confirmed_now": ["gestion_du_stress"], "session_skills": ["rigueur", "gestion_du_stress"]}
    assert claims(app_db)[1] == ("travail_en_equipe", "rejected", 0.55, "toute l'équipe")


@pytest.mark.parametrize("value, status", [("ouais grave", "confirmed"), ("c'est moi", "confirmed"),
                                           ("bof", "rejected"), ("pas vraiment", "rejected")])
def test_free_text_answers_are_understood(app_db: str, make_tracker, domain, value: str, status: str) -> None:
    exp_id = experience()
    tracker = make_tracker(text=value, slots={"consent": "oui", "experience_id": exp_id, "pending_skills": [STRESS],
                                              "skill_shown": "gestion_du_stress"})
    result, msgs = confirm(value, tracker, domain)
    assert msgs == []
    assert result["skill_answer"] == ("oui" if status == "confirmed" else "non")
    assert [c[:2] for c in claims(app_db)] == [("gestion_du_stress", status)]


@pytest.mark.parametrize("value", ["euh", "je sais pas", "", None])
def test_unclear_answer_asks_to_use_the_buttons(app_db: str, make_tracker, domain, value) -> None:
    exp_id = experience()
    tracker = make_tracker(slots={"consent": "oui", "experience_id": exp_id, "pending_skills": [STRESS],
                                              "skill_shown": "gestion_du_stress"})
    result, msgs = confirm(value, tracker, domain)
    assert result == {"skill_answer": None}
    assert texts(msgs) == [messages.USE_BUTTONS]
    assert claims(app_db) == []


def test_confirm_without_consent_only_remembers_the_session(app_db: str, make_tracker, domain) -> None:
    tracker = make_tracker(slots={"consent": "non", "experience_id": None, "pending_skills": [STRESS],
                                              "skill_shown": "gestion_du_stress"})
    result, _ = confirm("oui", tracker, domain)
    assert result["session_skills"] == ["gestion_du_stress"]
    assert result["skill_answer"] == "oui"
    assert claims(app_db) == []


def test_confirm_after_consent_refused_stores_no_claim(app_db: str, make_tracker, domain) -> None:
    exp_id = experience()
    # an experience id left in the slots, but the consent slot now says no
    tracker = make_tracker(slots={"consent": "non", "experience_id": exp_id, "pending_skills": [STRESS],
                                              "skill_shown": "gestion_du_stress"})
    result, _ = confirm("oui", tracker, domain)
    assert result["confirmed_now"] == ["gestion_du_stress"]
    assert claims(app_db) == []


def test_confirm_form_through_run(app_db: str, make_tracker, domain) -> None:
    exp_id = experience()
    tracker = make_tracker(text="oui", intent="affirm", active_loop="confirm_skills_form",
                           slots={"consent": "oui", "experience_id": exp_id, "pending_skills": [STRESS, TEAM],
                                  "skill_shown": "gestion_du_stress", "requested_slot": "skill_answer"},
                           slot_events={"skill_answer": "oui"})
    _, events = run(acts.ValidateConfirmSkillsForm(), tracker, domain)
    slots = slots_of(events)
    assert slots["skill_answer"] is None
    assert slots["pending_skills"] == [TEAM]
    assert len(claims(app_db)) == 1


def test_summary(app_db: str, make_tracker, domain) -> None:
    msgs, events = run(acts.ActionSummariseSkills(),
                       make_tracker(slots={"consent": "oui", "confirmed_now": ["gestion_du_stress"]}), domain)
    title = services.referentiel().get("gestion_du_stress").title
    assert texts(msgs) == [f"Bravo 🎉 J'ajoute à ton profil : {title}."]
    slots = slots_of(events)
    assert set(slots) >= {"experience_story", "story_skills", "pending_skills", "confirmed_now", "skill_shown"}
    assert all(v is None for k, v in slots.items() if k != "last_story")
    # kept for corrections right after the summary (« enlève la rigueur »)
    assert slots["last_story"]["confirmed"] == ["gestion_du_stress"]
    msgs, _ = run(acts.ActionSummariseSkills(), make_tracker(slots={"confirmed_now": []}), domain)
    assert "honnête" in texts(msgs)[0]


def test_the_training_question_comes_once_to_someone_whose_story_is_kept(app_db: str, make_tracker, domain) -> None:
    store = services.store()
    store.record_consent("test-user", True, messages.NOTICE_VERSION, "rest")
    exp = store.add_experience("test-user", "je gardais ma soeur", {})
    slots = {"consent": "oui", "confirmed_now": ["organisation"], "experience_id": exp}
    msgs, _ = run(acts.ActionSummariseSkills(), make_tracker(slots=slots), domain)
    assert texts(msgs)[1] == messages.TRAINING_QUESTION
    assert [b["payload"] for b in msgs[1]["buttons"]] == ["/allow_training", "/refuse_training"]
    # the person answers (a button, or typed any time later)
    msgs, events = run(acts.ActionTrainingConsent(), make_tracker(slots={"consent": "oui"}, intent="allow_training",
                                                                 text="/allow_training"), domain)
    assert texts(msgs) == [messages.TRAINING_YES] and events == []
    assert store.training_consent("test-user") is True
    # never asked again, whatever the answer was
    msgs, _ = run(acts.ActionSummariseSkills(), make_tracker(slots=slots), domain)
    assert messages.TRAINING_QUESTION not in texts(msgs)
    msgs, _ = run(acts.ActionTrainingConsent(), make_tracker(slots={"consent": "oui"}, intent="refuse_training",
                                                            text="n'utilise plus mes récits"), domain)
    assert texts(msgs) == [messages.TRAINING_NO] and store.training_consent("test-user") is False
    # nothing kept (no profile consent): not asked, and a yes changes nothing
    msgs, _ = run(acts.ActionSummariseSkills(), make_tracker(slots={"confirmed_now": ["organisation"]},
                                                             sender_id="other"), domain)
    assert messages.TRAINING_QUESTION not in texts(msgs)
    for intent in ("allow_training", "refuse_training"):
        msgs, _ = run(acts.ActionTrainingConsent(), make_tracker(intent=intent, sender_id="other"), domain)
        assert texts(msgs) == [messages.TRAINING_NOTHING_KEPT] and store.training_consent("other") is None


# --- profile and explanations ------------------------------------------------------------------


def test_show_my_skills_lists_confirmed_skills(app_db: str, make_tracker, domain) -> None:
    store = services.store()
    for _ in range(2):
        exp_id = experience("alice")
        store.add_skill_claim("alice", exp_id, "gestion_du_stress", 0.8, "confirmed", "resté calme")
    store.add_skill_claim("alice", exp_id, "rigueur", 0.7, "confirmed")
    store.add_skill_claim("alice", exp_id, "curiosite", 0.6, "rejected")
    msgs, _ = run(acts.ActionShowMySkills(), make_tracker(slots={"consent": "oui"}, sender_id="alice"), domain)
    ref = services.referentiel()
    text = msgs[-1]["text"]
    assert f"{ref.get('gestion_du_stress').title} (2 expériences)" in text
    assert f"{ref.get('rigueur').title} (1 expérience)" in text
    assert ref.get("curiosite").label not in text
    assert text.index("Gestion du stress") < text.index("Rigueur")
    assert msgs[-1]["buttons"] == messages.PROFILE_BUTTONS


def test_show_my_skills_without_consent_uses_the_session(app_db: str, make_tracker, domain) -> None:
    tracker = make_tracker(slots={"consent": "non", "session_skills": ["rigueur", "rigueur", "autonomie"]})
    msgs, _ = run(acts.ActionShowMySkills(), tracker, domain)
    assert "Rigueur (2 expériences)" in msgs[-1]["text"]
    assert "Autonomie (1 expérience)" in msgs[-1]["text"]
    assert db_rows(app_db, "SELECT COUNT(*) FROM persons") == [(0,)]


def test_show_my_skills_empty_profile(app_db: str, make_tracker, domain) -> None:
    consent()
    msgs, _ = run(acts.ActionShowMySkills(), make_tracker(slots={"consent": "oui"}), domain)
    assert texts(msgs) == ["Ton profil est encore vide. Raconte-moi une expérience pour commencer !"]


def test_explain_skill_from_entity(make_tracker, domain) -> None:
    tracker = make_tracker(text="c'est quoi la rigueur ?", intent="ask_what_are_soft_skills",
                           entities=[{"entity": "skill", "value": "rigueur"}], slots={"skill": "rigueur"})
    msgs, events = run(acts.ActionExplainSkill(), tracker, domain)
    rigueur = services.referentiel().get("rigueur")
    assert msgs[0]["text"] == messages.explain_skill(rigueur)
    assert rigueur.definition in msgs[0]["text"]
    assert msgs[0]["buttons"] == messages.MENU_BUTTONS[:1]
    assert events == [SlotSet("skill", None)]


def test_explain_skill_from_free_text(make_tracker, domain) -> None:
    msgs, _ = run(acts.ActionExplainSkill(),
                  make_tracker(text="c'est quoi la gestion du stress ?", slots={"skill": None}), domain)
    assert msgs[0]["text"].startswith(services.referentiel().get("gestion_du_stress").title)
    msgs, _ = run(acts.ActionExplainSkill(), make_tracker(text="ça veut dire quoi", slots={"skill": "la réactivité"}), domain)
    assert "Réactivité" in msgs[0]["text"]


def test_explain_soft_skills_in_general(make_tracker, domain) -> None:
    msgs, events = run(acts.ActionExplainSkill(), make_tracker(text="c'est quoi une compétence ?"), domain)
    assert msgs[0]["text"] == messages.explain_soft_skills(services.referentiel())
    assert "rigueur" in msgs[0]["text"]
    assert events == [SlotSet("skill", None)]


# --- privacy -------------------------------------------------------------------------------------


def test_delete_confirmed_erases_only_that_sender(app_db: str, make_tracker, domain) -> None:
    store = services.store()
    for sender in ("alice", "bob"):
        exp_id = experience(sender)
        store.add_skill_claim(sender, exp_id, "rigueur", 0.8, "confirmed")
        store.create_export_token(sender)
    msgs, events = run(acts.ActionDeleteMyData(),
                       make_tracker(slots={"delete_confirmed": True, "consent": "oui"}, sender_id="alice"), domain)
    assert events == [ReminderCancelled(), SlotSet("data_erased", True)]  # no reminder after erasure
    assert texts(msgs) == [messages.erased()]
    assert db_rows(app_db, "SELECT sender_id FROM persons") == [("bob",)]
    for table in ("experiences", "skill_claims", "export_tokens"):
        assert db_rows(app_db, f"SELECT COUNT(*) FROM {table}") == [(1,)], table


@pytest.mark.parametrize("answer", [False, None])
def test_delete_not_confirmed_erases_nothing(app_db: str, make_tracker, domain, answer) -> None:
    experience("alice")
    msgs, events = run(acts.ActionDeleteMyData(),
                       make_tracker(slots={"delete_confirmed": answer}, sender_id="alice"), domain)
    assert events == [SlotSet("delete_confirmed", None)]
    assert texts(msgs) == [messages.not_erased()]
    assert db_rows(app_db, "SELECT COUNT(*) FROM experiences") == [(1,)]


def test_export_with_consent_gives_a_single_use_link(app_db: str, make_tracker, domain) -> None:
    experience("alice")
    msgs, _ = run(acts.ActionExportMyData(), make_tracker(slots={"consent": "oui"}, sender_id="alice"), domain)
    text = msgs[0]["text"]
    public_url = services.settings().public_url
    assert public_url == "https://atouts.example.org"  # set by the app_db fixture
    match = re.search(re.escape(public_url) + r"/mes-donnees/([A-Za-z0-9_-]{43})$", text)
    assert match, text
    assert "1 h" in text
    store = services.store()
    assert store.resolve_export_token(match.group(1)) == "alice"
    assert store.resolve_export_token(match.group(1)) is None
    # only the hash of the token is stored
    assert match.group(1) not in str(db_rows(app_db, "SELECT * FROM export_tokens"))


def test_export_without_consent_says_nothing_was_kept(app_db: str, make_tracker, domain) -> None:
    msgs, _ = run(acts.ActionExportMyData(), make_tracker(slots={"consent": "non"}), domain)
    assert texts(msgs) == [messages.export_nothing()]
    assert "rien gardé" in msgs[0]["text"]
    assert db_rows(app_db, "SELECT COUNT(*) FROM export_tokens") == [(0,)]


# --- form questions and fallbacks ------------------------------------------------------------------


@pytest.mark.parametrize("slot", sorted(messages.ASK))
def test_ask_actions(make_tracker, domain, slot: str) -> None:
    action = acts.ask_action(slot)
    assert action.name() == f"action_ask_{slot}"
    assert action.name() in domain["actions"]
    msgs, events = run(action, make_tracker(), domain)
    text, buttons = messages.ASK[slot]
    # only the privacy question keeps a count (it moves on after the third time)
    assert events == ([SlotSet("consent_asks", {"session": None, "count": 1})] if slot == "consent" else [])
    assert msgs[0]["text"] == text
    assert msgs[0]["buttons"] == list(buttons) + [STOP_BUTTON]  # every question: a way out


def test_consent_question_names_the_erasure_command(make_tracker, domain) -> None:
    msgs, _ = run(acts.ActionAskConsent(), make_tracker(), domain)
    assert "supprime mes données" in msgs[0]["text"]
    assert [b["payload"] for b in msgs[0]["buttons"]] == ["/affirm", "/deny", "/stop"]


def test_every_form_slot_has_a_question(domain) -> None:
    for form in domain["forms"].values():
        for slot in form["required_slots"]:
            assert f"action_ask_{slot}" in domain["actions"] or f"utter_ask_{slot}" in domain["responses"], slot


def test_every_custom_action_in_the_domain_is_registered(domain) -> None:
    """What the action server registers (rasa_sdk's executor) covers the domain."""
    executor = ActionExecutor()
    executor.register_package("actions")
    custom = {a for a in domain["actions"] if a.startswith(("action_", "validate_"))}
    assert custom - set(executor.actions) == set()


def test_ask_affirmation_guesses_the_best_real_intent(make_tracker, domain) -> None:
    ranking = [{"name": "nlu_fallback", "confidence": 0.5}, {"name": "out_of_scope", "confidence": 0.3},
               {"name": "show_my_skills", "confidence": 0.2}]
    msgs, _ = run(acts.ActionDefaultAskAffirmation(), make_tracker(intent_ranking=ranking), domain)
    assert msgs[0]["text"] == "Tu veux voir tes compétences ?"
    assert [b["payload"] for b in msgs[0]["buttons"]] == ["/show_my_skills", "/out_of_scope"]


def test_ask_affirmation_without_ranking_offers_help(make_tracker, domain) -> None:
    msgs, _ = run(acts.ActionDefaultAskAffirmation(), make_tracker(), domain)
    assert msgs[0]["text"] == "Tu veux savoir ce que je sais faire ?"
    assert msgs[0]["buttons"][0]["payload"] == "/help"


def test_every_intent_has_a_french_label(domain) -> None:
    missing = [i for i in domain["intents"]
               if i != "nlu_fallback" and not i.startswith("EXTERNAL_") and i not in messages.INTENT_LABELS]
    assert missing == []


def test_rephrase_and_default_fallback(make_tracker, domain) -> None:
    msgs, events = run(acts.ActionDefaultAskRephrase(), make_tracker(), domain)
    assert texts(msgs) == [messages.REPHRASE] and events == []
    msgs, events = run(acts.ActionDefaultFallback(), make_tracker(), domain)
    assert texts(msgs) == [messages.DEFAULT_FALLBACK]
    assert msgs[0]["buttons"] == messages.FALLBACK_BUTTONS
    assert events == [UserUtteranceReverted()]


def test_say_it_another_way_changes_words_within_a_session(make_tracker, domain) -> None:
    """Fuzzer seed 4242, walk 263: « Je n'ai pas bien compris… » three times in one walk
    (three two-stage fallbacks far apart)."""
    events: list = []
    said = []
    for _ in range(6):
        msgs, _ = run(acts.ActionDefaultAskRephrase(), make_tracker(history=list(events)), domain)
        said.append(msgs[0]["text"])
        assert bool(msgs[0].get("buttons")) == (len(said) > 1)  # from the second time, the menu too
        events += [{"event": "user", "text": "blabla"}, {"event": "bot", "text": msgs[0]["text"]}]
        events += [{"event": "user", "text": "autre"}, {"event": "bot", "text": "Tu veux dire bonjour ?"}] * 4
    assert said[:3] == list(messages.REPHRASES) and max(said.count(t) for t in said) == 2


def test_the_fallback_is_never_the_same_words_three_times_in_a_session(make_tracker, domain) -> None:
    events: list = []
    said = []
    for _ in range(5):
        msgs, _ = run(acts.ActionDefaultFallback(), make_tracker(history=list(events)), domain)
        said.append(msgs[0]["text"])
        events += [{"event": "user", "text": "blabla"}, {"event": "bot", "text": msgs[0]["text"]}]
        assert any(b["payload"] == "/help" or b["payload"] == "/want_to_tell" for b in msgs[0]["buttons"])
    assert max(said.count(t) for t in said) <= 2
    assert said[0] == messages.DEFAULT_FALLBACK and said[1] != said[0]
    # from the second time, a way to reach a person
    msgs, _ = run(acts.ActionDefaultFallback(), make_tracker(history=list(events)), domain)
    assert {"title": "Parler à quelqu'un", "payload": "/ask_human"} in msgs[0]["buttons"]
    # a new session starts over
    msgs, _ = run(acts.ActionDefaultFallback(),
                  make_tracker(history=events + [{"event": "session_started"}]), domain)
    assert msgs[0]["text"] == messages.DEFAULT_FALLBACK


def test_domain_responses_follow_the_house_style(domain) -> None:
    for name, variants in domain["responses"].items():
        for variant in variants:
            assert_house_style(variant["text"])
            for button in variant.get("buttons", []):
                assert_house_style(button["title"])


def test_explanations_of_every_skill_are_short(domain) -> None:
    ref = services.referentiel()
    for skill in ref.skills.values():
        assert_house_style(messages.explain_skill(skill))
    assert_house_style(messages.explain_soft_skills(ref))


def test_a_bare_first_name_outside_the_form_is_kept(make_tracker, domain, app_db) -> None:
    from rasa_sdk.events import SlotSet
    from rasa_sdk.executor import CollectingDispatcher

    from actions.actions import ActionAfterName

    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"consent": "oui"}, text="inès", intent="give_name")
    events = ActionAfterName().run(dispatcher, tracker, domain)
    assert SlotSet("first_name", "Inès") in events
    assert "Inès" in dispatcher.messages[0]["text"]


def test_the_privacy_question_twice_then_choices_then_no_answer_is_a_no(app_db, make_tracker, domain) -> None:
    full = messages.ASK["consent"][0]
    history: list = []
    said = []
    for _ in range(4):
        msgs, events = run(acts.ActionAskConsent(), make_tracker(history=list(history), active_loop="consent_form"),
                           domain)
        said.append((msgs[0]["text"], events))
        # each time in a new run of the form (the person left and came back with a story)
        history += [{"event": "active_loop", "name": "consent_form"}, {"event": "bot", "text": msgs[0]["text"]},
                    {"event": "user", "text": "une histoire"}]
    assert [s[0] for s in said[:3]] == [full, full, acts.THIRD_TIME["consent"]]
    assert [s[1] for s in said[:3]] == [[SlotSet("consent_asks", {"session": None, "count": n})] for n in (1, 2, 3)]
    assert said[3][0] == messages.CONSENT_MOVED_ON
    assert said[3][1] == [SlotSet("consent", "non"), SlotSet("requested_slot", None)]
    # a new session starts over
    msgs, _ = run(acts.ActionAskConsent(), make_tracker(history=history + [{"event": "session_started"}]), domain)
    assert msgs[0]["text"] == full


def test_the_privacy_question_is_counted_beyond_the_tracker_window(make_tracker, domain, monkeypatch) -> None:
    """Fuzzer seed 99: a long session reaches the action windowed (bot.tracker_window), the
    earlier notices out of sight; the count kept in a slot still stops a fourth one."""
    monkeypatch.setattr(acts.services, "store", lambda: type("S", (), {"has_consent": lambda self, s: False})())
    session = [{"event": "session_started", "timestamp": 1700000000.5}]
    windowed = session + [{"event": "user", "text": "une histoire"}] * 3
    counter = {"session": 1700000000.5, "count": 3}
    msgs, events = run(acts.ActionAskConsent(), make_tracker(history=windowed, slots={"consent_asks": counter},
                                                             active_loop="consent_form"), domain)
    assert texts(msgs) == [messages.CONSENT_MOVED_ON]
    assert events == [SlotSet("consent", "non"), SlotSet("requested_slot", None)]
    # the same count from another session does not carry over
    later = [{"event": "session_started", "timestamp": 1700900000.0}]
    msgs, events = run(acts.ActionAskConsent(), make_tracker(history=later, slots={"consent_asks": counter},
                                                             active_loop="consent_form"), domain)
    assert msgs[0]["text"] == messages.ASK["consent"][0]
    assert events == [SlotSet("consent_asks", {"session": 1700900000.0, "count": 1})]
    # two said in the window, the slot behind (older model): the events count
    two = session + [{"event": "bot", "text": messages.ASK["consent"][0]}] * 2
    msgs, _ = run(acts.ActionAskConsent(), make_tracker(history=two, slots={"consent_asks": None},
                                                        active_loop="consent_form"), domain)
    assert msgs[0]["text"] == acts.THIRD_TIME["consent"]


def test_no_answer_is_never_a_withdrawal(make_tracker, domain, monkeypatch) -> None:
    """Moving on without an answer records nothing: an explicit « non » erases (withdrawal),
    silence must not — and a yes given before stands."""
    recorded = []

    class Store:
        consented = False

        def record_consent(self, *args):
            recorded.append(args)

        def has_consent(self, sender):
            return self.consented

    store = Store()
    monkeypatch.setattr(acts.services, "store", lambda: store)
    history = [{"event": "bot", "text": messages.CONSENT_MOVED_ON}]
    msgs, _ = run(acts.ActionRecordConsent(), make_tracker(history=history, slots={"consent": "non"}), domain)
    assert msgs == [] and recorded == []
    msgs, _ = run(acts.ActionRecordConsent(), make_tracker(slots={"consent": "non"}), domain)
    assert texts(msgs) == [messages.consent_answer(False)] and recorded[0][1] is False
    store.consented = True
    asked = [{"event": "bot", "text": messages.ASK["consent"][0]}] * 2 + [{"event": "bot", "text": acts.THIRD_TIME["consent"]}]
    msgs, events = run(acts.ActionAskConsent(), make_tracker(history=asked, active_loop="consent_form"), domain)
    assert texts(msgs) == [messages.CONSENT_KEPT]
    assert events == [SlotSet("consent", "oui"), SlotSet("requested_slot", None)]


@pytest.mark.parametrize("text", ["nan je veux pas que tu gardes mes données", "je veux plus que tu gardes rien",
                                  "n'enregistre pas mes infos"])
def test_a_negated_keep_my_data_is_not_consent(make_tracker, domain, monkeypatch, text) -> None:
    recorded = []

    class Store:
        def record_consent(self, *args):
            recorded.append(args)

    monkeypatch.setattr(acts.services, "store", lambda: Store())
    msgs, events = run(acts.ActionGiveConsent(), make_tracker(text=text, intent="give_consent"), domain)
    assert texts(msgs) == [messages.CONSENT_NOT_CLEAR] and events == [] and recorded == []


def test_keep_my_data_records_consent_and_the_name(make_tracker, domain, monkeypatch) -> None:
    calls = []

    class Store:
        def has_consent(self, sender):
            return False

        def record_consent(self, *args):
            calls.append(("consent", args[1]))

        def set_first_name(self, sender, name):
            calls.append(("name", name))

    monkeypatch.setattr(acts.services, "store", lambda: Store())
    msgs, events = run(acts.ActionGiveConsent(),
                       make_tracker(text="ok garde mes données", intent="give_consent",
                                    slots={"consent": "non", "first_name": "Inès"}), domain)
    assert texts(msgs) == [messages.CONSENT_GIVEN_LATER]
    assert events == [SlotSet("consent", "oui")] and calls == [("consent", True), ("name", "Inès")]

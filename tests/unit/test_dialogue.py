"""The interruptions table (generator and checker), pause/leave/resume, the way out
and the « never a third time » mechanism."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

import actions.actions as acts
from actions import dialogue
from bot import messages
from bot.config import ROOT
from bot.conversation import clean_first_name, yes_no
from bot.dialogue import interruptions as itr
from bot.dialogue.asking import (GENERIC_THIRD_TIME, STOP_BUTTON, THIRD_TIME, answers_since_asked, question,
                                 said_since_shown, times_asked, with_way_out)
from tests.unit.test_actions import run, slots_of, texts


@pytest.fixture(scope="module")
def table() -> itr.Table:
    return itr.Table.load()


@pytest.fixture()
def raw_domain() -> Dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def rules_text() -> str:
    return itr.RULES.read_text(encoding="utf-8")


# --- the table, the generated rules, the checker -----------------------------------------
def test_the_repository_agrees_with_the_table(table, raw_domain) -> None:
    assert itr.check(table, raw_domain, rules_text()) == []
    assert rules_text().startswith(itr.HEADER)


def test_every_form_and_every_intent_has_a_behaviour(table, raw_domain) -> None:
    intents = itr.domain_intents(raw_domain)
    assert set(table.forms) == set(raw_domain["forms"])
    cells = table.matrix(intents)
    assert len(cells) == len(table.forms) * len(intents)
    assert {c.behaviour for c in cells} <= set(itr.BEHAVIOURS) | {"never_fill"}
    # a few decisions of the issue, read from the table
    assert table.cell("name_form", "show_my_skills").behaviour == "leave"
    assert table.cell("experience_form", "start_assessment").behaviour == "leave"
    assert table.cell("assessment_form", "stop").behaviour == "pause"
    assert table.cell("consent_form", "thank").behaviour == "fill"  # « non merci »
    for intent in ("crisis", "ask_human", "other_language"):
        assert {table.cell(f, intent).behaviour for f in table.forms} == {"never_fill"}


def test_a_slot_mapping_that_swallows_an_interruption_is_reported(table, raw_domain) -> None:
    """The drift of the issue: name_form's first_name took « mes compétences » as a name."""
    drifted = copy.deepcopy(raw_domain)
    for mapping in drifted["slots"]["first_name"]["mappings"]:
        if mapping.get("type") == "from_text" and mapping["conditions"][0]["active_loop"] == "name_form":
            mapping["not_intent"] = [i for i in mapping["not_intent"] if i != "show_my_skills"]
    problems = itr.check(table, drifted, rules_text())
    assert any("first_name" in p and "show_my_skills" in p and "name_form" in p for p in problems), problems


def test_a_never_filling_intent_missing_from_a_mapping_is_reported(table, raw_domain) -> None:
    drifted = copy.deepcopy(raw_domain)
    mapping = drifted["slots"]["experience_story"]["mappings"][0]
    mapping["not_intent"] = [i for i in mapping["not_intent"] if i != "crisis"]
    problems = itr.check(table, drifted, rules_text())
    assert any("experience_story" in p and "crisis" in p for p in problems), problems


def test_out_of_date_rules_and_unknown_names_are_reported(table, raw_domain) -> None:
    assert any("out of date" in p for p in itr.check(table, raw_domain, rules_text() + "\n# edited\n"))
    assert any("out of date" in p for p in itr.check(table, raw_domain, None))
    broken = copy.deepcopy(table)
    broken.default["help"] = {"answer": "utter_nowhere"}
    assert any("utter_nowhere" in p for p in itr.check(broken, raw_domain, rules_text()))
    broken.overrides["name_form"]["no_such_intent"] = "leave"
    assert any("no_such_intent" in p for p in itr.check(broken, raw_domain, rules_text()))


def test_generated_rules(table, raw_domain) -> None:
    rules = {r["rule"]: r for r in yaml.safe_load(rules_text())["rules"]}
    pause = rules["stop pendant experience_form : pause"]
    assert pause["condition"] == [{"active_loop": "experience_form"}]
    assert pause["steps"] == [{"intent": "stop"}, {"action": "action_pause_form"}, {"active_loop": None}]
    help_ = rules["help pendant invite_form : réponse puis on continue"]
    assert help_["steps"][1:] == [{"action": "utter_help"}, {"action": "invite_form"}, {"active_loop": "invite_form"}]
    # leave: the intent's own rules replayed after action_leave_form (all three branches of « tester »)
    leave = [r for name, r in rules.items() if name.startswith("start_assessment pendant experience_form")]
    assert len(leave) == 3
    for rule in leave:
        assert rule["steps"][:3] == [{"intent": "start_assessment"}, {"action": "action_leave_form"},
                                     {"active_loop": None}]
        assert rule["steps"][3] == {"action": "action_start_assessment"}
    # consent-dependent menu rules keep their condition
    told = [r for name, r in rules.items() if name.startswith("want_to_tell pendant name_form")]
    assert {"slot_was_set": [{"consent": "oui"}]} in [c for r in told for c in r["condition"]]
    # no rule at all for the intents a policy handles
    assert not [name for name in rules if name.split(" ")[0] in ("crisis", "ask_human", "other_language")]


def test_generate_command_writes_what_check_expects(tmp_path: Path, table, raw_domain) -> None:
    target = tmp_path / "interruptions.yml"
    target.write_text(itr.render(itr.generate(table, itr.domain_intents(raw_domain))), encoding="utf-8")
    assert target.read_text(encoding="utf-8") == rules_text()


# --- asking: a way out, never a third time ------------------------------------------------
def _asks(slot: str, text: str, n: int) -> List[Dict[str, Any]]:
    events: List[Dict[str, Any]] = [{"event": "active_loop", "name": "experience_form"}]
    for i in range(n):
        events += [{"event": "slot", "name": "requested_slot", "value": slot},
                   {"event": "bot", "text": text},
                   {"event": "action", "name": "action_listen"},
                   {"event": "user", "text": f"mot{i}"}]
    return events


def test_times_asked_counts_the_current_run_only() -> None:
    text = messages.ASK["experience_story"][0]
    assert times_asked(_asks("experience_story", text, 2), "experience_story", [text]) == 2
    # another question in between, or the form reopened: the count starts again
    events = _asks("experience_story", text, 2) + [{"event": "slot", "name": "requested_slot",
                                                    "value": "experience_action"}]
    assert times_asked(events, "experience_story", [text]) == 0
    events = _asks("experience_story", text, 2) + [{"event": "active_loop", "name": None}]
    assert times_asked(events, "experience_story", [text]) == 0
    assert answers_since_asked(_asks("experience_story", text, 3), "experience_story") == ["mot0", "mot1", "mot2"]


def test_the_third_time_the_question_changes_and_offers_choices() -> None:
    text, buttons = messages.ASK["consent"]
    first = question("consent", text, buttons, _asks("consent", text, 0))
    second = question("consent", text, buttons, _asks("consent", text, 1))
    third = question("consent", text, buttons, _asks("consent", text, 2))
    assert first[0] == second[0] == text
    assert third[0] == THIRD_TIME["consent"] != text
    assert [b["payload"] for b in third[1]][:2] == ["/affirm", "/deny"]
    assert "/help" in [b["payload"] for b in third[1]] and STOP_BUTTON in third[1]
    for asked in (first, second, third):
        assert asked[1].count(STOP_BUTTON) == 1
    assert with_way_out([STOP_BUTTON]) == [STOP_BUTTON]


@pytest.mark.parametrize("slot", sorted(messages.ASK))
def test_every_form_question_has_a_way_out(make_tracker, domain, slot: str) -> None:
    action = acts.ask_action(slot)
    msgs, _ = run(action, make_tracker(), domain)
    assert "/stop" in [b["payload"] for b in msgs[-1]["buttons"]]


# --- validators: typed refusal, menu words, one-word answers ------------------------------
@pytest.mark.parametrize("text", ["non merci", "nan je préfère pas", "jsuis pas d'accord", "je refuse",
                                  "pas envie"])
def test_typed_refusals(text: str) -> None:
    assert yes_no(text) is False


@pytest.mark.parametrize("text", ["ouais vas y", "je suis d'accord", "oui", "ça me va"])
def test_typed_yes(text: str) -> None:
    assert yes_no(text) is True


def test_consent_validator_reads_typed_answers(make_tracker, domain) -> None:
    form = dialogue.ValidateConsentForm()
    for text, intent, expected in [("non merci", "thank", "non"), ("je préfère pas", "skip", "non"),
                                   ("carrément", "affirm", "oui"), ("grave ok d'accord", None, "oui")]:
        tracker = make_tracker(text=text, intent=intent, slot_events={"consent": text})
        events = run(form, tracker, domain)[1]
        assert slots_of(events)["consent"] == expected, text
    tracker = make_tracker(text="hein", intent="nlu_fallback", slot_events={"consent": "hein"})
    msgs, events = run(form, tracker, domain)
    assert slots_of(events)["consent"] is None and texts(msgs) == [messages.CONSENT_NOT_UNDERSTOOD]


@pytest.mark.parametrize("text", ["mes compétences", "tester", "mes badges", "une mission", "Reprendre"])
def test_menu_words_are_never_a_first_name(text: str) -> None:
    assert clean_first_name(text) is None


def _tracker_with(make_tracker, prior: List[Dict[str, Any]], **kwargs: Any):
    tracker = make_tracker(**kwargs)
    tracker.events[:0] = prior
    return tracker


def test_a_first_name_not_understood_twice_moves_on(make_tracker, domain) -> None:
    form = acts.ValidateNameForm()
    text = messages.ASK["first_name"][0]
    once = _tracker_with(make_tracker, _asks("first_name", text, 1), text="mes compétences",
                         active_loop="name_form", slot_events={"first_name": "mes compétences"})
    msgs, events = run(form, once, domain)
    assert slots_of(events)["first_name"] is None and texts(msgs) == [messages.name_not_understood()]
    twice = _tracker_with(make_tracker, _asks("first_name", text, 2), text="??",
                          active_loop="name_form", slot_events={"first_name": "??"})
    msgs, events = run(form, twice, domain)
    assert slots_of(events)["first_name"] == "-" and texts(msgs) == [messages.NAME_SKIPPED]


def test_one_word_answers_to_the_story_move_on_instead_of_a_third_question(make_tracker, domain) -> None:
    form = acts.ValidateExperienceForm()
    text = messages.ASK["experience_story"][0]
    once = _tracker_with(make_tracker, _asks("experience_story", text, 1)[:-1], text="foot",
                         active_loop="experience_form", slot_events={"experience_story": "foot"})
    msgs, events = run(form, once, domain)
    assert slots_of(events)["experience_story"] is None and texts(msgs) == [messages.STORY_TOO_SHORT]
    prior = _asks("experience_story", text, 2)[:-1] + [{"event": "user", "text": "foot"}]
    twice = _tracker_with(make_tracker, prior, text="attaquant", active_loop="experience_form",
                          slot_events={"experience_story": "attaquant"})
    msgs, events = run(form, twice, domain)
    story = slots_of(events)["experience_story"]
    assert story and "foot" in story and messages.STORY_TOO_SHORT not in texts(msgs)


def test_an_old_button_typed_into_the_story_is_not_a_story(make_tracker, domain) -> None:
    form = acts.ValidateExperienceForm()
    tracker = make_tracker(text="/affirm", intent="affirm", active_loop="experience_form",
                           slot_events={"experience_story": "/affirm"})
    msgs, events = run(form, tracker, domain)
    assert slots_of(events)["experience_story"] is None and texts(msgs) == [messages.STALE_BUTTON_IN_FORM]


# --- pause, leave, resume -------------------------------------------------------------------
def test_pause_remembers_the_form_and_says_how_to_resume(make_tracker, domain) -> None:
    tracker = make_tracker(active_loop="assessment_form", slots={"assessment_skill": "rigueur"})
    msgs, events = run(dialogue.ActionPauseForm(), tracker, domain)
    assert "reprendre" in msgs[0]["text"] and messages.RESUME_BUTTON in msgs[0]["buttons"]
    assert slots_of(events)["paused_form"] == "assessment_form"
    assert any(e.get("event") == "active_loop" and e.get("name") is None for e in events)
    # a form finished after it was put aside is not resumed: the menu
    tracker = make_tracker(slots={"paused_form": "assessment_form"}, text="reprendre", intent="resume")
    tracker.events[:0] = [{"event": "slot", "name": "paused_form", "value": "assessment_form"},
                          {"event": "active_loop", "name": "assessment_form"}, {"event": "active_loop", "name": None}]
    msgs, events = run(dialogue.ActionResumeForm(), tracker, domain)
    assert texts(msgs) == [messages.NOTHING_TO_RESUME]
    # the erasure question is never offered again
    msgs, events = run(dialogue.ActionPauseForm(), make_tracker(active_loop="delete_form"), domain)
    assert texts(msgs) == [messages.not_erased()] and slots_of(events)["paused_form"] is None


def test_leave_puts_the_form_aside_quietly(make_tracker, domain) -> None:
    msgs, events = run(dialogue.ActionLeaveForm(), make_tracker(active_loop="experience_form"), domain)
    assert slots_of(events)["paused_form"] == "experience_form"
    assert len(msgs) == 1 and "reprendre" in msgs[0]["text"]


def test_resume(make_tracker, domain) -> None:
    # something put aside: back to it
    tracker = make_tracker(slots={"paused_form": "assessment_form", "assessment_skill": "rigueur"},
                           text="reprendre", intent="resume")
    msgs, events = run(dialogue.ActionResumeForm(), tracker, domain)
    assert {"event": "followup", "name": "assessment_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    assert slots_of(events)["paused_form"] is None and "le test" in msgs[0]["text"]
    # nothing put aside: the menu
    msgs, events = run(dialogue.ActionResumeForm(), make_tracker(text="reprendre", intent="resume"), domain)
    assert texts(msgs) == [messages.NOTHING_TO_RESUME] and "/want_to_tell" in [
        b["payload"] for b in msgs[0]["buttons"]]
    assert not [e for e in events if e.get("event") == "followup"]
    # inside another form: that one is put aside, the paused one comes back
    tracker = make_tracker(slots={"paused_form": "assessment_form", "assessment_skill": "rigueur"},
                           text="je reprends le test",
                           intent="resume", active_loop="experience_form")
    msgs, events = run(dialogue.ActionResumeForm(), tracker, domain)
    assert slots_of(events)["paused_form"] == "experience_form"
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["assessment_form"]


def test_a_question_asked_twice_in_earlier_runs_of_its_form_changes_the_third_time() -> None:
    """Fuzzer walk: « Et toi, concrètement, tu faisais quoi ? » three times, each in a new
    run of the story form (the person told the same story again)."""
    text = messages.ASK["experience_action"][0]
    runs = _asks("experience_action", text, 1) + _asks("experience_action", text, 1)  # two runs, once each
    assert times_asked(runs, "experience_action", [text]) == 1
    assert question("experience_action", text, [], runs)[0] == THIRD_TIME.get("experience_action",
                                                                               GENERIC_THIRD_TIME)
    assert question("experience_action", text, [], runs + [{"event": "session_started"}])[0] == text


def _card(skill: str, non_answers: int) -> List[Dict[str, Any]]:
    events: List[Dict[str, Any]] = [{"event": "active_loop", "name": "confirm_skills_form"}]
    for i in range(non_answers + 1):
        events += [{"event": "bot", "text": f"carte {skill}"}, {"event": "slot", "name": "skill_shown", "value": skill}]
        if i < non_answers:
            events += [{"event": "user", "text": "bof"}, {"event": "bot", "text": messages.USE_BUTTONS}]
    return events


def test_a_skill_card_left_unanswered_three_times_is_put_aside(make_tracker, domain, monkeypatch) -> None:
    recorded = []
    monkeypatch.setattr(acts, "_record", lambda *args: recorded.append(args))
    form = acts.ValidateConfirmSkillsForm()
    pending = [{"id": "rigueur", "confidence": 0.8}, {"id": "autonomie", "confidence": 0.6}]
    slots = {"pending_skills": pending, "skill_shown": "rigueur"}
    twice = _tracker_with(make_tracker, _card("rigueur", 1), text="nique ta mère", active_loop="confirm_skills_form",
                          slots=slots, slot_events={"skill_answer": "nique ta mère"})
    msgs, events = run(form, twice, domain)
    assert texts(msgs) == [messages.USE_BUTTONS] and slots_of(events)["skill_answer"] is None
    third = _tracker_with(make_tracker, _card("rigueur", 2), text="t'es nul", active_loop="confirm_skills_form",
                          slots=slots, slot_events={"skill_answer": "t'es nul"})
    msgs, events = run(form, third, domain)
    assert texts(msgs) == [messages.skill_left_aside("Rigueur")], texts(msgs)
    assert slots_of(events)["pending_skills"] == pending[1:] and slots_of(events)["skill_answer"] is None
    assert recorded == []  # neither saved nor refused
    # the next card starts its own count
    assert said_since_shown(_card("rigueur", 2) + _card("autonomie", 0)[1:], messages.USE_BUTTONS,
                            "skill_shown", "autonomie") == 0


def test_the_next_skill_card_is_shown_as_itself_after_one_was_put_aside(make_tracker, domain, app_db) -> None:
    """Fuzzer walk 265: after a card left unanswered three times, the next skill came with
    the other wording only, without its name."""
    prior = _card("rigueur", 2) + [{"event": "bot", "text": THIRD_TIME["skill_answer"]},
                                   {"event": "slot", "name": "skill_shown", "value": None}]
    pending = [{"id": "autonomie", "confidence": 0.6}]
    tracker = _tracker_with(make_tracker, prior, active_loop="confirm_skills_form", slots={"pending_skills": pending})
    msgs, events = run(acts.ask_action("skill_answer"), tracker, domain)
    assert "Autonomie" in msgs[0]["text"] and THIRD_TIME["skill_answer"] not in msgs[0]["text"], msgs[0]["text"]
    # the same card twice more: the other wording, with the skill's name
    again = prior + [{"event": "bot", "text": msgs[0]["text"]}, {"event": "slot", "name": "skill_shown", "value": "autonomie"}]
    again += [{"event": "bot", "text": msgs[0]["text"]}, {"event": "slot", "name": "skill_shown", "value": "autonomie"}]
    tracker = _tracker_with(make_tracker, again, active_loop="confirm_skills_form", slots={"pending_skills": pending})
    msgs, _ = run(acts.ask_action("skill_answer"), tracker, domain)
    assert THIRD_TIME["skill_answer"] in msgs[0]["text"] and "Autonomie" in msgs[0]["text"], msgs[0]["text"]


def test_a_question_answered_each_time_is_asked_as_written_again() -> None:
    """Asking for resources a third time in a session: « Quelle compétence… ? » as usual,
    since it was answered the other times."""
    text = messages.ASK["experience_action"][0]
    answered = []
    for _ in range(3):
        answered += _asks("experience_action", text, 1) + [{"event": "slot", "name": "experience_action",
                                                             "value": "je tenais la caisse"},
                                                            {"event": "slot", "name": "experience_action", "value": None}]
    assert question("experience_action", text, [], answered)[0] == text


def test_each_new_story_asks_its_questions_in_other_words(make_tracker, domain) -> None:
    """Fuzzer walk (seed 4242): three stories in a walk, « Il y a eu un moment pas facile ?
    Comment tu as géré ? » three times. A new run of the form takes the next wording; the
    same run keeps its own (and the third time in a row still changes)."""
    action = acts.ask_action("experience_difficulty")
    history: List[Dict[str, Any]] = []
    said = []
    for _ in range(3):
        history.append({"event": "active_loop", "name": "experience_form"})
        msgs, _ = run(action, _tracker_with(make_tracker, list(history), active_loop="experience_form"), domain)
        said.append(msgs[0]["text"])
        history += [{"event": "bot", "text": msgs[0]["text"]}, {"event": "user", "text": "stop"}]
    assert len(set(said)) == 3 and said[0] == messages.ASK["experience_difficulty"][0]
    again, _ = run(action, _tracker_with(make_tracker, list(history), active_loop="experience_form"), domain)
    assert again[0]["text"] == said[-1]  # same run: same question


def test_a_question_is_recognised_with_the_persons_words_masked() -> None:
    """Fuzzer walk (seed 99): a person who typed « supprime mes données » finds those words
    masked in the stored privacy notice (which quotes them): the notice was no longer
    counted, and came a third time."""
    from bot.dialogue.asking import is_said, times_said_in_session

    notice = messages.ASK["consent"][0]
    stored = notice.replace("supprime mes données", "[récit effacé]")
    assert is_said(stored, [notice]) and is_said(notice, [notice])
    assert not is_said("[récit effacé]", [notice]) and not is_said("Autre chose [récit effacé]", [notice])
    events = [{"event": "bot", "text": stored}, {"event": "bot", "text": notice}]
    assert times_said_in_session(events, (notice,)) == 2

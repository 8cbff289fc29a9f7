"""actions/challenge.py and bot/challenge.py: CollectingDispatcher, rasa_sdk trackers,
a real SQLite database and a real badge issuer (keys in a temporary folder)."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest

from actions import challenge as ch
from bot import challenge, messages, services
from bot.dialogue.asking import STOP_BUTTON
from bot.badges.vc_jwt import decode_unverified
from tests.unit.test_actions import consent, run, slots_of, texts

SENDER = "test-user"


def confirm(skill_id: str, sender_id: str = SENDER) -> None:
    store = services.store()
    exp = store.add_experience(sender_id, "J'ai tenu la caisse tout l'été.")
    store.add_skill_claim(sender_id, exp, skill_id, 0.8, "confirmed", "je recompte la caisse")


def validate(form: Any, tracker, domain, slot: str, value: Any) -> Dict[str, Any]:
    """One slot validation, as FormValidationAction.run would call it."""
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    result = getattr(form, f"validate_{slot}")(value, dispatcher, tracker, domain)
    result = asyncio.run(result) if asyncio.iscoroutine(result) else result
    validate.messages = dispatcher.messages  # type: ignore[attr-defined]
    return result


def required(form: Any, tracker, domain) -> List[str]:
    from rasa_sdk.executor import CollectingDispatcher

    return asyncio.run(form.required_slots([], CollectingDispatcher(), tracker, domain))


def answer_all(skill_id: str, value: int, sender_id: str = SENDER) -> None:
    store = services.store()
    store.open_self_assessment(sender_id, skill_id)
    for item in services.referentiel().get(skill_id).items:
        store.record_self_answer(sender_id, skill_id, item.id, value)
    store.complete_self_assessment(sender_id, skill_id)


def referent(skill_id: str, value: int, name: str = "Karim", relation: str = "coach") -> int:
    store = services.store()
    token, info = store.create_invitation(SENDER, name, relation, [skill_id])
    items = services.referentiel().get(skill_id).items
    assert store.submit_referent(token, {skill_id: {i.id: value for i in items}})[0] == "ok"
    # the referent confirms their address (bot/web/referent_verify.py): their answers count
    assert store.start_verification(token, f"key-of-{name}", "c" * 64) == "ok"
    assert store.confirm_verification(token, "c" * 64)[0] == "ok"
    return info.id


# --- starting the test ----------------------------------------------------------------------


def test_start_without_consent_asks_for_it(app_db, make_tracker, domain) -> None:
    msgs, events = run(ch.ActionStartAssessment(), make_tracker(slots={"consent": "non"}), domain)
    assert texts(msgs) == [messages.ASSESSMENT_NEEDS_CONSENT]
    assert slots_of(events) == {"assessment_status": "no_consent", "consent": None}


def test_start_without_confirmed_skill_invites_to_tell(app_db, make_tracker, domain) -> None:
    consent()
    msgs, events = run(ch.ActionStartAssessment(), make_tracker(slots={"consent": "oui"}), domain)
    assert texts(msgs) == [messages.CHALLENGE_NO_SKILLS]
    assert slots_of(events) == {"assessment_status": "no_skills"}


def test_start_with_a_named_skill_presets_it(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    tracker = make_tracker(slots={"consent": "oui", "skill": "rigueur"}, intent="start_assessment",
                           entities=[{"entity": "skill", "value": "rigueur"}])
    msgs, events = run(ch.ActionStartAssessment(), tracker, domain)
    assert msgs == [] and slots_of(events)["assessment_skill"] == "rigueur"
    assert slots_of(events)["assessment_status"] == "ready"
    # a skill that is not in the profile is not preset: the form will offer the profile's
    tracker = make_tracker(slots={"consent": "oui"}, entities=[{"entity": "skill", "value": "autonomie"}])
    assert slots_of(run(ch.ActionStartAssessment(), tracker, domain)[1])["assessment_skill"] is None


def test_skill_question_offers_confirmed_skills_with_progress(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    confirm("autonomie")
    services.store().open_self_assessment(SENDER, "autonomie")
    msgs, _ = run(ch.ActionAskAssessmentSkill(), make_tracker(slots={"consent": "oui"}), domain)
    buttons = {b["payload"]: b["title"] for b in msgs[0]["buttons"]}
    assert set(buttons) == {'/choose{"skill":"rigueur"}', '/choose{"skill":"autonomie"}', "/stop"}
    assert buttons['/choose{"skill":"autonomie"}'].endswith("(à finir)")
    assert "(à finir)" not in buttons['/choose{"skill":"rigueur"}']


# --- the questionnaire --------------------------------------------------------------------------


def test_full_questionnaire_with_buttons_typed_answers_and_an_example(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    form = ch.ValidateAssessmentForm()
    skill = services.referentiel().get("rigueur")
    slots: Dict[str, Any] = {"consent": "oui"}
    result = validate(form, make_tracker(slots=slots, entities=[{"entity": "skill", "value": "rigueur"}]),
                      domain, "assessment_skill", '/choose{"skill":"rigueur"}')
    assert result["assessment_skill"] == "rigueur" and result["assessment_answer"] is None
    assert "C'est parti" in validate.messages[0]["text"]  # type: ignore[attr-defined]
    slots.update(result)
    asked = []
    typed = iter(["ouais souvent", "bof", "3", "tout le temps", "jamé", "Parfois", "souvent", "1"])
    for n, item in enumerate(skill.items):
        msgs, _ = run(ch.ActionAskAssessmentAnswer(), make_tracker(slots=slots), domain)
        asked.append(msgs[0]["text"])
        assert msgs[0]["buttons"] == messages.SCALE_BUTTONS + [STOP_BUTTON]
        if n % 2 == 0:  # a button
            tracker = make_tracker(slots=slots, text='/choose{"scale":"2"}', intent="choose",
                                   entities=[{"entity": "scale", "value": "2"}])
            result = validate(form, tracker, domain, "assessment_answer", '/choose{"scale":"2"}')
        else:  # typed
            text = next(typed)
            result = validate(form, make_tracker(slots=slots, text=text), domain, "assessment_answer", text)
        slots.update(result)
        if slots.get("assessment_example_item"):
            assert item.key and required(form, make_tracker(slots=slots), domain)[1] == "assessment_example"
            msgs, _ = run(ch.ActionAskAssessmentExample(), make_tracker(slots=slots), domain)
            assert msgs[0]["buttons"] == [messages.SKIP_BUTTON, STOP_BUTTON]
            text = "je recompte la caisse deux fois avant de partir"
            slots.update(validate(form, make_tracker(slots=slots, text=text), domain, "assessment_example", text))
            assert slots["assessment_example_item"] is None
    assert slots["assessment_answer"] == "done"
    assert asked[0].startswith(f"Question 1/{len(skill.items)}")
    assert asked[-1].startswith(f"Question {len(skill.items)}/{len(skill.items)}")
    state = services.store().self_assessment(SENDER, "rigueur")
    assert set(state.answers) == {i.id for i in skill.items}
    assert state.answers[skill.items[0].id] == 2 and state.answers[skill.items[1].id] == 2  # "ouais souvent"
    key_items_with_2 = [i.id for i in skill.items if i.key and state.answers[i.id] >= 2]
    assert key_items_with_2 and set(state.examples) == set(key_items_with_2)

    msgs, events = run(ch.ActionAssessmentDone(), make_tracker(slots=slots), domain)
    assert msgs[0]["text"].startswith("Bravo, tu as fini le test")
    assert "Tes points forts" in msgs[0]["text"] or "honnête" in msgs[0]["text"]
    assert msgs[-1]["buttons"] == messages.invite_buttons("rigueur")
    assert all(v is None for v in slots_of(events).values())
    assert services.store().self_assessment(SENDER, "rigueur").completed


def test_unclear_answer_is_asked_again_and_nothing_saved(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    services.store().open_self_assessment(SENDER, "rigueur")
    slots = {"consent": "oui", "assessment_skill": "rigueur"}
    for text in ["", "🤷", "peut-être que oui peut-être que non", "x" * 2000, "/choose{\"scale\":\"9\"}"]:
        result = validate(ch.ValidateAssessmentForm(), make_tracker(slots=slots, text=text), domain,
                          "assessment_answer", text)
        assert result == {"assessment_answer": None}
        assert texts(validate.messages) == [messages.SCALE_NOT_UNDERSTOOD]  # type: ignore[attr-defined]
    assert services.store().self_assessment(SENDER, "rigueur").answers == {}


def test_paused_questionnaire_resumes_at_the_same_question(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    store = services.store()
    store.open_self_assessment(SENDER, "rigueur")
    skill = services.referentiel().get("rigueur")
    for item in skill.items[:2]:
        store.record_self_answer(SENDER, "rigueur", item.id, 1)
    # a pause keeps the answers (action_pause_form, tests/unit/test_dialogue.py); a new start resumes
    result = validate(ch.ValidateAssessmentForm(), make_tracker(slots={"consent": "oui"}), domain,
                      "assessment_skill", "rigueur")
    assert result["assessment_skill"] == "rigueur"
    left = len(skill.items) - 2
    assert validate.messages[0]["text"].startswith("On reprend")  # type: ignore[attr-defined]
    assert f"{left} questions" in validate.messages[0]["text"]  # type: ignore[attr-defined]
    msgs, _ = run(ch.ActionAskAssessmentAnswer(), make_tracker(slots=result), domain)
    assert msgs[0]["text"].startswith(f"Question 3/{len(skill.items)}")
    assert skill.items[2].self_text in msgs[0]["text"]


def test_a_skill_outside_the_profile_is_refused(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    result = validate(ch.ValidateAssessmentForm(), make_tracker(slots={"consent": "oui"}), domain,
                      "assessment_skill", "la créativité du poulpe")
    assert result == {"assessment_skill": None}
    assert texts(validate.messages) == [messages.SKILL_NOT_OFFERED]  # type: ignore[attr-defined]


# --- levels and badges --------------------------------------------------------------------------


def test_self_assessment_alone_never_certifies(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    answer_all("rigueur", 3)
    progress = challenge.progress(services.store(), services.issuer(), services.referentiel().get("rigueur"),
                                  services.scoring_rules(), SENDER)
    assert progress.result.level == "en_progression" and progress.badge is None
    assert services.store().badges_of(SENDER) == []


def test_two_referents_make_an_expert_badge_once(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    answer_all("rigueur", 3)
    first = referent("rigueur", 2)
    msgs, _ = run(ch.ActionReferentAnswered(),
                  make_tracker(slots={"consent": "oui"}, intent="EXTERNAL_referent_answered",
                               entities=[{"entity": "invitation", "value": str(first)}]), domain)
    assert texts(msgs)[0] == "Karim, ton coach, a répondu ! 🎉"
    [badge] = services.store().badges_of(SENDER)
    assert badge.level == "confirme"
    assert "parles-en avec eux" in msgs[1]["text"]  # self 100 vs referent 67: shown
    assert msgs[2]["image"].endswith(f"/badges/{badge.id}/image.png")
    assert f"/badges/{badge.id}/linkedin" in msgs[3]["text"]
    payload = decode_unverified(badge.jwt)
    assert payload["credentialSubject"]["achievement"]["name"].endswith("confirmé")
    assert services.issuer().verify(badge.jwt).ok

    second = referent("rigueur", 3, name="Léa", relation="tuteur")
    msgs, _ = run(ch.ActionReferentAnswered(),
                  make_tracker(slots={"consent": "oui"}, entities=[{"entity": "invitation", "value": str(second)}]),
                  domain)
    assert texts(msgs)[0] == "Léa, ton tuteur de stage, a répondu ! 🎉"
    levels = sorted(b.level for b in services.store().badges_of(SENDER))
    assert levels == ["confirme", "expert"]
    # nothing new: a third look issues nothing more
    again = challenge.progress(services.store(), services.issuer(), services.referentiel().get("rigueur"),
                               services.scoring_rules(), SENDER)
    assert not again.new_badge and again.badge.level == "expert"
    msgs, _ = run(ch.ActionShowMyBadges(), make_tracker(slots={"consent": "oui"}), domain)
    assert sum(1 for m in msgs if m.get("image")) == 2


def test_referent_answer_before_the_self_test_says_what_is_missing(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    inv = referent("rigueur", 3)
    msgs, _ = run(ch.ActionReferentAnswered(),
                  make_tracker(slots={"consent": "oui"}, entities=[{"entity": "invitation", "value": str(inv)}]),
                  domain)
    assert "finir ton propre test" in texts(msgs)[-1]
    assert services.store().badges_of(SENDER) == []


def test_disagreement_is_shown_not_hidden(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    answer_all("rigueur", 3)
    referent("rigueur", 1)
    progress = challenge.progress(services.store(), services.issuer(), services.referentiel().get("rigueur"),
                                  services.scoring_rules(), SENDER)
    assert progress.result.disagreement
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    ch._report(dispatcher, progress)
    assert "parles-en avec eux" in dispatcher.messages[0]["text"]


def test_unknown_or_foreign_invitation_is_ignored(app_db, make_tracker, domain) -> None:
    consent()
    consent("someone-else")
    confirm("rigueur", "someone-else")
    token, info = services.store().create_invitation("someone-else", "Karim", "coach", ["rigueur"])
    for value in [str(info.id), "999", "abc", None]:
        entities = [{"entity": "invitation", "value": value}] if value else []
        msgs, events = run(ch.ActionReferentAnswered(), make_tracker(entities=entities), domain)
        assert msgs == [] and events == []


def test_no_badges_yet(app_db, make_tracker, domain) -> None:
    consent()
    msgs, _ = run(ch.ActionShowMyBadges(), make_tracker(slots={"consent": "oui"}), domain)
    assert texts(msgs) == [messages.no_badges()]


def test_erasure_revokes_issued_badges(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    answer_all("rigueur", 3)
    referent("rigueur", 3)
    progress = challenge.progress(services.store(), services.issuer(), services.referentiel().get("rigueur"),
                                  services.scoring_rules(), SENDER)
    token = progress.badge.jwt
    assert services.issuer().verify(token).ok
    services.store().erase_person(SENDER)
    assert services.issuer().verify(token).reason == "revoked"


def test_linkedin_url_has_the_certification_fields() -> None:
    from datetime import datetime, timezone
    from urllib.parse import parse_qs, urlsplit

    url = challenge.linkedin_url("🎯 Rigueur — confirmé", datetime(2026, 11, 25, tzinfo=timezone.utc),
                                 "https://atouts.example.org/badges/abc", "abc")
    parts = urlsplit(url)
    assert parts.netloc == "www.linkedin.com" and parts.path == "/profile/add"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {"startTask": "CERTIFICATION_NAME", "name": "🎯 Rigueur — confirmé",
                     "organizationName": "Atouts", "issueYear": "2026", "issueMonth": "11",
                     "certUrl": "https://atouts.example.org/badges/abc", "certId": "abc"}


# --- referents --------------------------------------------------------------------------------


def test_invite_form_collects_name_relation_skills_and_own_name(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    confirm("autonomie")
    msgs, events = run(ch.ActionStartInvite(), make_tracker(slots={"consent": "oui"}), domain)
    slots: Dict[str, Any] = {"consent": "oui", **slots_of(events)}
    assert slots["invite_status"] == "ready" and slots["referent_skills"] is None
    form = ch.ValidateInviteForm()
    assert required(form, make_tracker(slots=slots), domain) == [
        "referent_name", "referent_relation", "referent_skills", "first_name"]
    assert validate(form, make_tracker(slots=slots, text="euh je sais pas trop"), domain, "referent_name",
                    "euh je sais pas trop") == {"referent_name": None}
    slots.update(validate(form, make_tracker(slots=slots, text="c'est Karim"), domain, "referent_name", "c'est Karim"))
    assert slots["referent_name"] == "Karim"
    msgs, _ = run(ch.ActionAskReferentRelation(), make_tracker(slots=slots), domain)
    assert msgs[0]["text"] == "Karim, c'est qui pour toi ?" and len(msgs[0]["buttons"]) == 8
    slots.update(validate(form, make_tracker(slots=slots, text="mon entraîneur de judo"), domain,
                          "referent_relation", "mon entraîneur de judo"))
    assert slots["referent_relation"] == "coach"
    msgs, _ = run(ch.ActionAskReferentSkills(), make_tracker(slots=slots), domain)
    assert msgs[0]["buttons"][-2]["payload"] == '/choose{"skill":"toutes"}'
    tracker = make_tracker(slots=slots, entities=[{"entity": "skill", "value": "toutes"}])
    slots.update(validate(form, tracker, domain, "referent_skills", '/choose{"skill":"toutes"}'))
    assert sorted(slots["referent_skills"]) == ["autonomie", "rigueur"]
    msgs, _ = run(ch.ActionAskFirstName(), make_tracker(slots=slots, active_loop="invite_form"), domain)
    # no « Passer » here (the referent page needs a name), only the way out
    assert "Karim" in msgs[0]["text"] and msgs[0].get("buttons") == [STOP_BUTTON]
    slots.update(validate(form, make_tracker(slots=slots, text="Inès"), domain, "first_name", "Inès"))
    assert slots["first_name"] == "Inès"
    assert services.store().export_person(SENDER)["person"]["first_name"] == "Inès"
    msgs, events = run(ch.ActionCreateInvitation(), make_tracker(slots=slots), domain)
    assert "Karim" in msgs[0]["text"] and "30 jours" in msgs[0]["text"]
    url = msgs[1]["text"]
    assert url.startswith("https://atouts.example.org/referent/") and len(url.rsplit("/", 1)[1]) >= 43
    [info] = services.store().invitations_of(SENDER)
    assert info.relation == "coach" and info.state == "open"
    assert all(v is None for v in slots_of(events).values())


def test_invite_with_one_skill_presets_it(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    _, events = run(ch.ActionStartInvite(), make_tracker(slots={"consent": "oui"}), domain)
    assert slots_of(events)["referent_skills"] == ["rigueur"]


def test_manage_invitations_lists_and_revokes(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    store = services.store()
    _, open_one = store.create_invitation(SENDER, "Karim", "coach", ["rigueur"])
    referent("rigueur", 2, name="Léa", relation="enseignant")
    msgs, _ = run(ch.ActionManageInvitations(), make_tracker(), domain)
    assert "Karim (ton coach) : en attente" in msgs[0]["text"]
    assert "Léa (ton prof) : a répondu ✅" in msgs[0]["text"]
    assert msgs[1]["buttons"] == [{"title": "Annuler le lien de Karim",
                                   "payload": '/manage_invitations{"invitation":"%d"}' % open_one.id}]
    tracker = make_tracker(entities=[{"entity": "invitation", "value": str(open_one.id)}])
    msgs, _ = run(ch.ActionManageInvitations(), tracker, domain)
    assert texts(msgs) == [messages.invitation_revoked("Karim")]
    assert store.invitations_of(SENDER)[0].state == "revoked"
    # someone else's id: just the list, nothing revoked
    consent("other")
    msgs, _ = run(ch.ActionManageInvitations(), make_tracker(sender_id="other", entities=[
        {"entity": "invitation", "value": str(open_one.id)}]), domain)
    assert texts(msgs) == [messages.invitations_list([])]


@pytest.mark.parametrize("text, relation", [
    ("ma tutrice de stage", "tuteur"), ("le patron du snack", "employeur"), ("Prof", "enseignant"),
    ("responsable bénévole aux restos du coeur", "responsable_benevole"), ("ma voisine", "autre"),
])
def test_relations_typed(text: str, relation: str) -> None:
    from bot.conversation import relation_from_text

    assert relation_from_text(text) == relation


def test_invite_message_presets_the_relationship_not_an_old_skill(app_db, make_tracker, domain) -> None:
    consent()
    confirm("rigueur")
    confirm("autonomie")
    # the `skill` slot still holds an old value: only this message counts
    tracker = make_tracker(slots={"consent": "oui", "skill": "rigueur"}, text="je veux inviter mon coach de boxe",
                           intent="invite_referent")
    events = slots_of(run(ch.ActionStartInvite(), tracker, domain)[1])
    assert events["referent_relation"] == "coach" and events["referent_skills"] is None


def test_stray_choice_old_button_or_lone_word(app_db, make_tracker, domain) -> None:
    msgs, _ = run(ch.ActionStrayChoice(), make_tracker(text='/choose{"scale":"2"}', intent="choose"), domain)
    assert texts(msgs) == [messages.OLD_BUTTON] and msgs[0]["buttons"] == messages.STRAY_BUTTONS
    history = [{"event": "bot", "text": messages.OLD_BUTTON}]
    msgs, _ = run(ch.ActionStrayChoice(), make_tracker(text='/choose{"scale":"2"}', intent="choose", history=history),
                  domain)
    assert texts(msgs) == [messages.OLD_BUTTON_AGAIN] and msgs[0]["buttons"] == messages.STRAY_BUTTONS
    msgs, _ = run(ch.ActionStrayChoice(), make_tracker(text="Clément", intent="choose"), domain)
    assert texts(msgs) == [messages.REPHRASE]

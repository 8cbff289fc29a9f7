"""No dead ends (issue 9), over HTTP on the trained model: menu requests and old
buttons inside a form, typed yes/no, pause and « reprendre », typed consent
refusal, menu words as a first name, one-word answers, a way out in every form.

The transcripts come from the issue's test sessions; none of these sentences is in
the training data."""
from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any, Dict, List

import pytest

pytestmark = pytest.mark.e2e

STORY = (
    "L'été dernier j'ai bossé à la caisse d'un supermarché. Je recomptais toujours ma caisse "
    "deux fois avant de la rendre et je vérifiais chaque ticket. Un jour il manquait 10 euros, "
    "j'ai retrouvé l'erreur en reprenant tous les tickets un par un."
)
FOLLOW_UPS = ["Je tenais la caisse et je faisais les comptes le soir.", "Pas de difficulté particulière",
              "Au final mon chef m'a félicitée et m'a confié la caisse principale."]
TOO_SHORT = "Dis-m'en un peu plus"
STORY_QUESTION = "Raconte-moi une expérience"


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def payloads(messages: List[Dict[str, Any]]) -> List[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]


def new_sender() -> str:
    return f"rest:e2e-unstuck-{uuid.uuid4().hex[:8]}"  # REST ids are rest:<sender> (the store sees that)


def onboard(client, sender: str, consent: str = "/affirm") -> List[Dict[str, Any]]:
    """Welcome, privacy answer, no first name: the story question comes."""
    client.say(sender, "/greet")
    client.say(sender, consent)
    asked = client.say(sender, "/skip")
    assert STORY_QUESTION in texts(asked), asked
    return asked


def confirm_a_skill(client, sender: str) -> None:
    onboard(client, sender)
    answers = iter(FOLLOW_UPS)
    messages = client.say(sender, STORY)
    for _ in range(12):
        if "Tu te reconnais" in texts(messages):
            messages = client.say(sender, "/affirm")
        elif "Bravo 🎉" in texts(messages):
            return
        else:
            messages = client.say(sender, next(answers))
    pytest.fail(f"no confirmed skill: {texts(messages)}")


def start_test(client, sender: str) -> List[Dict[str, Any]]:
    messages = client.say(sender, "/start_assessment")
    offered = [p for p in payloads(messages) if p.startswith('/choose{"skill"')]
    if offered:
        messages = client.say(sender, offered[0])
    assert "Question 1/" in texts(messages), texts(messages)
    return messages


def finish_test(client, sender: str, messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    for _ in range(30):
        text = texts(messages)
        if "Bravo, tu as fini le test" in text:
            return messages
        if "exemple concret" in text:
            messages = client.say(sender, "/skip")
        else:
            messages = client.say(sender, '/choose{"scale":"2"}')
    pytest.fail(f"the questionnaire did not end: {texts(messages)}")


def test_menu_requests_and_buttons_inside_the_story_leave_or_say_so(client):
    sender = new_sender()
    onboard(client, sender)
    replies = []
    tested = client.say(sender, "tester")  # a menu request: the test (none yet: says why)
    replies.append(tested)
    assert "repérer" in texts(tested) and TOO_SHORT not in texts(tested), tested
    assert "de côté" in texts(tested)
    resumed = client.say(sender, "reprendre")  # the story form comes back
    replies.append(resumed)
    assert STORY_QUESTION in texts(resumed), resumed
    stale = client.say(sender, '/choose{"skill":"rigueur"}')  # a skill button of an old message
    replies.append(stale)
    assert "plus valable" in texts(stale), stale
    replies.append(client.say(sender, "souvent"))
    replies.append(client.say(sender, "/affirm"))  # « Oui, c'est moi » from an earlier story
    replies.append(client.say(sender, "mes compétences"))
    assert all(TOO_SHORT not in texts(r) for r in replies), [texts(r) for r in replies]


@pytest.mark.parametrize("typed", ["oui", "ouais vas y"])
def test_typed_yes_to_tu_veux_l_inviter_continues_the_invitation(client, typed):
    sender = new_sender()
    confirm_a_skill(client, sender)
    done = finish_test(client, sender, start_test(client, sender))
    assert "Tu veux l'inviter ?" in texts(done), texts(done)
    invited = client.say(sender, typed)
    assert "Qui veux-tu inviter" in texts(invited), texts(invited)
    assert "comprends" not in texts(invited)


def test_reprendre_after_pausing_the_test_resumes_it_and_is_never_a_story(client, store):
    sender = new_sender()
    confirm_a_skill(client, sender)
    messages = start_test(client, sender)
    messages = client.say(sender, '/choose{"scale":"1"}')  # « Parfois »: no example asked
    assert "Question 2/" in texts(messages), texts(messages)
    paused = client.say(sender, "stop")
    assert "reprendre" in texts(paused) and "/resume" in payloads(paused), paused
    resumed = client.say(sender, "reprendre")
    assert "Question 2/" in texts(resumed), texts(resumed)
    assert STORY_QUESTION not in texts(resumed)
    # the same, from inside a new story: « non je veux reprendre le test »
    client.say(sender, "stop")
    stories = len(store.export_person(sender)["experiences"])
    story = client.say(sender, "/want_to_tell")
    assert STORY_QUESTION in texts(story)
    back = client.say(sender, "non je veux reprendre le test")
    assert "Question 2/" in texts(back) or any(p.startswith('/choose{"skill"') for p in payloads(back)), back
    assert TOO_SHORT not in texts(back)
    assert len(store.export_person(sender)["experiences"]) == stories


def test_reprendre_with_nothing_put_aside_offers_the_menu(client):
    sender = new_sender()
    menu = client.say(sender, "reprendre")
    assert "/want_to_tell" in payloads(menu), menu
    sender = new_sender()
    onboard(client, sender)
    client.say(sender, "stop")
    client.say(sender, "c'est quoi la rigueur ?")
    again = client.say(sender, "/resume")  # the button of the pause message
    assert STORY_QUESTION in texts(again), again


REFUSALS = ["non merci", "nan je préfère pas", "jsuis pas d'accord",  # the words
            "nan je veux pas que tu gardes mes données", "pas question que tu gardes ça"]


def test_a_typed_refusal_of_consent_is_a_refusal(client, store):
    for refusal in REFUSALS:
        sender = new_sender()
        client.say(sender, "/greet")
        answer = client.say(sender, refusal)
        assert "Je ne garde rien" in texts(answer), (refusal, texts(answer))
        assert "t'appelle" in texts(answer), refusal
        assert store.export_person(sender)["person"] is None


def test_mes_competences_is_not_a_first_name(client, store):
    sender = new_sender()
    client.say(sender, "/greet")
    client.say(sender, "/affirm")
    reply = client.say(sender, "mes compétences")
    assert "Mes compétences" not in texts(reply), texts(reply)
    assert "profil" in texts(reply), texts(reply)
    person = store.export_person(sender)["person"]
    assert person is None or not person.get("first_name"), person


def test_one_word_answers_never_get_the_same_question_a_third_time(client):
    sender = new_sender()
    said = Counter(m.get("text") for m in onboard(client, sender))
    for word in ("foot", "jsp", "attaquant", "jsp", "foot"):
        reply = client.say(sender, word)
        assert reply, word
        said.update(m.get("text") for m in reply)
    repeated = {text: n for text, n in said.items() if n > 2}
    assert not repeated, repeated


def test_an_old_button_inside_a_form_says_it_is_no_longer_valid(client):
    sender = new_sender()
    client.say(sender, "/greet")
    client.say(sender, "/affirm")
    stale = client.say(sender, '/choose{"scale":"2"}')  # a test answer, at the first-name question
    assert "plus valable" in texts(stale), texts(stale)
    assert "t'appelle" in texts(stale)  # and the question again
    out = client.say(sender, '/choose{"relation":"coach"}')
    assert "plus valable" in texts(out) or "t'appelle" in texts(out)


def _has_way_out(message: Dict[str, Any]) -> bool:
    return "/stop" in payloads([message]) or "stop" in (message.get("text") or "").lower()


def test_every_form_question_has_a_way_out(client):
    """Walks through every form; each question carries a way out; « stop » gets out."""
    sender = new_sender()
    questions = [client.say(sender, "/greet"),                      # consent_form
                 client.say(sender, "/affirm"),                     # name_form
                 client.say(sender, "/skip")]                       # experience_form
    messages = client.say(sender, STORY)
    answers = iter(FOLLOW_UPS)
    for _ in range(12):                                             # ... confirm_skills_form
        if "Bravo 🎉" in texts(messages):
            break
        questions.append(messages)
        messages = client.say(sender, "/affirm" if "Tu te reconnais" in texts(messages) else next(answers))
    pauses = []
    questions.append(start_test(client, sender))                   # assessment_form
    pauses.append(client.say(sender, "stop"))
    questions.append(client.say(sender, "/invite_referent"))       # invite_form
    questions.append(client.say(sender, "Karim"))
    pauses.append(client.say(sender, "stop"))
    questions.append(client.say(sender, "/find_resources"))        # resources_form
    pauses.append(client.say(sender, "stop"))
    questions.append(client.say(sender, "/find_missions"))         # missions_form
    pauses.append(client.say(sender, "stop"))
    questions.append(client.say(sender, "/delete_my_data"))        # delete_form
    assert len(questions) >= 10
    missing = [texts(m) for m in questions if not _has_way_out(m[-1])]
    assert not missing, missing
    for paused in pauses:  # each pause says how to come back, with a button
        assert "reprendre" in texts(paused) and "/resume" in payloads(paused), paused
    kept = client.say(sender, "stop")
    assert "je ne touche à rien" in texts(kept).lower(), kept


STORIES_WITHOUT_ANSWERING = [  # told at different moments, never answering the privacy question
    "j'ai gardé ma petite sœur tout l'été, je lui faisais à manger",
    "je suis capitaine de mon équipe de basket, j'ai remotivé tout le monde après 3 défaites",
    "ma grand-mère est tombée malade, je faisais ses courses chaque semaine",
    "au lycée j'ai monté un club de jeux de société avec deux potes",
]


def test_an_unanswered_privacy_question_is_not_asked_a_fourth_time(client, store):
    """Fuzzer walks: a person who keeps telling stories (and leaving) got the whole
    privacy notice three times. Twice as written, once with plain choices, then no
    answer is a « no » — said plainly, with the words to change one's mind."""
    sender = new_sender()
    said: Counter = Counter()
    replies = []
    for story in STORIES_WITHOUT_ANSWERING:
        reply = client.say(sender, story)
        replies.append(texts(reply))
        said.update(m.get("text") for m in reply)
        client.say(sender, "stop")  # leaves the question, as the walks did
    assert not {t: n for t, n in said.items() if n > 2}, said
    assert "Je te la pose autrement" in replies[2], replies[2]
    assert "garde mes données" in replies[3] and "je ne garde rien" in replies[3], replies[3]
    assert "t'appelle" in replies[3], replies[3]  # the conversation goes on
    assert store.export_person(sender)["person"] is None


def test_consent_can_be_given_later(client, store):
    sender = new_sender()
    client.say(sender, "/greet")
    client.say(sender, "non merci")
    client.say(sender, "Inès")
    assert store.export_person(sender)["person"] is None
    reply = client.say(sender, "finalement tu peux garder mes données")
    assert "À partir de maintenant, je garde" in texts(reply), texts(reply)
    person = store.export_person(sender)["person"]
    assert person and person["consent_given"] and person["first_name"] == "Inès", (person, texts(reply))
    again = client.say(sender, "garde mes données")
    assert "déjà le cas" in texts(again), texts(again)


def test_a_negated_keep_my_data_is_never_consent(client, store):
    """« nan je veux pas que tu gardes mes données » has the words of « garde mes
    données »: it must never be read as consent, in the privacy question or later."""
    sender = new_sender()
    client.say(sender, "/greet")
    client.say(sender, "non")
    reply = client.say(sender, "je veux pas que tu gardes mes données")
    assert "À partir de maintenant" not in texts(reply), texts(reply)
    assert store.export_person(sender)["person"] is None

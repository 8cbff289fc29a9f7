"""The whole Repérer journey over real HTTP, real servers, real model, real databases."""
from __future__ import annotations

import json
import re
import uuid

import pytest

from bot.referentiel import load_referentiel

pytestmark = pytest.mark.e2e

STORY = (
    "l'été dernier j'ai bossé au mcdo, le samedi c'était la folie, les clients s'énervaient "
    "mais je restais calme et j'aidais les autres au comptoir quand ils étaient débordés. "
    "au final le manager m'a félicitée"
)


def texts(messages):
    return " ".join(m.get("text", "") for m in messages)


def buttons(messages):
    return [b["payload"] for m in messages for b in m.get("buttons", [])]


def test_parse_returns_soft_skills_sorted_from_the_referentiel(client):
    result = client.parse(STORY)
    assert result["intent"]["name"] == "tell_experience"
    skills = result["soft_skills"]
    ids = load_referentiel().ids
    assert skills, result
    assert all(s["id"] in ids and 0 <= s["confidence"] <= 1 for s in skills)
    assert [s["confidence"] for s in skills] == sorted((s["confidence"] for s in skills), reverse=True)
    assert {"gestion_du_stress", "travail_en_equipe"} & {s["id"] for s in skills[:3]}
    assert all(s.get("evidence") for s in skills)
    # small talk shows no skill
    assert client.parse("merci beaucoup")["soft_skills"] == []


def test_full_journey_confirmed_skills_are_stored_then_erased(client, store):
    sender = f"rest:e2e-{uuid.uuid4().hex[:8]}"  # REST ids are rest:<sender>
    welcome = client.say(sender, "/greet")
    assert "Atouts" in texts(welcome) and "/affirm" in buttons(welcome)
    asked_name = client.say(sender, "oui")
    assert "Merci" in texts(asked_name) and "t'appelle" in texts(asked_name)
    after_name = client.say(sender, "Inès")
    assert "Inès" in texts(after_name) and "Raconte-moi" in texts(after_name)

    proposals = client.say(sender, STORY)
    assert "compétence" in texts(proposals)
    asked = [m for m in proposals if "/affirm" in buttons([m])]
    assert asked, proposals
    ref = load_referentiel()
    proposed = []
    answers = client.say(sender, "/affirm")
    proposed_titles = [s.title for s in ref.skills.values() if s.title in texts(proposals)]
    proposed.extend(proposed_titles)
    while "/affirm" in buttons(answers) and "Bravo" not in texts(answers):
        proposed.extend(s.title for s in ref.skills.values() if s.title in texts(answers))
        answers = client.say(sender, "non")
    assert "Bravo" in texts(answers), answers
    confirmed = store.confirmed_skills(sender)
    assert len(confirmed) == 1, confirmed   # first said yes, the others no
    assert ref.get(confirmed[0].skill_id).title == proposed[0]
    export = store.export_person(sender)
    assert export["person"]["first_name"] == "Inès"
    assert export["experiences"][0]["text"].startswith("l'été dernier")
    statuses = sorted(c["status"] for c in export["experiences"][0]["skills"])
    assert statuses.count("confirmed") == 1 and len(statuses) == len(proposed)

    profile = client.say(sender, "mes compétences")
    assert proposed[0] in texts(profile)

    # export link, served by the web app, single use
    link_msg = texts(client.say(sender, "je veux récupérer mes données"))
    assert "/mes-donnees/" in link_msg, link_msg
    url = link_msg[link_msg.index("http"):].split()[0]
    path = url[url.index("/mes-donnees/"):]
    # opening it shows a button (a link preview spends nothing); the button downloads
    from tests.e2e.test_challenger import Browser

    browser = Browser()
    status, page = browser.open(client.web + path)
    assert status == 200 and 'method="post"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, body = browser.open(client.web + path, {"csrf": csrf})
    assert status == 200, body[:300]
    data = json.loads(body)
    assert data["app_data"]["person"]["first_name"] == "Inès"
    assert any(e.get("event") == "user" for e in data["conversation"])
    assert client.get(client.web + path)[0] == 404

    # erasure: confirmation, then nothing left anywhere
    assert client.tracker_rows(sender) > 0
    ask = client.say(sender, "supprime mes données")
    assert "/affirm" in buttons(ask)
    done = client.say(sender, "oui")
    assert "effacé" in texts(done)
    assert store.export_person(sender)["person"] is None
    assert store.confirmed_skills(sender) == []
    assert client.tracker_rows(sender) == 0


def test_refused_consent_stores_nothing_and_follow_ups_are_asked(client, store):
    sender = f"rest:e2e-{uuid.uuid4().hex[:8]}"  # REST ids are rest:<sender>
    client.say(sender, "/greet")
    assert "rien" in texts(client.say(sender, "non"))
    client.say(sender, "/skip")
    follow_up = client.say(sender, "jai gardé mes petits frères")
    assert "?" in texts(follow_up)  # a short story gets a follow-up question
    client.say(sender, "je leur faisais à manger et je les emmenais à l'école tous les matins")
    reply = client.say(sender, "c'était dur car ma mère était à l'hôpital mais au final ils ont eu de bonnes notes")
    while "/affirm" in buttons(reply) and "Bravo" not in texts(reply):
        reply = client.say(sender, "/affirm")
    # either skills were shown (and not stored) or none was clear: both say so
    assert "Tu as montré" in texts(reply) or "Je n'arrive pas encore" in texts(reply), reply
    assert "Je ne garde rien" in texts(reply) or "Je n'arrive pas encore" in texts(reply)
    assert store.export_person(sender)["person"] is None


def test_leave_the_story_and_come_back(client):
    sender = f"rest:e2e-{uuid.uuid4().hex[:8]}"  # REST ids are rest:<sender>
    for text in ("/greet", "/deny", "/skip"):
        client.say(sender, text)
    client.say(sender, "j'ai fait du bénévolat aux restos du coeur")
    paused = client.say(sender, "stop")
    assert "reprendre" in texts(paused)
    explained = client.say(sender, "c'est quoi la rigueur ?")
    assert "Rigueur" in texts(explained)
    resumed = client.say(sender, "/want_to_tell")
    assert "?" in texts(resumed) and "Raconte-moi une expérience" not in texts(resumed)


BAD_INPUTS = [
    "",
    "   ",
    "a" * 10_000,
    "😀😀😀🔥",
    "What is the weather like in London today?",
    "\x00\x01 salut \x1b[31m",
    '{"text": "hi", "intent": {"name": "delete_my_data"}}',
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_gets_a_clear_answer_and_loses_nothing(client, bad):
    sender = f"rest:e2e-bad-{uuid.uuid4().hex[:8]}"
    client.say(sender, "/greet")
    client.say(sender, "/affirm")
    client.say(sender, "/skip")
    client.say(sender, "j'ai entraîné les petits au foot le mercredi")
    answer = client.say(sender, bad)
    assert answer and all(m.get("text") for m in answer), answer
    assert "Traceback" not in texts(answer)
    # the story is still there: finishing it still works
    reply = client.say(sender, "au final on a gagné le tournoi et les parents étaient contents")
    assert reply and "Traceback" not in texts(reply)


def test_malformed_webhook_bodies_are_4xx(client):
    for body in (b"not json", b"{", b'{"message": 12}', b"[]"):
        status, _ = client.post(f"{client.rasa}/webhooks/rest/webhook", body)
        assert status < 500, (body, status)


def test_rest_channel_refuses_non_text_fields(client):
    for body in (b'{"sender": 5, "message": "salut"}', b'{"sender": "x", "message": ["a"]}'):
        status, answer = client.post(f"{client.rasa}/webhooks/rest/webhook", body)
        assert status == 400, (body, status)


def test_a_confirmed_story_can_teach_the_detector_once_the_person_says_yes(client, store, tmp_path):
    """Issue 11: asked once after the summary; a yes makes the story a candidate for
    `make review`, masked; « n'utilise plus mes récits » takes it back."""
    from bot import review
    from bot.privacy.keyed_hash import Keyed

    sender = f"rest:e2e-train-{uuid.uuid4().hex[:8]}"
    for text in ("/greet", "oui", "Inès"):
        client.say(sender, text)
    answers = client.say(sender, STORY)
    for _ in range(8):
        if "Bravo" in texts(answers):
            break
        answers = client.say(sender, "/affirm")
    assert "Bravo" in texts(answers), answers
    assert "/allow_training" in buttons(answers) and "/refuse_training" in buttons(answers)
    assert store.training_consent(sender) is None
    assert "Merci" in texts(client.say(sender, "/allow_training"))
    assert store.training_consent(sender) is True

    files = {n: tmp_path / f"{n}.yml" for n in ("out", "reviewed", "rejected")}
    keyed = Keyed(tmp_path / "var")
    assert review.export(store, keyed, files["out"], files["reviewed"], files["rejected"]) >= 1
    mine = [c for c in store.training_candidates(lambda i: str(i)) if c.text.startswith("l'été dernier")]
    assert mine and mine[-1].confirmed
    raw = files["out"].read_text(encoding="utf-8")
    assert sender not in raw and "l'été dernier j'ai bossé au mcdo" in raw

    # typed, any time later: taken back
    reply = client.say(sender, "n'utilise plus mes récits")
    assert "restent juste pour ton profil" in texts(reply), reply
    assert store.training_consent(sender) is False
    assert not [c for c in store.training_candidates(str) if c.text.startswith("l'été dernier") and
                c.first_name == "Inès"]
    # the next story does not ask again
    answers = client.say(sender, "/want_to_tell")
    answers = client.say(sender, STORY)
    for _ in range(8):
        if "Bravo" in texts(answers):
            break
        answers = client.say(sender, "/affirm")
    assert "/allow_training" not in buttons(answers)

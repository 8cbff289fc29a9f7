"""Progresser end to end, over HTTP against the real servers and the trained model:
from « je veux progresser » to a resource marked done and missions proposed (through
a local fake of the API Engagement), the follow-up reminder firing and leading to a
new story; opting out and erasing the data stop the reminders."""
from __future__ import annotations

import json
import re
import time
from typing import Any, Dict, List

import pytest

from tests.e2e.test_challenger import buttons, reach_confirmed_skills, texts

pytestmark = pytest.mark.e2e

FOLLOW_UP_WAIT = 25  # the stack's ATOUTS_FOLLOW_UP_SECONDS is 4 s


def events(client, sender: str) -> List[Dict[str, Any]]:
    status, body, _ = client.get(f"{client.rasa}/conversations/{sender}/tracker")
    assert status == 200
    return json.loads(body)["events"]


def bot_said(client, sender: str) -> List[str]:
    return [e.get("text") or "" for e in events(client, sender) if e.get("event") == "bot"]


def wait_for(client, sender: str, needle: str, timeout: float = FOLLOW_UP_WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(needle in t for t in bot_said(client, sender)):
            return
        time.sleep(0.5)
    pytest.fail(f"the bot never said {needle!r}")


def ask_resources(client, sender: str) -> List[Dict[str, Any]]:
    messages = client.say(sender, "je veux progresser")
    if "Quelle compétence" in texts(messages):
        choice = [b["payload"] for b in buttons(messages) if b["payload"].startswith("/choose")][0]
        messages = client.say(sender, choice)
    if "tu préfères quoi" in texts(messages):
        messages = client.say(sender, '/choose{"kind":"video"}')
    if "combien de temps" in texts(messages):
        messages = client.say(sender, "30 minutes")
    return messages


def test_resources_done_missions_and_the_follow_up_back_to_a_story(client, store, fake_engagement) -> None:
    sender = "rest:e2e-progresser"  # REST ids are rest:<sender>
    reach_confirmed_skills(client, sender)
    messages = client.say(sender, "je veux progresser")
    assert "Quelle compétence" in texts(messages) or "tu préfères quoi" in texts(messages), texts(messages)
    assert "Choisis" not in texts(messages), texts(messages)  # no complaint about what was not asked yet
    if "Quelle compétence" in texts(messages):
        messages = client.say(sender, [b["payload"] for b in buttons(messages) if b["payload"].startswith("/choose")][0])
    assert "tu préfères quoi" in texts(messages)
    messages = client.say(sender, '/choose{"kind":"video"}')
    assert "combien de temps" in texts(messages)
    messages = client.say(sender, "30 minutes")
    cards = [m for m in messages if any("resource_feedback" in b["payload"] for b in m.get("buttons") or [])]
    assert len(cards) == 3, texts(messages)
    assert all(re.search(r"https://\S+", m["text"]) and "👉" in m["text"] for m in cards)
    assert "Je te relance dans" in texts(messages)
    prefs = store.progress_prefs(sender)
    assert prefs.kinds == ("video",) and prefs.max_minutes == 30  # asked once, remembered
    assert sorted(prefs.history.values()) == ["proposed"] * 3

    messages = client.say(sender, "oui")  # the follow-up is welcome
    assert "Je te relance dans" in texts(messages)
    done = [b["payload"] for b in cards[0]["buttons"] if '"done"' in b["payload"]][0]
    messages = client.say(sender, done)
    assert "Bravo pour" in texts(messages)
    resource_id = json.loads(done[len("/resource_feedback"):])["resource"]
    assert store.progress_prefs(sender).history[resource_id] == "done"

    # the next proposal never brings back what was done; format and time are not asked again
    messages = client.say(sender, "/find_resources")
    if "Quelle compétence" in texts(messages):
        messages = client.say(sender, [b["payload"] for b in buttons(messages) if b["payload"].startswith("/choose")][0])
    assert "tu préfères quoi" not in texts(messages) and "combien de temps" not in texts(messages)
    assert resource_id not in json.dumps(messages)

    # missions, through the (fake) API Engagement
    messages = client.say(sender, "je cherche une mission de bénévolat")
    assert "Choisis" not in texts(messages) and "Donne-moi" not in texts(messages), texts(messages)
    if "Quelle compétence" in texts(messages):
        messages = client.say(sender, [b["payload"] for b in buttons(messages) if b["payload"].startswith("/choose")][0])
    assert "code postal" in texts(messages)
    messages = client.say(sender, "69003")
    assert "moins de 18 ans" in texts(messages)
    messages = client.say(sender, "non")
    missions = [m for m in messages if "Postuler" in (m.get("text") or "")]
    assert len(missions) == 3, texts(messages)
    assert fake_engagement.requests, "the API Engagement was not called"
    assert store.progress_prefs(sender).department == "69"  # never more precise
    assert "69003" not in json.dumps(store.export_person(sender))

    # the reminder fires by itself and leads back to Repérer
    wait_for(client, sender, "Coucou 👋 Tu as pu essayer")
    experiences_before = len(store.export_person(sender)["experiences"])
    messages = client.say(sender, "/want_to_tell")
    assert "Raconte-moi une expérience" in texts(messages)
    messages = client.say(sender, "J'ai fait le bénévolat aux Restos du cœur : j'accueillais les familles, "
                                  "je m'organisais avec l'équipe pour que tout soit prêt à l'heure.")
    for _ in range(8):
        if "Tu te reconnais" in texts(messages):
            messages = client.say(sender, "/affirm")
        elif "Bravo 🎉" in texts(messages) or "On continue" in texts(messages):
            break
        else:
            messages = client.say(sender, "Au final les familles étaient contentes et on a tout servi.")
    assert len(store.export_person(sender)["experiences"]) == experiences_before + 1


def test_no_reminder_after_opting_out_or_erasing(client, store) -> None:
    for sender, stop in (("e2e-progresser-optout", "arrête de me relancer"),
                         ("e2e-progresser-erase", None)):
        reach_confirmed_skills(client, sender)
        messages = ask_resources(client, sender)
        assert "Je te relance dans" in texts(messages), texts(messages)
        client.say(sender, "oui")
        if stop:
            assert "plus de relances" in texts(client.say(sender, stop))
        else:
            client.say(sender, "supprime mes données")
            assert "J'ai tout effacé" in texts(client.say(sender, "/affirm"))
    time.sleep(10)  # more than twice the follow-up delay
    for sender in ("e2e-progresser-optout", "e2e-progresser-erase"):
        fired = [e for e in events(client, sender)
                 if e.get("event") == "user" and (e.get("parse_data") or {}).get("intent", {}).get("name")
                 == "EXTERNAL_follow_up"]
        assert fired == [], sender  # the reminder was cancelled
    assert store.export_person("rest:e2e-progresser-erase")["person"] is None  # REST ids are rest:<sender>

"""Messenger end to end: signed webhook deliveries POSTed to the real Rasa server (our
connector), the bot's answers read from the fake Graph API (tests/fakes/graph.py).

The webhook answers 200 at once and handles the events in background tasks, so each
step waits for the turn to end in Rasa's tracker (or for the fake to receive a message)
rather than sleeping.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

from tests.e2e.test_challenger import FOLLOW_UPS, STORY
from tests.fakes.graph import (FakeGraph, batched, delivery, new_mid, new_psid, postback_event,
                               quick_reply_event, signed, sticker_event, text_event)

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
TEXT_ONLY = "Je ne lis que le texte pour l'instant 🙂"


class Messenger:
    """What Facebook does to our webhook, and what the person sees on their phone."""

    def __init__(self, client, fake: FakeGraph) -> None:
        self.client, self.fake = client, fake
        self.webhook = f"{client.rasa}/webhooks/messenger/webhook"

    def post(self, body: bytes, headers: Dict[str, str]) -> Tuple[int, bytes]:
        request = urllib.request.Request(self.webhook, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def deliver(self, body: Any) -> None:
        status, answer = self.post(*signed(body))
        assert (status, answer) == (200, b"EVENT_RECEIVED"), (status, answer[:200])

    def events(self, psid: str) -> List[Dict[str, Any]]:
        status, body, _ = self.client.get(f"{self.client.rasa}/conversations/fb:{psid}/tracker")  # namespaced id
        assert status == 200, body[:200]
        return json.loads(body).get("events") or []

    def said(self, psid: str) -> List[str]:
        """What Rasa received from the person, in order."""
        return [e.get("text") or "" for e in self.events(psid) if e.get("event") == "user"]

    def turns_done(self, psid: str, count: int, text: Optional[str] = None) -> bool:
        """Rasa has ``count`` user messages (those saying ``text`` when given) and listens."""
        events = self.events(psid)
        users = [e for e in events if e.get("event") == "user" and text in (None, e.get("text"))]
        last = events[-1] if events else {}
        return len(users) >= count and last.get("event") == "action" and last.get("name") == "action_listen"

    def wait(self, probe: Callable[[], Any], what: str) -> Any:
        return self.fake.wait_for(probe, timeout=TIMEOUT, what=what)

    def turn(self, psid: str, event: Dict[str, Any]) -> List[Dict[str, Any]]:
        """One event through the webhook; the messages the person got for it."""
        text = rasa_text(event)
        before_turns, before_msgs = self.said(psid).count(text), len(self.fake.messages(psid))
        self.deliver(delivery(event))
        self.wait(lambda: self.turns_done(psid, before_turns + 1, text), "the end of the turn")
        return self.fake.messages(psid)[before_msgs:]

    def tap(self, psid: str, messages: List[Dict[str, Any]], payload: str) -> List[Dict[str, Any]]:
        """Tap the quick reply carrying ``payload`` in the last messages."""
        reply = next((r for msg in messages for r in msg.get("quick_replies") or [] if r["payload"] == payload),
                     None)
        assert reply is not None, (payload, messages)
        return self.turn(psid, quick_reply_event(psid, reply["title"], reply["payload"]))


def rasa_text(event: Dict[str, Any]) -> str:
    """What Rasa receives for a messaging event: the payload of a tap, the typed text."""
    if "postback" in event:
        return event["postback"]["payload"]
    message = event["message"]
    return (message.get("quick_reply") or {}).get("payload") or message["text"].strip().lstrip("/")


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(msg.get("text") or "" for msg in messages)


def replies(messages: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    return [r for msg in messages for r in msg.get("quick_replies") or []]


@pytest.fixture()
def messenger(client, fake_graph: FakeGraph) -> Messenger:
    return Messenger(client, fake_graph)


def test_webhook_verification_handshake(messenger, fake_graph):
    def verify(token: str) -> Tuple[int, bytes]:
        query = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.verify_token": token,
                                        "hub.challenge": "1158201444"})
        status, body, _ = messenger.client.get(f"{messenger.webhook}?{query}")
        return status, body

    assert verify(fake_graph.verify_token) == (200, b"1158201444")
    assert verify("not-our-token")[0] == 403


def test_full_reperer_conversation_on_messenger(messenger, fake_graph, store):
    psid = new_psid()
    welcome = messenger.turn(psid, postback_event(psid, "/greet", title="Démarrer"))
    assert "Atouts" in texts(welcome)
    assert "/affirm" in [r["payload"] for r in replies(welcome)], welcome
    assert fake_graph.actions(psid)[:1] == ["typing_on"]

    asked_name = messenger.tap(psid, welcome, "/affirm")
    assert "t'appelle" in texts(asked_name)
    after_name = messenger.turn(psid, text_event(psid, "Inès"))
    assert "Raconte-moi" in texts(after_name)

    answers = iter(FOLLOW_UPS)
    messages = messenger.turn(psid, text_event(psid, STORY))
    proposals_seen = 0
    for _ in range(12):
        if "Bravo 🎉" in texts(messages):
            break
        if "Tu te reconnais" in texts(messages):
            proposals_seen += 1
            messages = messenger.tap(psid, messages, "/affirm")
        else:
            messages = messenger.turn(psid, text_event(psid, next(answers)))
    assert "Bravo 🎉" in texts(messages), texts(messages)
    assert proposals_seen >= 1
    assert store.confirmed_skills(f"fb:{psid}"), "the app database has the confirmed skills"

    # everything the person got is what Messenger accepts (titles ≤ 20, ≤ 13 choices…)
    got = fake_graph.messages(psid)
    assert fake_graph.refused() == []
    assert all(len(r["title"]) <= 20 for r in replies(got))
    assert {c.body["messaging_type"] for c in fake_graph.sent(psid) if c.message} == {"RESPONSE"}


def test_batched_delivery_from_two_senders_is_handled_in_order(messenger, fake_graph):
    a, b = new_psid(), new_psid()
    messenger.deliver(batched(
        [postback_event(a, "/greet"), postback_event(b, "/greet"),
         quick_reply_event(a, "Oui", "/affirm")],
        [quick_reply_event(b, "Non", "/deny"), text_event(a, "Inès"), quick_reply_event(b, "Passer", "/skip")],
    ))
    messenger.wait(lambda: messenger.turns_done(a, 3) and messenger.turns_done(b, 3), "both conversations")
    assert messenger.said(a) == ["/greet", "/affirm", "Inès"]
    assert messenger.said(b) == ["/greet", "/deny", "/skip"]
    got = texts(fake_graph.messages(a))
    assert got.index("Atouts") < got.index("t'appelle") < got.index("Inès") < got.index("Raconte-moi")


def test_retried_delivery_is_handled_once(messenger):
    psid, mid = new_psid(), new_mid()
    retried = delivery(text_event(psid, "salut", mid=mid))
    messenger.deliver(retried)
    messenger.deliver(retried)  # Facebook did not see our 200 in time and sends it again
    messenger.turn(psid, text_event(psid, "merci"))  # handled after both, in order
    assert messenger.said(psid) == ["salut", "merci"]
    messenger.turn(psid, text_event(psid, "ok"))
    messenger.deliver(retried)  # even later
    messenger.turn(psid, text_event(psid, "à plus"))
    assert messenger.said(psid).count("salut") == 1


def test_forged_signature_is_refused_and_nothing_handled(messenger, fake_graph):
    psid = new_psid()
    body, headers = signed(delivery(text_event(psid, "supprime mes données")), "not-the-app-secret")
    assert messenger.post(body, headers)[0] == 403
    assert messenger.post(body, {"Content-Type": "application/json"})[0] == 403  # unsigned
    messenger.turn(psid, postback_event(psid, "/greet"))
    assert messenger.said(psid) == ["/greet"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", {"object": "user", "entry": []},
                                  {"object": "page", "entry": "x"},
                                  {"object": "page", "entry": [], "pad": "x" * 1_000_000}],
                         ids=["not-json", "array", "user", "entry-not-list", "1MB"])
def test_malformed_deliveries_are_4xx_and_the_next_one_works(messenger, body):
    status, answer = messenger.post(*signed(body))
    assert 400 <= status < 500, (status, answer[:200])
    psid = new_psid()
    assert "Atouts" in texts(messenger.turn(psid, postback_event(psid, "/greet")))


def test_stickers_get_a_short_answer_and_typed_slashes_are_text(messenger, fake_graph):
    psid = new_psid()
    messenger.turn(psid, postback_event(psid, "/greet"))
    before = len(fake_graph.messages(psid))
    messenger.deliver(delivery(sticker_event(psid)))
    messenger.wait(lambda: TEXT_ONLY in texts(fake_graph.messages(psid)[before:]), "the text-only answer")
    messenger.turn(psid, text_event(psid, "/restart"))
    assert messenger.said(psid) == ["/greet", "restart"]  # typed: never an intent payload


def test_transient_graph_failures_are_retried_and_the_message_arrives(messenger, fake_graph):
    psid = new_psid()
    fake_graph.fail_next(1, "transient")
    fake_graph.fail_next(1, "outage")
    welcome = messenger.turn(psid, postback_event(psid, "/greet"))
    assert "Atouts" in texts(welcome)
    calls = [c for c in fake_graph.calls if c.recipient == psid and c.message]
    assert [c.status for c in calls[:3]] == [500, 503, 200]
    assert calls[0].body == calls[1].body == calls[2].body  # the same message, sent again


def test_referent_answer_reaches_messenger_proactively(messenger, fake_graph, store, client):
    from bot.referentiel import default_referentiel

    psid, skill = new_psid(), "rigueur"
    sender = f"fb:{psid}"  # the conversation id: namespaced per channel
    messenger.turn(psid, postback_event(psid, "/greet"))  # Messenger is the latest channel
    items = default_referentiel().get(skill).items
    store.migrate()  # a no-op: the action server already did it
    store.record_consent(sender, True, "v1", "messenger")
    store.set_first_name(sender, "Inès")
    experience = store.add_experience(sender, "J'ai tenu la caisse tout l'été.")
    store.add_skill_claim(sender, experience, skill, 0.8, "confirmed", "je recompte la caisse")
    store.open_self_assessment(sender, skill)
    for item in items:
        store.record_self_answer(sender, skill, item.id, 3)
    store.complete_self_assessment(sender, skill)
    token, invitation = store.create_invitation(sender, "Karim", "coach", [skill])
    outcome, _ = store.submit_referent(token, {skill: {item.id: 3 for item in items}}, {skill: "Très fiable."})
    assert outcome == "ok"
    # the referent confirmed their address (bot/web/referent_verify.py): the answers count
    assert store.start_verification(token, "k" * 64, "c" * 64) == "ok"
    assert store.confirm_verification(token, "c" * 64)[0] == "ok"

    before = len(fake_graph.messages(psid))
    status, body = client.post(
        f"{client.rasa}/conversations/{sender}/trigger_intent?output_channel=latest",
        json.dumps({"name": "EXTERNAL_referent_answered",
                    "entities": {"invitation": str(invitation.id)}}).encode())
    assert status == 200, body[:300]
    got = messenger.wait(lambda: [msg for msg in fake_graph.messages(psid)[before:]
                                  if "a répondu" in (msg.get("text") or "")], "the proactive message")
    assert "Karim, ton coach, a répondu ! 🎉" in got[0]["text"]
    proactive = [c for c in fake_graph.sent(psid) if c.message][before:]
    assert {c.body["messaging_type"] for c in proactive} == {"UPDATE"}
    attachments = [c.message["attachment"] for c in proactive if "attachment" in c.message]
    images = [a["payload"]["url"] for a in attachments if a["type"] == "image"]
    assert len(images) == 1 and images[0].endswith("/image.png"), proactive
    # the badge's links come as a button template: tappable, and kept in the thread
    [template] = [a["payload"] for a in attachments if a["type"] == "template"]
    assert template["template_type"] == "button"
    urls = [b["url"] for b in template["buttons"]]
    assert len(urls) == 2 and urls[1] == urls[0] + "/linkedin" and "/badges/" in urls[0]
    assert fake_graph.refused() == []
    # Graph took it: delivered live, never repeated under « Pendant ton absence… »
    notices = store.export_person(sender)["notices"]
    assert {n["kind"] for n in notices} == {"referent", "badge"}
    assert all(n["delivered_how"] == "live" for n in notices), notices

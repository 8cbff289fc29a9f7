"""The Messenger connector without Rasa: signature, parsing, shaping of the bot's
messages for Messenger's limits, the Graph retry policy, the webhook's handling of
batched / retried / failing deliveries, and the setup command — against the fake Graph
API of tests/fakes/graph.py (real HTTP).

pytest-asyncio is not used: each test runs its coroutine with asyncio.run.
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from bot.storage import Store
from channels import messenger as m
from channels.common import Deliveries
from tests.fakes.graph import (APP_SECRET, PAGE_TOKEN, FakeGraph, batched, delivery, echo_event, new_psid,
                               postback_event, quick_reply_event, read_event, signed, sticker_event,
                               text_event)


@pytest.fixture(scope="module")
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture()
def fake(graph: FakeGraph) -> FakeGraph:
    graph.reset()
    return graph


def settings_for(fake: FakeGraph) -> m.MessengerSettings:
    return m.MessengerSettings(page_token=fake.page_token, app_secret=fake.app_secret,
                               verify_token=fake.verify_token, graph_url=fake.url)


class Sleeps(list):
    """Records the backoff instead of waiting."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --- signature and verification -----------------------------------------------------------


def test_signature_is_hmac_sha256_of_the_raw_body():
    body, headers = signed(delivery(text_event("1", "salut")))
    assert m.signature_ok(APP_SECRET, body, headers["X-Hub-Signature-256"])
    assert m.sign(APP_SECRET, body) == headers["X-Hub-Signature-256"]
    # the same JSON re-serialised differently is not what was signed
    assert not m.signature_ok(APP_SECRET, json.dumps(json.loads(body), indent=1).encode(),
                              headers["X-Hub-Signature-256"])


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha1=abc", "sha256=" + "0" * 64, "sha256=é",
                                    "SHA256=" + "f" * 64])
def test_missing_or_wrong_signature_is_refused(header):
    body, _ = signed(delivery(text_event("1", "salut")))
    assert not m.signature_ok(APP_SECRET, body, header)


def test_no_app_secret_trusts_nothing():
    body, headers = signed(b"{}", "")
    assert not m.signature_ok("", body, headers["X-Hub-Signature-256"])


def test_verification_echoes_the_challenge_only_for_our_token():
    good = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert m.verify_subscription("tok", good) == "1158201444"
    assert m.verify_subscription("tok", {**good, "hub.verify_token": "nope"}) is None
    assert m.verify_subscription("tok", {**good, "hub.mode": "unsubscribe"}) is None
    assert m.verify_subscription("tok", {"hub.mode": "subscribe", "hub.challenge": "1"}) is None
    assert m.verify_subscription("", {**good, "hub.verify_token": ""}) is None  # not configured


# --- parsing deliveries -------------------------------------------------------------------


def test_every_event_of_every_entry_is_read_in_order():
    a, b = new_psid(), new_psid()
    body = batched(
        [text_event(a, "salut", mid="m_1"), read_event(a), echo_event(a, "Bonjour !"),
         quick_reply_event(b, "Oui", "/affirm", mid="m_2")],
        [postback_event(a, "/greet", mid="m_3"), sticker_event(b), text_event(b, "  /delete_my_data ")],
    )
    events = m.parse_delivery(json.dumps(body).encode())
    assert [(e.sender, e.kind, e.text) for e in events] == [
        (a, "text", "salut"), (b, "quick_reply", "/affirm"), (a, "postback", "/greet"),
        (b, "attachment", ""), (b, "text", "delete_my_data"),  # a typed "/" never makes an intent
    ]
    assert events[0].delivery_id == "m_1" and events[2].delivery_id == "m_3"
    assert events[0].page_id == "1234567890123456"


def test_postbacks_without_mid_get_a_stable_id():
    event = postback_event("42", "/greet")
    del event["postback"]["mid"]
    body = json.dumps(delivery(event)).encode()
    first, again = m.parse_delivery(body)[0], m.parse_delivery(body)[0]
    assert first.delivery_id == again.delivery_id and first.delivery_id.startswith("pb:")
    other = dict(event, timestamp=event["timestamp"] + 1)
    assert m.parse_delivery(json.dumps(delivery(other)).encode())[0].delivery_id != first.delivery_id


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe", b"[]", b'"page"', b"null",
                                  b'{"object": "user", "entry": []}', b'{"object": "page"}',
                                  b'{"object": "page", "entry": {}}'])
def test_malformed_deliveries_are_refused(body):
    with pytest.raises(m.BadDelivery):
        m.parse_delivery(body)


def test_odd_events_inside_a_good_delivery_are_skipped():
    body = {"object": "page", "entry": [
        "junk", {"id": "1"}, {"id": "1", "messaging": "x"},
        {"id": "1", "standby": [text_event("9", "pas pour nous")]},
        {"id": "1", "messaging": [None, {}, {"sender": {}}, {"sender": {"id": True}, "message": {}},
                                  {"sender": {"id": "7"}, "message": {"text": "sans mid"}},
                                  {"sender": {"id": "7"}, "postback": {"payload": ""}},
                                  text_event("7", "ok", mid="m_ok")]},
    ]}
    events = m.parse_delivery(json.dumps(body).encode())
    assert [(e.sender, e.text) for e in events] == [("7", "ok")]


def test_typed_text_is_capped_and_never_an_intent():
    assert m.user_text("//greet") == "greet"
    assert m.user_text("  salut ") == "salut"
    assert len(m.user_text("a" * 50_000)) == m.MAX_MESSAGE_CHARS


# --- shaping the bot's messages -------------------------------------------------------------


@pytest.mark.parametrize("title, short", [
    ("Oui, c'est moi", "Oui, c'est moi"),
    ("Force de proposition", "Force de proposition"),          # exactly 20
    ("Raconter une autre expérience", "Raconter une autre…"),  # at a word
    ("Qu'est-ce que tu sais faire ?", "Qu'est-ce que tu…"),
    ("Capacité de décision (à finir)", "Capacité de décisio…"),  # a word cut would say too little
    ("Anticonstitutionnellement!", "Anticonstitutionnel…"),
    ("Partager mon profil maintenant", "Partager mon profil…"),  # the cut falls between words
    ("  Gestion   du stress  ", "Gestion du stress"),
])
def test_titles_are_shortened_gracefully(title, short):
    assert m.short_title(title) == short
    assert len(m.short_title(title)) <= m.TITLE_LIMIT


def test_buttons_become_quick_replies():
    text, replies = m.quick_replies("Tu te reconnais ?", [
        {"title": "Oui, c'est moi", "payload": "/affirm"},
        {"title": "Pas vraiment", "payload": "/deny"},
        {"title": "Raconter une autre expérience", "payload": "/want_to_tell"},
    ])
    assert text == "Tu te reconnais ?"
    assert replies == [
        {"content_type": "text", "title": "Oui, c'est moi", "payload": "/affirm"},
        {"content_type": "text", "title": "Pas vraiment", "payload": "/deny"},
        {"content_type": "text", "title": "Raconter une autre…", "payload": "/want_to_tell"},
    ]


def test_more_than_13_choices_the_others_are_typed():
    buttons = [{"title": f"Choix numéro {i}", "payload": f"/choose{{\"n\":{i}}}"} for i in range(16)]
    text, replies = m.quick_replies("Lequel ?", buttons)
    assert len(replies) == 13 and [r["payload"] for r in replies] == [b["payload"] for b in buttons[:13]]
    assert text.startswith("Lequel ?") and m.TYPE_IT in text
    assert all(f"Choix numéro {i}" in text for i in (13, 14, 15))
    assert "Choix numéro 12" not in text


def test_a_payload_messenger_cannot_carry_is_typed_instead():
    text, replies = m.quick_replies("Alors ?", [{"title": "Oui", "payload": "/affirm"},
                                                {"title": "Long", "payload": "/x" + "a" * 1000},
                                                {"title": "", "payload": "/nothing"}])
    assert [r["title"] for r in replies] == ["Oui"]
    assert m.TYPE_IT in text and "• Long" in text and "/nothing" not in text


def test_titles_shortened_alike_stay_distinct():
    _, replies = m.quick_replies("?", [{"title": "Raconter une expérience de sport", "payload": "/a"},
                                       {"title": "Raconter une expérience de job", "payload": "/b"}])
    titles = [r["title"] for r in replies]
    assert len(set(titles)) == 2 and all(len(t) <= 20 for t in titles)


def test_long_texts_are_split_and_choices_go_with_the_last_piece():
    paragraph = "Une phrase assez longue pour remplir le message. " * 30
    text = "  \n".join([paragraph] * 3)  # markdown hard breaks, as the bot writes them
    replies = [{"content_type": "text", "title": "Oui", "payload": "/affirm"}]
    messages = m.text_messages(text, replies)
    assert len(messages) >= 3 and all(len(msg["text"]) <= m.TEXT_LIMIT for msg in messages)
    assert [("quick_replies" in msg) for msg in messages] == [False] * (len(messages) - 1) + [True]
    assert all("  \n" not in msg["text"] for msg in messages)
    assert m.text_messages("", replies) == [{"text": m.EMPTY_WITH_CHOICES, "quick_replies": replies}]
    assert m.text_messages("   ") == []


# --- Graph errors and retries ----------------------------------------------------------------


@pytest.mark.parametrize("status, payload, transient", [
    (500, {"error": {"code": 2, "is_transient": True, "type": "OAuthException"}}, True),
    (503, None, True),
    (429, {}, True),
    (400, {"error": {"code": 613, "type": "OAuthException"}}, True),
    (400, {"error": {"code": 4}}, True),
    (400, {"error": {"code": 17}}, True),
    (400, {"error": {"code": 341}}, True),
    (400, {"error": {"code": 1}}, True),
    (400, {"error": {"code": 999, "is_transient": True}}, True),
    (400, {"error": {"code": 100, "error_subcode": 2018001}}, False),
    (400, {"error": {"code": 190}}, False),
    (400, {"error": {"code": 551}}, False),
    (500, {"error": {"code": 100}}, False),  # a permanent code stays permanent
    (400, {"error": {"code": 10}}, False),
])
def test_transient_and_permanent_graph_errors(status, payload, transient):
    error = m.graph_error(status, payload)
    assert error is not None and error.transient is transient


def test_success_is_not_an_error():
    assert m.graph_error(200, {"recipient_id": "1", "message_id": "m_1"}) is None
    assert m.graph_error(200, {"error": {"code": 2}}) is not None


@pytest.mark.parametrize("mode", ["transient", "outage", "throttled"])
def test_transient_failures_are_retried_with_backoff(fake, mode):
    fake.fail_next(2, mode)
    sleeps = Sleeps()

    async def scenario() -> None:
        client = m.GraphClient(settings_for(fake), sleep=sleeps)
        try:
            await client.send("42", {"text": "Salut"}, "RESPONSE")
        finally:
            await client.close()

    asyncio.run(scenario())
    assert sleeps == [0.5, 2.0]
    assert [c.status for c in fake.calls][-1] == 200 and len(fake.calls) == 3
    assert fake.messages("42") == [{"text": "Salut"}]


def test_retries_give_up_after_three(fake):
    fake.fail_next(5, "transient")
    sleeps = Sleeps()

    async def scenario() -> None:
        client = m.GraphClient(settings_for(fake), sleep=sleeps)
        try:
            await client.send("42", {"text": "Salut"}, "RESPONSE")
        finally:
            await client.close()

    with pytest.raises(m.GraphError) as raised:
        asyncio.run(scenario())
    assert sleeps == [0.5, 2.0, 4.0] and len(fake.calls) == 4
    assert raised.value.code == 2 and raised.value.transient


@pytest.mark.parametrize("token, mode, code", [(PAGE_TOKEN, "permanent", 100), ("wrong-token", None, 190)])
def test_permanent_failures_are_not_retried(fake, token, mode, code):
    if mode:
        fake.fail_next(1, mode)
    sleeps = Sleeps()
    settings = m.MessengerSettings(token, APP_SECRET, "", fake.url)

    async def scenario() -> None:
        client = m.GraphClient(settings, sleep=sleeps)
        try:
            await client.send("42", {"text": "Salut"}, "RESPONSE")
        finally:
            await client.close()

    with pytest.raises(m.GraphError) as raised:
        asyncio.run(scenario())
    assert raised.value.code == code and not raised.value.transient
    assert sleeps == [] and len(fake.calls) == 1


def test_network_errors_are_retried_and_never_log_the_token(caplog):
    with socket.socket() as s:  # a port where nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = m.MessengerSettings(PAGE_TOKEN, APP_SECRET, "", f"http://127.0.0.1:{port}")
    sleeps = Sleeps()
    caplog.set_level(logging.DEBUG, logger="channels.messenger")

    async def scenario() -> None:
        client = m.GraphClient(settings, sleep=sleeps)
        output = m.MessengerOutput(client)
        try:
            await output.send_text_message("6254000000000001", "mon histoire secrète")
        finally:
            await client.close()

    asyncio.run(scenario())  # dropped, logged, not raised: the turn goes on
    assert sleeps == [0.5, 2.0, 4.0]
    assert "dropped" in caplog.text
    for secret in (PAGE_TOKEN, APP_SECRET, "6254000000000001", "secrète", "access_token"):
        assert secret not in caplog.text


# --- the output channel ------------------------------------------------------------------


def test_output_channel_sends_what_messenger_accepts(fake):
    async def scenario() -> None:
        client = m.GraphClient(settings_for(fake))
        output = m.MessengerOutput(client)
        try:
            await output.send_response("42", {
                "text": "Tu veux faire quoi ?  \nChoisis :",
                "buttons": [{"title": "Raconter une autre expérience", "payload": "/want_to_tell"},
                            {"title": "Tester une compétence", "payload": "/start_assessment"}],
            })
            await output.send_response("42", {"text": "Ton badge est prêt 🏅",
                                              "image": "https://atouts.example.org/badges/1/image.png"})
            await m.MessengerInput(settings_for(fake), client=client).get_output_channel() \
                .send_text_message("42", "Karim a répondu !")
        finally:
            await client.close()

    asyncio.run(scenario())
    assert fake.refused() == []
    assert fake.messages("42") == [
        {"text": "Tu veux faire quoi ?\nChoisis :", "quick_replies": [
            {"content_type": "text", "title": "Raconter une autre…", "payload": "/want_to_tell"},
            {"content_type": "text", "title": "Tester une compéten…", "payload": "/start_assessment"}]},
        {"text": "Ton badge est prêt 🏅"},
        {"attachment": {"type": "image", "payload": {"url": "https://atouts.example.org/badges/1/image.png",
                                                     "is_reusable": True}}},
        {"text": "Karim a répondu !"},
    ]
    types = [c.body["messaging_type"] for c in fake.sent("42")]
    assert types == ["RESPONSE", "RESPONSE", "RESPONSE", "UPDATE"]  # proactive = UPDATE


# --- the webhook: batched, retried, failing deliveries -----------------------------------------


@pytest.fixture()
def deliveries(tmp_path: Path) -> Iterator[Deliveries]:
    store = Store(f"sqlite:///{tmp_path / 'app.db'}")
    store.migrate()
    yield Deliveries("messenger", store=store)
    store.close()


class FakeRasa:
    """Stands for Rasa's on_new_message: records the turns, answers through the output."""

    def __init__(self, fail_on: str = "", delay: float = 0.0) -> None:
        self.turns: List[Tuple[str, str, str]] = []
        self.fail_on, self.delay = fail_on, delay

    async def __call__(self, message: Any) -> None:
        if message.text == self.fail_on:
            raise RuntimeError("the model broke on " + message.text)
        await asyncio.sleep(self.delay)
        # the conversation id is namespaced (fb:<psid>); recorded here as the PSID
        assert message.sender_id.startswith("fb:")
        self.turns.append((message.sender_id[3:], message.text, message.input_channel))
        await message.output_channel.send_text_message(message.sender_id, f"reçu : {message.text}")


def run_webhook(fake: FakeGraph, deliveries: Deliveries, posts: List[Tuple[bytes, Dict[str, str]]],
                rasa: FakeRasa) -> List[Tuple[int, str]]:
    async def scenario() -> List[Tuple[int, str]]:
        client = m.GraphClient(settings_for(fake), sleep=Sleeps())
        channel = m.MessengerInput(settings_for(fake), deliveries=deliveries, client=client)
        try:
            answers = [channel.accept(body, headers.get("X-Hub-Signature-256"), rasa) for body, headers in posts]
            await channel.drain()
            return answers
        finally:
            await client.close()

    return asyncio.run(scenario())


def test_a_batched_delivery_is_handled_entirely_in_order_per_sender(fake, deliveries):
    a, b = new_psid(), new_psid()
    body = batched([text_event(a, "un"), text_event(b, "alpha"), text_event(a, "deux")],
                   [text_event(b, "beta"), text_event(a, "trois")])
    rasa = FakeRasa(delay=0.02)
    assert run_webhook(fake, deliveries, [signed(body)], rasa) == [(200, "EVENT_RECEIVED")]
    assert [t for s, t, _ in rasa.turns if s == a] == ["un", "deux", "trois"]
    assert [t for s, t, _ in rasa.turns if s == b] == ["alpha", "beta"]
    assert {c for _, _, c in rasa.turns} == {"messenger"}
    assert [msg["text"] for msg in fake.messages(a)] == ["reçu : un", "reçu : deux", "reçu : trois"]
    assert fake.actions(a) == ["typing_on"] * 3


def test_a_retried_delivery_is_handled_once(fake, deliveries):
    a = new_psid()
    body = signed(delivery(text_event(a, "salut", mid="m_same"), postback_event(a, "/greet", mid="m_pb")))
    rasa = FakeRasa()
    assert run_webhook(fake, deliveries, [body, body], rasa) == [(200, "EVENT_RECEIVED")] * 2
    assert run_webhook(fake, deliveries, [body], rasa) == [(200, "EVENT_RECEIVED")]  # after a restart
    assert [t for _, t, _ in rasa.turns] == ["salut", "/greet"]


def test_refused_deliveries_handle_nothing(fake, deliveries):
    a = new_psid()
    good_body, good_headers = signed(delivery(text_event(a, "salut")))
    forged = (good_body, {"X-Hub-Signature-256": m.sign("another-secret", good_body)})
    unsigned = (good_body, {})
    huge = signed({"object": "page", "entry": [], "pad": "x" * (1024 * 1024)})
    rasa = FakeRasa()
    answers = run_webhook(fake, deliveries, [forged, unsigned, huge, signed(b"not json"), signed(b"[]"),
                                             signed({"object": "user", "entry": []})], rasa)
    assert [status for status, _ in answers] == [403, 403, 413, 400, 400, 400]
    assert rasa.turns == [] and fake.calls == []
    # the next good delivery still works
    assert run_webhook(fake, deliveries, [(good_body, good_headers)], rasa) == [(200, "EVENT_RECEIVED")]
    assert rasa.turns == [(a, "salut", "messenger")]


def test_attachments_get_a_short_answer_without_rasa(fake, deliveries):
    a = new_psid()
    rasa = FakeRasa()
    run_webhook(fake, deliveries, [signed(delivery(sticker_event(a), echo_event(a, "x"), read_event(a)))], rasa)
    assert rasa.turns == []
    assert fake.messages(a) == [{"text": m.TEXT_ONLY}]


def test_a_failed_turn_is_released_and_the_person_told(fake, deliveries, caplog):
    a = new_psid()
    caplog.set_level(logging.DEBUG, logger="channels.messenger")
    body = signed(delivery(text_event(a, "casse tout", mid="m_fail"), text_event(a, "ensuite")))
    rasa = FakeRasa(fail_on="casse tout")
    run_webhook(fake, deliveries, [body], rasa)
    assert [msg["text"] for msg in fake.messages(a)] == [m.SORRY, "reçu : ensuite"]
    assert "RuntimeError" in caplog.text
    for private in (a, "casse tout", PAGE_TOKEN):
        assert private not in caplog.text
    # released: Facebook's retry of that message is handled, not taken for a duplicate
    rasa.fail_on = ""
    run_webhook(fake, deliveries, [body], rasa)
    assert [t for _, t, _ in rasa.turns] == ["ensuite", "casse tout"]


def test_a_dropped_message_is_logged_by_code_only(fake, deliveries, caplog):
    caplog.set_level(logging.DEBUG, logger="channels.messenger")
    a = new_psid()
    fake.fail_next(1, "permanent")
    run_webhook(fake, deliveries, [signed(delivery(text_event(a, "Inès")))], FakeRasa())
    assert "code 100" in caplog.text
    assert a not in caplog.text and "Inès" not in caplog.text


# --- the setup command ------------------------------------------------------------------------


def test_setup_configures_get_started_and_the_menu(fake, monkeypatch, capsys):
    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    assert m.main(["setup"]) == 0
    assert fake.profile["get_started"] == {"payload": "/greet"}
    menu = fake.profile["persistent_menu"][0]
    assert menu["locale"] == "default"
    assert [(b["type"], b["title"], b["payload"]) for b in menu["call_to_actions"]] == [
        ("postback", "Raconter une expérience", "/want_to_tell"),
        ("postback", "Tester une compétence", "/start_assessment"),
        ("postback", "Mes badges", "/show_my_badges"),
        ("postback", "Effacer mes données", "/delete_my_data"),
    ]
    assert all(len(b["title"]) <= 30 for b in menu["call_to_actions"])  # Messenger's menu limit
    assert all(len(g["text"]) <= 160 for g in fake.profile["greeting"])
    assert "configurée" in capsys.readouterr().out


def test_setup_reports_a_refusal(fake, monkeypatch, capsys):
    for key, value in fake.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ATOUTS_MESSENGER_PAGE_TOKEN", "not-the-page-token")
    assert m.main(["setup"]) == 1
    err = capsys.readouterr().err
    assert "code 190" in err and "not-the-page-token" not in err
    monkeypatch.delenv("ATOUTS_MESSENGER_PAGE_TOKEN")
    assert m.main(["setup"]) == 2


def test_link_lines_become_a_button_template() -> None:
    from channels.messenger import link_template

    text = ("Le voir et le partager : https://atouts.example.org/badges/abc  \n"
            "L'ajouter à ton profil LinkedIn : https://atouts.example.org/badges/abc/linkedin")
    template = link_template(text)
    payload = template["attachment"]["payload"]
    assert payload["template_type"] == "button" and payload["text"] == "👇"
    assert [b["url"] for b in payload["buttons"]] == [
        "https://atouts.example.org/badges/abc", "https://atouts.example.org/badges/abc/linkedin"]
    assert all(b["type"] == "web_url" and len(b["title"]) <= 20 for b in payload["buttons"])
    assert link_template("Bravo 🎉 J'ajoute à ton profil : 🔍 Rigueur.") is None
    assert link_template("https://atouts.example.org/referent/tok") is None  # a bare link stays text to forward

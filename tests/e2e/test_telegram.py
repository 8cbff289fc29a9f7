"""Telegram end to end: the real Rasa server (webhook mode) and action server on the
trained model; Telegram is the local fake of tests/fakes/telegram.py. Updates are
POSTed to /webhooks/telegram/webhook exactly as Telegram sends them (with the secret
header); what the bot says is what the fake Bot API recorded."""
from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest

from channels.telegram import PRIVATE_ONLY, SECRET_HEADER, TEXT_ONLY
from tests.e2e.test_challenger import FOLLOW_UPS, STORY
from tests.fakes.telegram import Call, FakeTelegram

pytestmark = pytest.mark.e2e


def new_chat() -> int:
    return random.randint(10**9, 2 * 10**9)


@dataclass
class Reply:
    text: str
    rows: List[List[Dict[str, str]]]  # the inline keyboard: [[{"text": title, "callback_data": data}]]
    message_id: int

    @property
    def buttons(self) -> List[Dict[str, str]]:
        return [b for row in self.rows for b in row]

    def data(self) -> List[str]:
        return [b.get("callback_data", "") for b in self.buttons]


def replies(calls: List[Call]) -> List[Reply]:
    found = []
    for call in calls:
        if call.method != "sendMessage" or not call.ok:
            continue
        markup = call.params.get("reply_markup") or {}
        found.append(Reply(call.params["text"], markup.get("inline_keyboard", []), call.result["message_id"]))
    return found


def texts(found: List[Reply]) -> str:
    return "\n".join(r.text for r in found)


class TelegramChat:
    """One person writing to the bot on Telegram."""

    def __init__(self, client: Any, fake: FakeTelegram, chat_id: Optional[int] = None) -> None:
        self.client, self.fake = client, fake
        self.chat_id = chat_id or new_chat()
        self.url = f"{client.rasa}/webhooks/telegram/webhook"
        self.sender = f"tg:{self.chat_id}"  # the conversation id: namespaced per channel

    def post(self, body: bytes, secret: Optional[str] = "") -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret or self.fake.secret
        request = urllib.request.Request(self.url, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    def deliver(self, update: Dict[str, Any]) -> List[Call]:
        """Telegram delivers one update; what the bot then called on the Bot API."""
        mark = self.fake.mark()
        assert self.post(json.dumps(update).encode()) == 200
        return self.fake.calls_since(mark, chat_id=self.chat_id)

    def say(self, text: str) -> List[Reply]:
        return replies(self.deliver(self.fake.text_update(self.chat_id, text)))

    def tap(self, reply: Reply, data: str) -> List[Reply]:
        """Taps the button of ``reply`` whose callback_data is (or stands for) ``data``."""
        chosen = next((b["callback_data"] for b in reply.buttons if b.get("callback_data") == data), None)
        assert chosen is not None, (data, reply.buttons)
        update = self.fake.callback_update(self.chat_id, chosen, message_id=reply.message_id)
        mark = self.fake.mark()
        calls = self.deliver(update)
        answered = [c for c in self.fake.calls_since(mark, "answerCallbackQuery")
                    if c.params["callback_query_id"] == update["callback_query"]["id"]]
        assert len(answered) == 1 and answered[0].ok, "the spinner of the tapped button keeps turning"
        return replies(calls)

    def user_texts(self) -> List[str]:
        status, body, _ = self.client.get(f"{self.client.rasa}/conversations/{self.sender}/tracker")
        assert status == 200
        return [e.get("text") for e in json.loads(body)["events"] if e.get("event") == "user"]


@pytest.fixture()
def chat(client, fake_telegram) -> TelegramChat:
    return TelegramChat(client, fake_telegram)


def test_the_webhook_is_registered_with_its_secret(client, fake_telegram) -> None:
    registered = [c for c in fake_telegram.calls("setWebhook") if c.ok]
    assert registered, "setWebhook was never called"
    params = registered[-1].params
    assert params["secret_token"] == fake_telegram.secret
    assert params["allowed_updates"] == ["message", "callback_query"]
    assert params["url"] == fake_telegram.env["ATOUTS_TELEGRAM_WEBHOOK_URL"]
    assert not fake_telegram.calls("getUpdates")  # webhook mode: no polling
    status, body, _ = client.get(f"{client.rasa}/webhooks/telegram/")
    assert status == 200 and json.loads(body) == {"status": "ok", "mode": "webhook"}


def test_full_reperer_conversation_over_telegram(chat: TelegramChat, store) -> None:
    calls = chat.deliver(chat.fake.text_update(chat.chat_id, "/start"))
    methods = [c.method for c in calls]
    assert methods[0] == "sendChatAction" and calls[0].params["action"] == "typing"
    welcome = replies(calls)
    assert "Atouts" in texts(welcome)
    consent = next(r for r in welcome if "/affirm" in r.data())
    assert len(consent.rows) >= 2 and all(len(row) == 1 for row in consent.rows)  # one button per row

    asked_name = chat.tap(consent, "/affirm")
    assert "t'appelle" in texts(asked_name), texts(asked_name)
    after_name = chat.say("Inès")
    assert "Inès" in texts(after_name) and "Raconte-moi" in texts(after_name)

    answers = iter(FOLLOW_UPS)
    messages = chat.say(STORY)
    for _ in range(12):
        if "Bravo 🎉" in texts(messages):
            break
        question = next((r for r in messages if "/affirm" in r.data()), None)
        if "Tu te reconnais" in texts(messages) and question is not None:
            assert all(len(b["text"]) <= 64 for b in question.buttons)
            messages = chat.tap(question, "/affirm")
        else:
            messages = chat.say(next(answers))
    assert "Bravo 🎉" in texts(messages), texts(messages)
    confirmed = store.confirmed_skills(chat.sender)
    assert confirmed, "no confirmed skill stored for the Telegram chat"
    assert store.export_person(chat.sender)["person"]["first_name"] == "Inès"
    for reply in messages:  # the next steps come as buttons that fit Telegram's limits
        assert all(len(d.encode("utf-8")) <= 64 for d in reply.data())


def test_a_retried_delivery_is_handled_once(chat: TelegramChat) -> None:
    chat.say("/start")
    update = chat.fake.text_update(chat.chat_id, "c'est quoi la rigueur ?")
    first = replies(chat.deliver(update))
    assert "Rigueur" in texts(first)
    assert chat.deliver(update) == []            # Telegram retried: nothing said twice
    chat.say("merci")
    assert chat.deliver(dict(update)) == []      # and later again
    assert chat.user_texts().count("c'est quoi la rigueur ?") == 1


def test_a_forged_or_missing_secret_is_refused(chat: TelegramChat) -> None:
    body = json.dumps(chat.fake.text_update(chat.chat_id, "/start")).encode()
    mark = chat.fake.mark()
    assert chat.post(body, secret=None) == 403
    assert chat.post(body, secret="not-the-secret") == 403
    assert chat.post(body, secret=chat.fake.secret + "x") == 403
    assert chat.fake.calls_since(mark, chat_id=chat.chat_id) == []
    assert chat.client.tracker_rows(chat.sender) == 0


def test_malformed_bodies_are_4xx_and_the_next_update_is_served(chat: TelegramChat) -> None:
    for body in (b"not json", b"[]", b"{}", b'{"update_id": "12"}', b'{"update_id": 1.5}',
                 b'{"update_id": 1, "junk": "' + b"a" * 1_000_000 + b'"}'):
        status = chat.post(body)
        assert 400 <= status < 500, (body[:30], status)
    assert "Atouts" in texts(chat.say("/start"))


def test_a_group_chat_is_refused_politely(client, fake_telegram) -> None:
    group = TelegramChat(client, fake_telegram, chat_id=-new_chat())
    calls = group.deliver(fake_telegram.text_update(group.chat_id, "/start@AtoutsTestBot", chat_type="group"))
    assert [r.text for r in replies(calls)] == [PRIVATE_ONLY]
    assert [c.method for c in calls] == ["sendMessage"]
    assert client.tracker_rows(group.sender) == 0


def test_a_sticker_gets_a_short_answer(chat: TelegramChat) -> None:
    assert [r.text for r in replies(chat.deliver(chat.fake.sticker_update(chat.chat_id)))] == [TEXT_ONLY]
    assert chat.client.tracker_rows(chat.sender) == 0


def _referent_answered(chat: "TelegramChat", store, blocked: bool = False) -> List[Call]:
    """A referent answers (with a comment): Rasa is told to tell the person on their
    latest channel; what the bot then called on the Bot API."""
    from bot.referentiel import default_referentiel

    chat.say("/start")  # the person's latest channel is now Telegram
    sender, skill = chat.sender, "rigueur"
    items = default_referentiel().get(skill).items
    store.migrate()  # a no-op when the action server already did it
    store.record_consent(sender, True, "v1", "telegram")
    store.set_first_name(sender, "Inès")
    experience = store.add_experience(sender, "J'ai tenu la caisse tout l'été.")
    store.add_skill_claim(sender, experience, skill, 0.8, "confirmed", "je recompte la caisse")
    store.open_self_assessment(sender, skill)
    for item in items:
        store.record_self_answer(sender, skill, item.id, 3)
    store.complete_self_assessment(sender, skill)
    token, invitation = store.create_invitation(sender, "Karim", "coach", [skill])
    outcome, _ = store.submit_referent(token, {skill: {item.id: 3 for item in items}},
                                       {skill: "Toujours carrée"})
    assert outcome == "ok"
    # the referent confirmed their address (bot/web/referent_verify.py): the answers count
    assert store.start_verification(token, "k" * 64, "c" * 64) == "ok"
    assert store.confirm_verification(token, "c" * 64)[0] == "ok"

    if blocked:  # the person blocks the bot now: Telegram refuses the notices' first messages
        chat.fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", times=2)
        chat.fake.fail("sendPhoto", 403, "Forbidden: bot was blocked by the user", times=1)
    mark = chat.fake.mark()
    status, body = chat.client.post(
        f"{chat.client.rasa}/conversations/{sender}/trigger_intent?output_channel=latest",
        json.dumps({"name": "EXTERNAL_referent_answered", "entities": {"invitation": str(invitation.id)}}).encode(),
    )
    assert status == 200, body[:300]
    return chat.fake.calls_since(mark, chat_id=chat.chat_id)


def test_a_referent_answer_reaches_telegram_proactively(chat: TelegramChat, store) -> None:
    sent = _referent_answered(chat, store)
    said = texts(replies(sent))
    assert "Karim, ton coach, a répondu ! 🎉" in said and "Toujours carrée" in said, said
    photos = [c.params["photo"] for c in sent if c.method == "sendPhoto" and c.ok]
    assert len(photos) == 1 and photos[0].endswith("/image.png") and "/badges/" in photos[0], sent
    # Telegram took it: delivered live, so not repeated at the next message
    notices = store.export_person(chat.sender)["notices"]
    assert {n["kind"] for n in notices} == {"referent", "badge"}
    assert all(n["delivered_how"] == "live" for n in notices), notices
    assert "Pendant ton absence" not in texts(chat.say("merci"))


def test_a_notice_telegram_refused_comes_at_the_next_message(chat: TelegramChat, store) -> None:
    """The person had blocked the bot (403) when the referent answered; once they write
    again, the answer, its comment and the badge come first, once."""
    sent = _referent_answered(chat, store, blocked=True)
    got = [c for c in sent if c.ok and (c.method == "sendPhoto" or "Karim" in str(c.params.get("text")))]
    assert got == [], got
    notices = store.export_person(chat.sender)["notices"]
    assert notices and all(n["delivered_at"] is None for n in notices), notices

    said = [r.text for r in chat.say("coucou")]
    assert said[0].startswith("Pendant ton absence"), said
    missed = "\n".join(said[:3])
    assert "Karim, ton coach, a répondu" in missed and "Toujours carrée" in missed and "/badges/" in missed
    assert "Pendant ton absence" not in texts(chat.say("coucou"))

"""The Telegram connector against a local fake of the Bot API (real HTTP, real
python-telegram-bot) and a stub in place of Rasa: update parsing, commands, buttons,
output shaping, long polling (order, offset, duplicates, retries), the webhook's
answers, and logs that never hold a secret, a text or a chat id.

pytest-asyncio is not used: each test runs its coroutine with asyncio.run.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional

import pytest
from rasa.core.channels.channel import UserMessage

from bot.storage import Store
from channels import telegram as tg
from channels.common import Deliveries
from tests.fakes.telegram import FakeTelegram

SECRET = "s3cret-for-tests_0123456789"
WEBHOOK = "https://atouts.example.org/webhooks/telegram/webhook"
CHAT = 555123987
OTHER_CHAT = 555000111


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture(autouse=True)
def clean_fake(fake: FakeTelegram) -> None:
    fake.reset()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    store = Store(url)
    store.migrate()
    store.close()
    yield url


def settings(fake: FakeTelegram, webhook: bool = False) -> tg.TelegramSettings:
    return tg.TelegramSettings(token=fake.token, webhook_url=WEBHOOK if webhook else "",
                               secret=SECRET, api_url=fake.api_url)


def make_input(fake: FakeTelegram, db_url: str, webhook: bool = False) -> tg.TelegramInput:
    return tg.TelegramInput(settings(fake, webhook), Deliveries("telegram", Store(db_url)),
                            poll_timeout=1, retry_delay=0.05)


class StubRasa:
    """Stands for Rasa's on_new_message: records what it gets, answers "écho", can fail."""

    def __init__(self, fail: Optional[Callable[[str, int], bool]] = None) -> None:
        self.messages: List[UserMessage] = []
        self.attempts: Dict[str, int] = {}
        self.fail = fail or (lambda text, attempt: False)

    async def __call__(self, message: UserMessage) -> None:
        attempt = self.attempts[message.text] = self.attempts.get(message.text, 0) + 1
        if self.fail(message.text, attempt):
            raise RuntimeError(f"boom while handling {message.text} for {message.sender_id}")
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, f"écho : {message.text}")

    def texts(self, sender: Optional[int] = None) -> List[str]:
        # the conversation id is namespaced: tg:<chat id>
        return [m.text for m in self.messages if sender is None or m.sender_id == f"tg:{sender}"]


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition never met")
        await asyncio.sleep(0.02)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


# --- parsing ---------------------------------------------------------------------------


def test_parse_update_kinds(fake: FakeTelegram) -> None:
    text = tg.parse_update(fake.text_update(CHAT, "salut"))
    assert (text.kind, text.chat_id, text.chat_type, text.text) == (tg.Kind.TEXT, CHAT, "private", "salut")
    callback = tg.parse_update(fake.callback_update(CHAT, "/affirm", message_id=7))
    assert (callback.kind, callback.chat_id, callback.text, callback.message_id) == (tg.Kind.CALLBACK, CHAT, "/affirm", 7)
    assert callback.callback_id
    assert tg.parse_update(fake.sticker_update(CHAT)).kind is tg.Kind.MEDIA
    assert tg.parse_update(fake.edited_update(CHAT, "oups")).kind is tg.Kind.EDITED
    group = tg.parse_update(fake.text_update(-100200, "coucou", chat_type="supergroup"))
    assert group.kind is tg.Kind.TEXT and not group.private
    service = {"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": CHAT, "type": "private"},
                                           "pinned_message": {"message_id": 2}}}
    assert tg.parse_update(service).kind is tg.Kind.IGNORED
    assert tg.parse_update({"update_id": 6, "my_chat_member": {"chat": {"id": CHAT}}}).kind is tg.Kind.IGNORED
    assert tg.parse_update({"update_id": 7, "message": "not an object"}).kind is tg.Kind.IGNORED


@pytest.mark.parametrize("body", [[], {}, "x", None, 3, {"update_id": "12"}, {"update_id": True},
                                  {"update_id": 1.5}, {"message": {"text": "hi"}}])
def test_parse_update_refuses_what_is_not_an_update(body: Any) -> None:
    with pytest.raises(tg.MalformedUpdate):
        tg.parse_update(body)


@pytest.mark.parametrize("typed, sent", [
    ("/start", "/greet"),
    ("/start@AtoutsBot", "/greet"),
    ("/start campagne-mission-locale", "/greet"),
    ("/aide", "/help"),
    ("/help", "/help"),
    ("/supprimer", "/delete_my_data"),
    ("/affirm", "affirm"),                      # never a payload when typed
    ('/choose{"scale":"3"}', 'choose{"scale":"3"}'),
    ("/competences ma rigueur", "competences ma rigueur"),
    ("/", "/help"),
    ("//", "/help"),
    ("  bonjour  ", "bonjour"),
    ("j'ai bossé au mcdo", "j'ai bossé au mcdo"),
])
def test_rasa_text_maps_commands_and_never_passes_a_typed_payload(typed: str, sent: str) -> None:
    assert tg.rasa_text(typed) == sent
    if sent.startswith("/"):
        assert sent in tg.COMMANDS.values()


# --- buttons ---------------------------------------------------------------------------


def test_callback_payloads_fit_in_64_bytes_and_old_ones_are_stale() -> None:
    payloads = tg.CallbackPayloads()
    assert payloads.encode("/affirm") == "/affirm"
    long = '/invite_referent{"skill":"capacite_de_decision","relation":"responsable_benevole"}'
    key = payloads.encode(long)
    assert len(key.encode("utf-8")) <= 64 and key == payloads.encode(long)
    assert payloads.decode(key) == long
    accents = "/choose" + "é" * 40  # 87 bytes in UTF-8, 47 characters
    assert len(payloads.encode(accents).encode("utf-8")) <= 64
    assert payloads.decode(payloads.encode(accents)) == accents
    assert payloads.decode("/deny") == "/deny"
    sneaky = tg.CallbackPayloads.PREFIX + "x"
    assert payloads.decode(payloads.encode(sneaky)) == sneaky
    # after a restart the map is empty: the old button sends what the bot calls "plus valable"
    assert tg.CallbackPayloads().decode(key) == tg.STALE_BUTTON_PAYLOAD


def test_callback_payloads_forget_the_oldest_beyond_their_size() -> None:
    payloads = tg.CallbackPayloads(max_entries=2)
    keys = [payloads.encode("/choose" + "x" * 70 + str(n)) for n in range(3)]
    assert payloads.decode(keys[0]) == tg.STALE_BUTTON_PAYLOAD
    assert payloads.decode(keys[2]).endswith("2")


def test_keyboard_has_one_button_per_row_with_short_titles() -> None:
    markup = tg.keyboard([
        {"title": "Oui, c'est moi", "payload": "/affirm"},
        {"title": "Une " + "très " * 30 + "longue option", "payload": "/deny"},
        {"title": "Ajouter à LinkedIn", "url": "https://www.linkedin.com/profile/add"},
        {"title": "Sans payload"},
    ], tg.CallbackPayloads())
    rows = markup.inline_keyboard
    assert [len(r) for r in rows] == [1, 1, 1, 1]
    assert rows[0][0].callback_data == "/affirm"
    assert len(rows[1][0].text) <= 64 and rows[1][0].text.endswith("…")
    assert rows[2][0].url and rows[2][0].callback_data is None
    assert rows[3][0].callback_data == "Sans payload"


# --- configuration ---------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    for name in ("ATOUTS_TELEGRAM_TOKEN", "ATOUTS_TELEGRAM_WEBHOOK_URL", "ATOUTS_TELEGRAM_SECRET",
                 "ATOUTS_TELEGRAM_API_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(tg.TelegramConfigError, match="ATOUTS_TELEGRAM_TOKEN"):
        tg.TelegramSettings.from_env()
    monkeypatch.setenv("ATOUTS_TELEGRAM_TOKEN", "42:abc")
    polling = tg.TelegramSettings.from_env()
    assert polling.mode == "polling" and polling.api_url == tg.DEFAULT_API_URL
    assert polling.file_url == "https://api.telegram.org/file/bot"
    assert polling.secret_generated and len(polling.secret) >= 32
    assert "42:abc" not in repr(polling) and polling.secret not in repr(polling)
    monkeypatch.setenv("ATOUTS_TELEGRAM_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("ATOUTS_TELEGRAM_SECRET", SECRET)
    monkeypatch.setenv("ATOUTS_TELEGRAM_API_URL", "http://127.0.0.1:9/bot")
    webhook = tg.TelegramSettings.from_env()
    assert (webhook.mode, webhook.secret, webhook.secret_generated) == ("webhook", SECRET, False)
    assert webhook.file_url == "http://127.0.0.1:9/file/bot"
    monkeypatch.setenv("ATOUTS_TELEGRAM_SECRET", "pas de blancs !")
    with pytest.raises(tg.TelegramConfigError) as error:
        tg.TelegramSettings.from_env()
    assert "pas de blancs" not in str(error.value)
    # from_credentials reads the environment; a generated secret is announced, never shown
    monkeypatch.delenv("ATOUTS_TELEGRAM_SECRET")
    with caplog.at_level(logging.INFO, logger="channels.telegram"):
        channel = tg.TelegramInput.from_credentials(None)
    assert channel.name() == "telegram" and channel.mode == "webhook"
    assert "generated" in caplog.text and channel.settings.secret not in caplog.text
    assert isinstance(channel.get_output_channel(), tg.TelegramOutput)


# --- output ----------------------------------------------------------------------------


def test_output_shapes_texts_buttons_and_images(fake: FakeTelegram) -> None:
    long_payload = '/invite_referent{"skill":"capacite_de_decision","relation":"responsable_benevole"}'

    async def main() -> List[str]:
        channel = tg.TelegramInput(settings(fake))
        out = channel.get_output_channel()
        await out.send_text_message(str(CHAT), "Bravo 🎉  \nTu as montré de la rigueur.")
        await out.send_text_message(str(CHAT), ("Une phrase assez longue pour remplir. " * 150).strip())
        await out.send_response(str(CHAT), {"text": "Tu te reconnais ?", "buttons": [
            {"title": "Oui, c'est moi", "payload": "/affirm"}, {"title": "Inviter", "payload": long_payload}]})
        await out.send_response(str(CHAT), {"text": None, "buttons": [{"title": "Passer", "payload": "/skip"}]})
        await out.send_response(str(CHAT), {"text": "Ton badge est prêt 🏅",
                                            "image": "http://localhost:8080/badges/b1/image.png"})
        await out.send_custom_json(str(CHAT), {"widget": "only"})
        await channel.close()
        keys = [b["callback_data"] for c in fake.calls("sendMessage") if c.params.get("reply_markup")
                for row in c.params["reply_markup"]["inline_keyboard"] for b in row]
        # what a tap sends back is read with the same map
        return [channel.payloads.decode(k) for k in keys] + keys

    decoded = run(main())
    assert decoded[:3] == ["/affirm", long_payload, "/skip"]
    assert all(len(k.encode("utf-8")) <= 64 for k in decoded[3:])
    texts = fake.texts(CHAT)
    assert texts[0] == "Bravo 🎉\nTu as montré de la rigueur."
    assert len(texts[1]) <= 4096 and len(texts[2]) <= 4096 and texts[2].endswith("remplir.")
    assert texts[3] == "Tu te reconnais ?" and texts[4] == tg.BUTTONS_ONLY and texts[5] == "Ton badge est prêt 🏅"
    assert len(texts) == 6  # the custom payload is not shown
    photos = fake.calls("sendPhoto", CHAT)
    assert [p.params["photo"] for p in photos] == ["http://localhost:8080/badges/b1/image.png"]


def test_refused_photo_is_sent_as_a_link(fake: FakeTelegram) -> None:
    fake.fail("sendPhoto", 400, "Bad Request: wrong file identifier/HTTP URL specified")

    async def main() -> None:
        channel = tg.TelegramInput(settings(fake))
        await channel.get_output_channel().send_image_url(str(CHAT), "http://localhost:8080/badges/b1/image.png")
        await channel.close()

    run(main())
    assert fake.texts(CHAT) == ["http://localhost:8080/badges/b1/image.png"]


def test_output_waits_out_flood_control_and_skips_a_blocked_person(fake: FakeTelegram) -> None:
    fake.fail("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)

    async def main() -> float:
        channel = tg.TelegramInput(settings(fake))
        out = channel.get_output_channel()
        started = time.monotonic()
        await out.send_text_message(str(CHAT), "après la pause")
        waited = time.monotonic() - started
        fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
        await out.send_text_message(str(OTHER_CHAT), "personne ne lira ceci")  # no exception
        fake.fail("sendMessage", 400, "Bad Request: chat not found")
        with pytest.raises(tg.BadRequest):
            await out.send_text_message(str(OTHER_CHAT), "faux chat")
        await channel.close()
        return waited

    assert run(main()) >= 0.9
    sent = fake.calls("sendMessage", CHAT)
    assert [c.ok for c in sent] == [False, True] and fake.texts(CHAT) == ["après la pause"]


# --- one update: kinds, duplicates, failures ------------------------------------------------


def test_updates_of_each_kind(fake: FakeTelegram, db_url: str) -> None:
    rasa = StubRasa()

    async def main() -> List[tg.Outcome]:
        channel = make_input(fake, db_url)
        outcomes = [await channel.process(tg.parse_update(u), rasa) for u in (
            fake.text_update(CHAT, "/start"),
            fake.callback_update(CHAT, "/affirm", message_id=12),
            fake.callback_update(CHAT, channel.payloads.PREFIX + "0123456789abcdef"),  # an old long button
            fake.sticker_update(CHAT),
            fake.edited_update(CHAT, "modifié"),
            fake.text_update(-100777, "/start", chat_type="group"),
            fake.callback_update(-100777, "/affirm", chat_type="group"),
            {"update_id": fake.next_update_id(), "channel_post": {"message_id": 1}},
        )]
        await channel.close()
        return outcomes

    outcomes = run(main())
    assert outcomes == [tg.Outcome.HANDLED] * 8
    assert rasa.texts(CHAT) == ["/greet", "/affirm", tg.STALE_BUTTON_PAYLOAD]
    first = rasa.messages[0]
    assert first.input_channel == "telegram" and first.sender_id == f"tg:{CHAT}"
    assert first.metadata["telegram"]["update_id"] and "text" not in json.dumps(first.metadata)
    assert isinstance(first.output_channel, tg.TelegramOutput)
    assert tg.TEXT_ONLY in fake.texts(CHAT) and tg.EDITED in fake.texts(CHAT)
    assert fake.texts(-100777) == [tg.PRIVATE_ONLY]  # once, for the message; the tap is only answered
    assert len([c for c in fake.calls("answerCallbackQuery") if c.ok]) == 3
    # "typing…" before each answer of Rasa
    calls = [c.method for c in fake.calls(chat_id=CHAT) if c.method in ("sendChatAction", "sendMessage")]
    assert calls[:2] == ["sendChatAction", "sendMessage"]


def test_a_duplicate_is_ignored_even_after_a_restart(fake: FakeTelegram, db_url: str) -> None:
    rasa = StubRasa()
    update = fake.text_update(CHAT, "salut")

    async def main() -> List[tg.Outcome]:
        first = make_input(fake, db_url)
        outcomes = [await first.process(tg.parse_update(update), rasa),
                    await first.process(tg.parse_update(update), rasa)]
        await first.close()
        restarted = make_input(fake, db_url)  # a new process: only the database remembers
        outcomes.append(await restarted.process(tg.parse_update(update), rasa))
        await restarted.close()
        return outcomes

    assert run(main()) == [tg.Outcome.HANDLED, tg.Outcome.DUPLICATE, tg.Outcome.DUPLICATE]
    assert rasa.texts() == ["salut"]


def test_the_webhook_answers(fake: FakeTelegram, db_url: str) -> None:
    rasa = StubRasa(fail=lambda text, attempt: text == "boum" or (text == "une fois" and attempt == 1))
    good = json.dumps(fake.text_update(CHAT, "salut")).encode()
    once = json.dumps(fake.text_update(CHAT, "une fois")).encode()
    boum = json.dumps(fake.text_update(CHAT, "boum")).encode()

    async def main() -> Dict[str, Any]:
        channel = make_input(fake, db_url, webhook=True)
        hook = channel.handle_webhook
        statuses: Dict[str, Any] = {
            "missing": await hook(None, good, rasa),
            "forged": await hook("s3cret-for-tests_012345678X", good, rasa),
            "bad": [await hook(SECRET, body, rasa) for body in (
                b"not json", b"[]", b"{}", b'{"update_id": "12"}', b'{"update_id": true}',
                b"\xff\xfe\x00garbage", b"[" * 100_000)],
            "huge": await hook(SECRET, b'{"update_id": 1, "x": "' + b"a" * 1_000_000 + b'"}', rasa),
            "good": await hook(SECRET, good, rasa),
            "again": await hook(SECRET, good, rasa),
            "once": [await hook(SECRET, once, rasa) for _ in range(2)],
            "boum": [await hook(SECRET, boum, rasa) for _ in range(tg.MAX_ATTEMPTS + 1)],
        }
        await channel.close()
        return statuses

    statuses = run(main())
    assert statuses["missing"] == statuses["forged"] == 403
    assert all(400 <= s < 500 for s in statuses["bad"]), statuses["bad"]
    assert statuses["huge"] == 413
    assert (statuses["good"], statuses["again"]) == (200, 200)
    assert statuses["once"] == [500, 200]                   # released, then handled on the retry
    assert statuses["boum"] == [500, 500, 200, 200]         # given up after MAX_ATTEMPTS, then a duplicate
    assert rasa.texts() == ["salut", "une fois"]
    assert rasa.attempts["boum"] == tg.MAX_ATTEMPTS
    assert fake.texts(CHAT).count(tg.SORRY) == 2            # once per failing update, not per retry


# --- long polling ------------------------------------------------------------------------


def test_long_polling_in_order_with_offsets_and_duplicates(fake: FakeTelegram, db_url: str) -> None:
    fake.webhook_url = "https://old.example.org/hook"  # left by a previous deployment
    a1, b1, a2 = (fake.text_update(CHAT, "a1"), fake.text_update(OTHER_CHAT, "b1"), fake.text_update(CHAT, "a2"))
    a3 = fake.text_update(CHAT, "a3")
    rasa = StubRasa()

    async def on_new_message(message: UserMessage) -> None:
        if message.text == "a1":  # a slow first turn: a2 must still wait for it
            await asyncio.sleep(0.3)
        await rasa(message)

    def offsets() -> List[Any]:
        return [c.params.get("offset") for c in fake.calls("getUpdates")]

    async def main() -> None:
        channel = make_input(fake, db_url)
        fake.queue(a1, b1, a2)
        await channel.start(on_new_message)
        await until(lambda: len(rasa.messages) == 3 and a2["update_id"] + 1 in offsets())
        await channel.stop()
        # Restarted before confirming a1 (a crash): Telegram delivers it again, with a3.
        restarted = make_input(fake, db_url)
        fake.queue(dict(a1), a3)
        await restarted.start(on_new_message)
        await until(lambda: a3["update_id"] + 1 in offsets() and not fake.pending_updates())
        await asyncio.sleep(0.1)
        await restarted.stop()

    run(main())
    assert rasa.texts(CHAT) == ["a1", "a2", "a3"] and rasa.texts(OTHER_CHAT) == ["b1"]
    assert rasa.texts()[0] == "b1"  # the other chat did not wait for the slow turn
    methods = [c.method for c in fake.calls() if c.method in ("deleteWebhook", "getUpdates")]
    assert methods[0] == "deleteWebhook" and methods.count("deleteWebhook") == 2  # once per start
    assert offsets()[0] is None and a2["update_id"] + 1 in offsets()
    assert fake.calls("getUpdates")[0].params["allowed_updates"] == ["message", "callback_query"]
    assert fake.calls("getUpdates")[0].params["timeout"] == 1
    assert fake.texts(CHAT) == ["écho : a1", "écho : a2", "écho : a3"]


def test_long_polling_retries_a_failed_turn_then_gives_up(fake: FakeTelegram, db_url: str) -> None:
    rasa = StubRasa(fail=lambda text, attempt: text == "toujours" or (text == "une fois" and attempt == 1))
    updates = [fake.text_update(CHAT, t) for t in ("une fois", "après", "toujours", "enfin")]

    async def main() -> None:
        channel = make_input(fake, db_url)
        fake.queue(*updates)
        await channel.start(rasa)
        await until(lambda: rasa.texts() == ["une fois", "après", "enfin"] and not fake.pending_updates())
        await channel.stop()
        # the failed update was released, then handled: the database holds it as seen
        assert not await channel.deliveries.claim(updates[0]["update_id"])

    run(main())
    assert rasa.attempts == {"une fois": 2, "après": 1, "toujours": tg.MAX_ATTEMPTS, "enfin": 1}
    assert fake.texts(CHAT) == [tg.SORRY, "écho : une fois", "écho : après", tg.SORRY, "écho : enfin"]


def test_long_polling_backs_off_when_telegram_fails(fake: FakeTelegram, db_url: str) -> None:
    fake.fail("getUpdates", 502, "Bad Gateway", times=2)
    rasa = StubRasa()

    async def main() -> None:
        channel = make_input(fake, db_url)
        fake.queue(fake.text_update(CHAT, "toujours là ?"))
        await channel.start(rasa)
        await until(lambda: rasa.texts() == ["toujours là ?"])
        await channel.stop()

    run(main())
    polls = fake.calls("getUpdates")
    assert [c.ok for c in polls[:3]] == [False, False, True]
    assert polls[2].at - polls[1].at >= polls[1].at - polls[0].at  # waits longer each time


def test_webhook_mode_registers_the_webhook_with_its_secret(fake: FakeTelegram, db_url: str) -> None:
    fake.fail("setWebhook", 500, "Internal Server Error")

    async def main() -> None:
        channel = make_input(fake, db_url, webhook=True)
        await channel.start(StubRasa())
        await until(lambda: any(c.ok for c in fake.calls("setWebhook")))
        await channel.stop()

    run(main())
    call = [c for c in fake.calls("setWebhook") if c.ok][0]
    assert call.params["url"] == WEBHOOK and call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == ["message", "callback_query"]
    assert not fake.calls("getUpdates")


def test_logs_hold_no_token_secret_text_or_chat_id(fake: FakeTelegram, db_url: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    rasa = StubRasa(fail=lambda text, attempt: text == "mon secret de famille" and attempt == 1)

    async def main() -> None:
        channel = make_input(fake, db_url)
        fake.queue(fake.text_update(CHAT, "mon secret de famille"), fake.sticker_update(CHAT))
        await channel.start(rasa)
        await until(lambda: rasa.texts() == ["mon secret de famille"] and not fake.pending_updates())
        await channel.stop()

    with caplog.at_level(logging.DEBUG):
        run(main())
    assert "failed" in caplog.text  # something was logged about the failure
    for secret in (fake.token, fake.token.split(":")[1], SECRET, "mon secret de famille", str(CHAT)):
        assert secret not in caplog.text

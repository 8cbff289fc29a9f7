"""The outbox: notices kept until they reach the person, claimed once, owned by the
person, exported and erased with them; and the channel side (live sends claimed and
settled, « Pendant ton absence… » before the answer)."""
from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List

import pytest
import socketio
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy import text

from bot import messages
from bot.storage import Store
from bot.storage.db import make_engine
from bot.storage.models import utcnow
from bot.storage.outbox import LEASE, NOTICE_KEY
from channels.outbox import NoticeAware, Outbox, with_missed
from channels.socketio import SocketIOOutput


@pytest.fixture
def url(db_url: str) -> str:
    return db_url  # SQLite and PostgreSQL (tests/conftest.py)


@pytest.fixture
def store(url: str):
    s = Store(url)
    s.migrate()
    yield s
    s.close()


def person(store: Store, sender: str) -> None:
    store.record_consent(sender, True, "v1", "rest")


# --- storage ---------------------------------------------------------------------------


def test_nothing_is_kept_without_a_consenting_person(store: Store) -> None:
    assert store.add_notice("nobody", "referent", "Karim a répondu") is None
    store.record_consent("refused", False, "v1")
    assert store.add_notice("refused", "follow_up", "Tu as pu essayer ?") is None
    person(store, "u1")
    with pytest.raises(ValueError):
        store.add_notice("u1", "spam", "hello")
    with pytest.raises(ValueError):
        store.add_notice("u1", "badge", "   ")


def test_missed_notices_come_once_oldest_first(store: Store) -> None:
    person(store, "u1")
    first = store.add_notice("u1", "referent", "Karim, ton coach, a répondu 🎉")
    second = store.add_notice("u1", "badge", "Ton badge « Rigueur — confirmé » est prêt 🏅")
    claimed = store.claim_missed("u1")
    assert [(n.id, n.kind) for n in claimed] == [(first, "referent"), (second, "badge")]
    assert claimed[0].text.startswith("Karim")
    assert store.claim_missed("u1") == []  # delivered: never again
    exported = store.export_person("u1")["notices"]
    assert [n["delivered_how"] for n in exported] == ["later", "later"]
    assert all(n["delivered_at"] for n in exported)


def test_a_notice_belongs_to_its_person_only(store: Store) -> None:
    person(store, "u1")
    person(store, "u2")
    mine = store.add_notice("u1", "follow_up", "Tu as pu essayer « Planifier » ?")
    assert store.claim_missed("u2") == []
    assert store.claim_notice("u2", mine) is False  # another person's key reaches nothing
    store.settle_notice("u2", mine, delivered=True)
    store.unclaim_missed("u2", [mine])
    assert store.export_person("u2")["notices"] == []
    assert [n.id for n in store.claim_missed("u1")] == [mine]
    store.unclaim_missed("u2", [mine])  # cannot put someone else's notice back either
    assert store.claim_missed("u1") == []


def test_live_send_holds_a_lease_then_settles(store: Store) -> None:
    person(store, "u1")
    notice = store.add_notice("u1", "referent", "Karim a répondu")
    assert store.claim_notice("u1", notice) is True
    assert store.claim_notice("u1", notice) is False  # one sender at a time
    assert store.claim_missed("u1") == []  # being sent live: not twice
    store.settle_notice("u1", notice, delivered=False)  # the person could not be reached
    assert [n.id for n in store.claim_missed("u1")] == [notice]  # so it comes later
    assert store.claim_notice("u1", notice) is False  # and is never sent live after that

    other = store.add_notice("u1", "badge", "Ton badge est prêt")
    assert store.claim_notice("u1", other)
    store.settle_notice("u1", other, delivered=True)
    assert store.claim_missed("u1") == []
    assert [n["delivered_how"] for n in store.export_person("u1")["notices"]] == ["later", "live"]


def test_a_lease_left_by_a_dead_process_expires(store: Store, url: str) -> None:
    person(store, "u1")
    notice = store.add_notice("u1", "referent", "Karim a répondu")
    assert store.claim_notice("u1", notice)
    assert store.claim_missed("u1") == []
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET claimed_at = :t"), {"t": utcnow() - LEASE - timedelta(seconds=1)})
    engine.dispose()
    assert [n.id for n in store.claim_missed("u1")] == [notice]


def test_a_failed_send_puts_the_missed_notices_back(store: Store) -> None:
    person(store, "u1")
    notice = store.add_notice("u1", "referent", "Karim a répondu")
    claimed = store.claim_missed("u1")
    store.unclaim_missed("u1", [n.id for n in claimed])
    assert [n.id for n in store.claim_missed("u1")] == [notice]


def test_concurrent_messages_claim_each_notice_once(url: str) -> None:
    """Two messages at the same time (two Rasa instances, two connections): every
    notice goes to exactly one of them."""
    setup = Store(url)
    setup.migrate()
    person(setup, "u1")
    stores = [Store(url) for _ in range(6)]
    try:
        for round_ in range(5):
            ids = {setup.add_notice("u1", "follow_up", f"Rappel {round_}-{n}") for n in range(4)}
            barrier = threading.Barrier(len(stores))
            results: List[List[int]] = [[] for _ in stores]

            def claim(index: int) -> None:
                barrier.wait()
                results[index] = [n.id for n in stores[index].claim_missed("u1")]

            threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            got = [i for r in results for i in r]
            assert sorted(got) == sorted(ids), results  # each once, none lost
    finally:
        for s in stores:
            s.close()
        setup.close()


def test_export_and_erasure_include_the_outbox(store: Store) -> None:
    person(store, "u1")
    person(store, "u2")
    store.add_notice("u1", "referent", "Karim, ton coach, a répondu 🎉  \n💬 « Bravo »")
    store.add_notice("u2", "follow_up", "Tu as pu essayer ?")
    exported = store.export_person("u1")["notices"]
    assert len(exported) == 1
    assert exported[0]["kind"] == "referent" and "Bravo" in exported[0]["text"]
    assert exported[0]["delivered_at"] is None
    assert store.erase_person("u1") > 0
    assert store.export_person("u1")["notices"] == []
    assert len(store.export_person("u2")["notices"]) == 1
    assert store.claim_missed("u1") == []


# --- channels ----------------------------------------------------------------------------


class FakeOutput(NoticeAware, CollectingOutputChannel):
    """A platform that takes every message, unless told to drop them."""

    def __init__(self, drop: bool = False) -> None:
        super().__init__()
        self.drop = drop

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        if self.drop:
            self.not_delivered()
            return
        await super().send_text_message(recipient_id, text, **kwargs)


def tagged(text_: str, notice: int) -> Dict[str, Any]:
    return {"text": text_, NOTICE_KEY: notice}


def test_a_notice_sent_live_is_not_sent_again(store: Store) -> None:
    person(store, "u1")
    outbox = Outbox(store)
    notice = store.add_notice("u1", "referent", "Karim a répondu")

    async def scenario() -> tuple:
        live = FakeOutput()
        live.outbox = outbox
        await live.send_response("u1", tagged("Karim, ton coach, a répondu ! 🎉", notice))
        await live.send_response("u1", tagged("Karim t'a laissé un mot", notice))
        again = FakeOutput()  # a retried trigger: the same notice once more
        again.outbox = outbox
        await again.send_response("u1", tagged("Karim, ton coach, a répondu ! 🎉", notice))
        return live.messages, again.messages

    live, again = asyncio.run(scenario())
    assert [m["text"] for m in live] == ["Karim, ton coach, a répondu ! 🎉", "Karim t'a laissé un mot"]
    assert again == []
    assert store.export_person("u1")["notices"][0]["delivered_how"] == "live"
    assert store.claim_missed("u1") == []


def test_dropped_live_notice_comes_before_the_next_answer(store: Store) -> None:
    person(store, "u1")
    outbox = Outbox(store)
    notice = store.add_notice("u1", "follow_up", messages.follow_up_notice("« Planifier sa semaine »"))
    handled: List[str] = []

    async def answer(message: UserMessage) -> None:
        handled.append(message.text)
        await message.output_channel.send_response(message.sender_id, {"text": "Re 👋"})

    async def scenario() -> tuple:
        gone = FakeOutput(drop=True)  # e.g. Telegram: the person blocked the bot
        gone.outbox = outbox
        await gone.send_response("u1", tagged("Coucou 👋 Tu as pu essayer ?", notice))
        handler = with_missed(answer, outbox)
        first, second = CollectingOutputChannel(), CollectingOutputChannel()
        await handler(UserMessage("salut", first, "u1"))
        await handler(UserMessage("salut", second, "u1"))
        return first.messages, second.messages

    first, second = asyncio.run(scenario())
    assert first[0]["text"] == messages.MISSED_HEADER  # a bubble per notice on the phone
    assert "Planifier sa semaine" in first[1]["text"]
    assert first[2]["text"] == "Re 👋"  # the answer comes after
    assert [m["text"] for m in second] == ["Re 👋"]  # once
    assert handled == ["salut", "salut"]


def test_missed_notices_stay_pending_when_their_send_fails(store: Store) -> None:
    person(store, "u1")
    outbox = Outbox(store)
    store.add_notice("u1", "referent", "Karim a répondu")

    async def answer(message: UserMessage) -> None:
        return None

    async def scenario() -> None:
        await with_missed(answer, outbox)(UserMessage("salut", FakeOutput(drop=True), "u1"))

    asyncio.run(scenario())
    assert [n.text for n in store.claim_missed("u1")] == ["Karim a répondu"]


def test_no_database_no_crash(tmp_path: Path) -> None:
    """A database that cannot be read must not stop the person's message."""
    broken = Store(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")  # never migrated: no table
    handled: List[str] = []

    async def answer(message: UserMessage) -> None:
        handled.append(message.text)

    asyncio.run(with_missed(answer, Outbox(broken))(UserMessage("salut", CollectingOutputChannel(), "u1")))
    assert handled == ["salut"]
    broken.close()


def test_socketio_sends_a_notice_live_only_to_a_connected_session(store: Store) -> None:
    person(store, "web-1")
    outbox = Outbox(store)
    notice = store.add_notice("web-1", "referent", "Karim a répondu")
    sio = socketio.AsyncServer(async_mode="asgi")
    emitted: List[tuple] = []

    async def emit(event: str, data: Any = None, room: Any = None, **kwargs: Any) -> None:
        emitted.append((event, room, data))

    sio.emit = emit  # type: ignore[assignment]

    async def scenario() -> None:
        out = SocketIOOutput(sio, "bot_uttered")
        out.outbox = outbox
        await out.send_response("web-1", tagged("Karim, ton coach, a répondu ! 🎉", notice))  # page closed
        assert emitted == []
        assert [n.id for n in store.claim_missed("web-1")] == [notice]  # comes at the next message

        second = store.add_notice("web-1", "badge", "Ton badge est prêt")
        sid = sio.manager.connect("eio-1", "/")  # the page is open: a socket in the session's room
        sio.manager.enter_room(sid, "/", "web-1")
        out = SocketIOOutput(sio, "bot_uttered")
        out.outbox = outbox
        await out.send_response("web-1", tagged("Ton badge est prêt 🏅", second))
        assert emitted == [("bot_uttered", "web-1", {"text": "Ton badge est prêt 🏅"})]
        assert store.claim_missed("web-1") == []

    asyncio.run(scenario())
    assert [n["delivered_how"] for n in store.export_person("web-1")["notices"]] == ["later", "live"]

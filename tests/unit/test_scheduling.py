"""bot.storage.scheduling on SQLite and PostgreSQL: follow-ups kept in the database,
fired once across processes, caught up after downtime, reached only through their owner."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from bot.storage import Store
from bot.storage.scheduling import LEASE

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(db_url: str):
    s = Store(db_url)
    s.migrate()
    for sender in ("tg:1", "tg:2"):
        s.record_consent(sender, True, "v1", channel="telegram")
    yield s
    s.close()


def test_one_pending_follow_up_per_person_and_nothing_without_consent(store: Store) -> None:
    store.schedule("tg:1", "follow_up", NOW + timedelta(days=5), {"follow_up": "missions"})
    store.schedule("tg:1", "follow_up", NOW + timedelta(days=6), {"follow_up": "resource:x"})
    assert store.pending_scheduled("tg:1") == [
        {"kind": "follow_up", "due_at": (NOW + timedelta(days=6)).isoformat(), "entities": {"follow_up": "resource:x"}}]
    assert store.schedule("rest:nobody", "follow_up", NOW, {}) is None
    with pytest.raises(ValueError):
        store.schedule("tg:1", "anything", NOW, {})
    assert store.cancel_scheduled("tg:2") == 0  # someone else's: untouched
    assert store.cancel_scheduled("tg:1", "follow_up") == 1 and store.pending_scheduled("tg:1") == []


def test_due_messages_are_claimed_once_settled_or_retried(store: Store) -> None:
    store.schedule("tg:1", "follow_up", NOW - timedelta(hours=30), {"follow_up": "missions"})  # missed in downtime
    store.schedule("tg:2", "follow_up", NOW + timedelta(days=1), {})
    due = store.claim_due(NOW)
    assert [(d.sender_id, d.entities) for d in due] == [("tg:1", {"follow_up": "missions"})]
    assert store.claim_due(NOW) == []  # held by the lease
    store.settle_scheduled(due[0].id, sent=False)  # Rasa did not take it: tried again
    again = store.claim_due(NOW + timedelta(seconds=30))
    assert [d.id for d in again] == [due[0].id]
    assert store.claim_due(NOW + LEASE + timedelta(seconds=31))[0].id == due[0].id  # a dead sender's lease expires
    store.settle_scheduled(due[0].id, sent=True)
    later = store.claim_due(NOW + timedelta(days=2))
    assert [d.sender_id for d in later] == ["tg:2"]
    store.settle_scheduled(later[0].id, sent=True)
    assert store.claim_due(NOW + timedelta(days=30)) == []  # each sent once
    assert store.export_person("tg:1")["scheduled"][0]["done_at"] is not None


def test_concurrent_schedulers_send_each_message_once(store: Store, db_url: str) -> None:
    for i in range(30):
        sender = f"tg:{100 + i}"
        store.record_consent(sender, True, "v1", channel="telegram")
        store.schedule(sender, "follow_up", NOW - timedelta(minutes=i), {})
    others = [Store(db_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(4) as pool:
            batches = list(pool.map(lambda s: s.claim_due(NOW, limit=50), [store, *others]))
    finally:
        for s in others:
            s.close()
    ids = [d.id for batch in batches for d in batch]
    assert len(ids) == 30 and len(set(ids)) == 30, [len(b) for b in batches]


def test_erasure_takes_the_schedule_with_it(store: Store) -> None:
    store.schedule("tg:1", "follow_up", NOW, {})
    store.erase_person("tg:1")
    assert store.claim_due(NOW + timedelta(days=1)) == []

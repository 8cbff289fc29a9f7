"""bot.privacy.retention on real SQLite files (app database + Rasa tracker store):
nobody is erased without a notice given after their last message and at least
NOTICE_DAYS old; a person who comes back is kept; our own EXTERNAL_ triggers are not
activity; conversations of nobody stored go after the limit."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import List, Tuple

import pytest
from sqlalchemy import text
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.privacy import retention
from bot.storage import Store
from bot.tracker_store import ErasableSQLTrackerStore

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 6, 1, 12, tzinfo=timezone.utc)

pytestmark = pytest.mark.filterwarnings("ignore:Slot auto-fill has been removed:UserWarning")


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def dbs(tmp_path: Path, domain: Domain):
    store = Store(f"sqlite:///{tmp_path / 'atouts.db'}")
    store.migrate()
    trackers = ErasableSQLTrackerStore(domain, dialect="sqlite", db=str(tmp_path / "rasa_tracker.db"))
    engine = retention._tracker_engine(f"sqlite:///{tmp_path / 'rasa_tracker.db'}")
    yield store, trackers, engine
    engine.dispose()
    store.close()


def person(store: Store, trackers: ErasableSQLTrackerStore, domain: Domain, sender: str,
           last_message: datetime, consent: bool = True, later_triggers: int = 0) -> None:
    if consent:
        store.record_consent(sender, True, "v1", "rest")
        store.add_experience(sender, "J'ai tenu la caisse tout l'été.")
        with store._engine.begin() as connection:  # consented on the day of that message
            connection.execute(text("UPDATE persons SET consent_at = :t, created_at = :t WHERE sender_id = :s"),
                               {"t": last_message - timedelta(minutes=5), "s": sender})
    ts = last_message.timestamp()
    events = [ActionExecuted("action_session_start", timestamp=ts - 5), ActionExecuted("action_listen", timestamp=ts - 4),
              SlotSet("consent", "oui" if consent else "non", timestamp=ts - 3),
              UserUttered("salut", {"name": "greet", "confidence": 1.0}, timestamp=ts),
              BotUttered("Salut !", timestamp=ts + 1)]
    for i in range(later_triggers):  # e.g. a follow-up fired by our servers, months later
        t = ts + (i + 1) * 30 * 86400
        events += [UserUttered(f"/EXTERNAL_follow_up", {"name": "EXTERNAL_follow_up", "confidence": 1.0}, timestamp=t),
                   BotUttered("Alors, ça a donné quoi ?", timestamp=t + 1)]
    asyncio.run(trackers.save(DialogueStateTracker.from_events(sender, events, domain.slots)))


class Calls:
    def __init__(self, answer: bool = True) -> None:
        self.answer, self.calls = answer, []  # type: List[Tuple[str, date]]

    def __call__(self, sender: str, erase_on: date) -> bool:
        self.calls.append((sender, erase_on))
        return self.answer


def test_told_first_then_erased_only_after_the_notice_delay(dbs, domain) -> None:
    store, trackers, engine = dbs
    person(store, trackers, domain, "rest:old", NOW - timedelta(days=400))
    notify = Calls()
    report = retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW)
    assert (report.notices_sent, report.persons_erased) == (1, 0)
    assert notify.calls == [("rest:old", (NOW + timedelta(days=30)).date())]
    assert store.has_consent("rest:old") and store.retention_notice_of("rest:old") == NOW
    # ten days later: still waiting, no second notice
    report = retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW + timedelta(days=10))
    assert (report.notices_sent, report.persons_erased, len(notify.calls)) == (0, 0, 1)
    assert store.has_consent("rest:old")
    # thirty days after the notice: erased, app rows and conversation
    report = retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW + timedelta(days=30))
    assert report.persons_erased == 1
    assert not store.has_consent("rest:old") and store.export_person("rest:old").get("experiences") in (None, [])
    assert retention.last_activity(engine) == {}


def test_the_notice_comes_before_the_limit(dbs, domain) -> None:
    store, trackers, engine = dbs
    person(store, trackers, domain, "rest:soon", NOW - timedelta(days=340))  # 25 days before the limit
    person(store, trackers, domain, "rest:active", NOW - timedelta(days=100))
    notify = Calls()
    retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW)
    assert notify.calls == [("rest:soon", (NOW + timedelta(days=30)).date())]  # never less than 30 days
    report = retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW + timedelta(days=26))
    assert report.persons_erased == 0  # past the limit, but the notice is only 26 days old
    report = retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW + timedelta(days=30))
    assert report.persons_erased == 1 and store.has_consent("rest:active")


def test_nobody_is_erased_without_a_notice(dbs, domain) -> None:
    store, trackers, engine = dbs
    person(store, trackers, domain, "rest:unreachable", NOW - timedelta(days=800))
    for days_later in (0, 40, 400):  # Rasa down at every run
        report = retention.run(store, engine, days=365, notice_days=30, notify=Calls(answer=False),
                               now=NOW + timedelta(days=days_later))
        assert (report.notices_failed, report.persons_erased) == (1, 0)
    assert store.has_consent("rest:unreachable") and store.retention_notice_of("rest:unreachable") is None
    report = retention.run(store, engine, days=365, notice_days=30, notify=None, now=NOW)
    assert report.persons_erased == 0


def test_a_person_who_writes_again_is_kept(dbs, domain) -> None:
    store, trackers, engine = dbs
    person(store, trackers, domain, "rest:back", NOW - timedelta(days=350))
    retention.run(store, engine, days=365, notice_days=30, notify=Calls(), now=NOW)
    assert store.retention_notice_of("rest:back") == NOW
    tracker = asyncio.run(trackers.retrieve("rest:back"))
    tracker.update(UserUttered("coucou je suis là", {"name": "greet", "confidence": 1.0},
                               timestamp=(NOW + timedelta(days=5)).timestamp()))
    asyncio.run(trackers.save(tracker))
    report = retention.run(store, engine, days=365, notice_days=30, notify=Calls(), now=NOW + timedelta(days=40))
    assert (report.persons_erased, report.notices_sent) == (0, 0)
    assert store.has_consent("rest:back") and store.retention_notice_of("rest:back") is None


def test_our_own_triggers_are_not_activity(dbs, domain) -> None:
    store, trackers, engine = dbs
    person(store, trackers, domain, "rest:reminded", NOW - timedelta(days=400), later_triggers=2)
    assert retention.last_activity(engine)["rest:reminded"] == NOW - timedelta(days=400)
    notify = Calls()
    retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW)
    assert [sender for sender, _ in notify.calls] == ["rest:reminded"]


def test_conversations_of_nobody_go_after_the_limit_without_notice(dbs, domain) -> None:
    store, trackers, engine = dbs
    person(store, trackers, domain, "rest:refused", NOW - timedelta(days=400), consent=False)
    person(store, trackers, domain, "rest:refused-recent", NOW - timedelta(days=10), consent=False)
    notify = Calls()
    report = retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW)
    assert (report.conversations_erased, notify.calls) == (1, [])
    assert set(retention.last_activity(engine)) == {"rest:refused-recent"}


def test_dry_run_changes_nothing(dbs, domain) -> None:
    store, trackers, engine = dbs
    person(store, trackers, domain, "rest:old", NOW - timedelta(days=400))
    notify = Calls()
    report = retention.run(store, engine, days=365, notice_days=30, notify=notify, now=NOW, dry_run=True)
    assert (report.notices_sent, notify.calls) == (1, [])
    assert store.retention_notice_of("rest:old") is None


def test_the_notice_message() -> None:
    from bot import messages

    text = messages.retention_notice("Inès", date(2027, 7, 1), 11)
    assert text.startswith("Coucou Inès 👋") and "1er juillet 2027" in text and "mes données" in text
    assert len(text) < 320  # one phone screen

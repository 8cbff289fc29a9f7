"""bot.web.scheduler: the web app sends the due follow-ups through Rasa's API, once,
retries what Rasa refused, and catches up what came due while it was down — on SQLite
and PostgreSQL (a real database, a fake Rasa over real HTTP)."""
from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

from bot.storage import Store
from bot.web.app import create_app
from bot.web.scheduler import run_once, scheduler_ctx
from tests.unit.test_referent_page import RASA_TOKEN, FakeRasa, make_settings, start_fake_rasa

SENDER = "tg:42"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    s.migrate()
    s.record_consent(SENDER, True, "v1", channel="telegram")
    yield s
    s.close()


def polls(store: Store, tmp_path: Path, rasa: FakeRasa, *moments: datetime) -> list[int]:
    """run_once at each moment, on an app without its own polling loop."""

    async def main() -> list[int]:
        async with contextlib.AsyncExitStack() as stack:
            url = await start_fake_rasa(stack, rasa)
            app = create_app(make_settings(tmp_path, rasa_url=url), store)
            app.cleanup_ctx.remove(scheduler_ctx)
            from aiohttp.test_utils import TestClient, TestServer

            await stack.enter_async_context(TestClient(TestServer(app)))  # startup: HTTP client, loop
            return [await run_once(app, moment) for moment in moments]

    return asyncio.run(main())


def test_a_due_follow_up_is_triggered_once_on_the_persons_channel(store: Store, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    store.schedule(SENDER, "follow_up", now - timedelta(days=2), {"follow_up": "missions"})  # missed while down
    store.schedule("tg:other", "follow_up", now - timedelta(days=1), {})  # no consent: never kept
    rasa = FakeRasa()
    assert polls(store, tmp_path, rasa, now, now + timedelta(minutes=5)) == [1, 0]
    assert len(rasa.calls) == 1
    call = rasa.calls[0]
    assert call["sender_id"] == SENDER and call["json"] == {"name": "EXTERNAL_follow_up",
                                                           "entities": {"follow_up": "missions"}}
    assert call["query"] == {"output_channel": "latest", "token": RASA_TOKEN}


def test_a_follow_up_rasa_refused_is_sent_at_the_next_poll(store: Store, tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    store.schedule(SENDER, "follow_up", now - timedelta(minutes=1), {"follow_up": "resource:x"})
    rasa = FakeRasa(statuses=(503,))
    assert polls(store, tmp_path, rasa, now, now + timedelta(seconds=30), now + timedelta(minutes=1)) == [0, 1, 0]
    assert len(rasa.calls) == 2


def test_the_apps_own_loop_sends_it(store: Store, tmp_path: Path) -> None:
    store.schedule(SENDER, "follow_up", datetime.now(timezone.utc) - timedelta(seconds=1), {})
    rasa = FakeRasa()

    async def main() -> Any:
        async with contextlib.AsyncExitStack() as stack:
            url = await start_fake_rasa(stack, rasa)
            app = create_app(make_settings(tmp_path, rasa_url=url, scheduler_poll_seconds=0.2), store)
            from aiohttp.test_utils import TestClient, TestServer

            await stack.enter_async_context(TestClient(TestServer(app)))
            for _ in range(50):
                if rasa.calls:
                    break
                await asyncio.sleep(0.1)

    asyncio.run(main())
    assert len(rasa.calls) == 1 and store.pending_scheduled(SENDER) == []

"""Sends the scheduled proactive messages (the follow-up reminder) when they are due.

Every web app process polls the app database (``ATOUTS_SCHEDULER_POLL`` seconds, 30 by
default), takes the due rows no other process holds (``Store.claim_due``: a conditional
UPDATE under a lease, so with several replicas each message is sent once), triggers
``EXTERNAL_<kind>`` on the person's conversation through Rasa's API and settles the row:
done when Rasa accepted it, released otherwise (tried again at the next poll). The rows
live in the database: a restart forgets nothing, and messages that came due while every
server was down go out at the first poll after.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Optional

from aiohttp import web

from bot.web.app import SETTINGS_KEY, STORE_KEY

log = logging.getLogger(__name__)

INTENTS = {"follow_up": "EXTERNAL_follow_up"}
TASK_KEY = web.AppKey("scheduler_task", asyncio.Task)


async def run_once(app: web.Application, now: Optional[datetime] = None) -> int:
    """Send what is due now; how many were accepted by Rasa."""
    from bot.web.referent import trigger_intent

    store = app[STORE_KEY]
    due = await asyncio.to_thread(store.claim_due, now)
    sent = 0
    for message in due:
        ok, _, problem = await trigger_intent(app, message.sender_id, INTENTS[message.kind], message.entities)
        if not ok:
            log.warning("scheduled %s not sent (%s): tried again at the next poll", message.kind, problem)
        await asyncio.to_thread(store.settle_scheduled, message.id, ok)
        sent += ok
    return sent


async def _loop(app: web.Application) -> None:
    every = app[SETTINGS_KEY].scheduler_poll_seconds
    while True:
        try:
            await run_once(app)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup must not stop the loop
            log.exception("scheduler: poll failed, trying again")
        await asyncio.sleep(every)


async def scheduler_ctx(app: web.Application):
    """aiohttp cleanup context: the polling task lives as long as the app."""
    app[TASK_KEY] = asyncio.create_task(_loop(app))
    yield
    app[TASK_KEY].cancel()
    try:
        await app[TASK_KEY]
    except asyncio.CancelledError:
        pass

"""Delivering what was missed: the Rasa-side half of the outbox (``bot/storage/outbox.py``).

A notice (a referent answered, a badge, a follow-up reminder) is written to the outbox
by the action that produces it, and each of its messages carries the notice id in its
metadata (``NOTICE_KEY``). Then:

- **Live.** Our output channels (``NoticeAware``) send a notice's messages only after
  claiming it, and mark it delivered when the platform took them: Telegram and
  Messenger when the send call returned OK, Socket.IO only when a socket of the
  person's session is connected (Rasa's ``SocketIOOutput`` emits into a room whether
  or not anyone is in it). REST cannot push: Rasa's ``CollectingOutputChannel``
  collects proactive messages for nobody, so they stay pending.
- **Later.** ``with_missed`` wraps the ``on_new_message`` callback every input channel
  hands its user messages to: before the message goes to Rasa, the person's pending
  notices are claimed (one indexed query when there are none) and sent on the same
  output channel under « Pendant ton absence… », so they come before the answer.

Wrapping the callback (rather than an action or a rule run every turn) keeps it out of
the dialogue: no extra action-server call, no event in the tracker, no rule to keep in
step with every form, and it works the same for every channel.
"""
from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage

from bot.messages import missed_notices
from bot.storage import PendingNotice, Store
from bot.storage.outbox import NOTICE_KEY

log = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class Outbox:
    """The app database's outbox, seen from the Rasa server (blocking calls in a thread)."""

    def __init__(self, store: Optional[Store] = None) -> None:
        self._store = store

    @property
    def store(self) -> Store:
        if self._store is None:
            from bot import services

            self._store = services.store()  # ATOUTS_DB_URL, migrated on first use
        return self._store

    async def claim(self, sender_id: str, notice_id: int) -> bool:
        return await asyncio.to_thread(self.store.claim_notice, sender_id, notice_id)

    async def settle(self, sender_id: str, notice_id: int, delivered: bool) -> None:
        await asyncio.to_thread(self.store.settle_notice, sender_id, notice_id, delivered)

    async def deliver_missed(self, message: UserMessage) -> int:
        """Send the person's pending notices on the message's channel, before Rasa
        answers it; returns how many. A failure is logged (never the text) and the
        notices stay pending: the person's own message is handled anyway."""
        sender_id = message.sender_id
        channel = message.output_channel
        if not sender_id or channel is None:
            return 0
        try:
            pending: List[PendingNotice] = await asyncio.to_thread(self.store.claim_missed, sender_id)
        except Exception as exc:  # the database is down: the turn must still be answered
            log.warning("outbox: pending notices not read (%s)", type(exc).__name__)
            return 0
        if not pending:
            return 0
        text = missed_notices([n.text for n in pending])
        try:
            delivered = await _send(channel, sender_id, {"text": text})
        except Exception as exc:
            log.warning("outbox: missed notices not sent (%s)", type(exc).__name__)
            delivered = False
        if not delivered:
            await asyncio.to_thread(self.store.unclaim_missed, sender_id, [n.id for n in pending])
            return 0
        log.info("outbox: %d missed notice(s) delivered", len(pending))
        return len(pending)


OUTBOX = Outbox()


async def _send(channel: OutputChannel, recipient_id: str, message: Dict[Text, Any]) -> bool:
    if isinstance(channel, NoticeAware):
        return await channel.deliver(recipient_id, message)
    await channel.send_response(recipient_id, message)
    return True


def with_missed(on_new_message: OnNewMessage, outbox: Optional[Outbox] = None,
                adapt: Optional[Callable[[UserMessage], None]] = None) -> OnNewMessage:
    """``on_new_message`` preceded by the delivery of the person's missed notices and
    followed, when the safety layer asks for it, by its check-in line (channels/check_in.py).
    ``adapt`` may first swap the message's output channel for a notice-aware one."""
    from channels.check_in import with_check_in

    on_new_message = with_check_in(on_new_message)

    @functools.wraps(on_new_message)
    async def handler(message: UserMessage) -> Any:
        if adapt is not None:
            adapt(message)
        await (outbox or OUTBOX).deliver_missed(message)
        return await on_new_message(message)

    return handler


class NoticeAware(OutputChannel):
    """Mixin (before the platform's output channel) that sends a notice's messages only
    once: claimed before its first message, delivered when the platform took it,
    released (for « Pendant ton absence… ») when the person cannot be reached or a
    send fails. Subclasses call ``not_delivered()`` when a send was dropped without an
    exception, and may override ``reachable``."""

    outbox: Optional[Outbox] = None

    def _state(self) -> Dict[int, str]:
        states = self.__dict__.get("_notice_states")
        if states is None:
            states = self.__dict__["_notice_states"] = {}
        return states

    def not_delivered(self) -> None:
        """A send was dropped (person unreachable, platform refused) without raising."""
        self.__dict__["_dropped"] = True

    async def reachable(self, recipient_id: Text) -> bool:
        return True

    async def deliver(self, recipient_id: Text, message: Dict[Text, Any]) -> bool:
        """Send and say whether the platform took it."""
        self.__dict__["_dropped"] = False
        await self._platform_send(recipient_id, message)
        return not self.__dict__.get("_dropped", False)

    async def _platform_send(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await super().send_response(recipient_id, message)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        notice = message.get(NOTICE_KEY)
        if not isinstance(notice, int) or isinstance(notice, bool):
            return await self._platform_send(recipient_id, message)
        outbox = self.outbox or OUTBOX
        states = self._state()
        state = states.get(notice)
        if state is None:  # the notice's first message: is it ours to send?
            mine = await self.reachable(recipient_id) and await outbox.claim(recipient_id, notice)
            state = states[notice] = "claimed" if mine else "skip"
        if state == "skip":
            return None
        try:
            sent = await self.deliver(recipient_id, message)
        except Exception:
            states[notice] = "skip"
            await outbox.settle(recipient_id, notice, delivered=False)
            raise
        if not sent:
            states[notice] = "skip"
            await outbox.settle(recipient_id, notice, delivered=False)
        elif state == "claimed":
            states[notice] = "sent"
            await outbox.settle(recipient_id, notice, delivered=True)
        return None

"""The safety layer's check-in, for every channel.

A message that might hide a crisis without being clear enough to stop the conversation
(``bot.safety.classifier``, tier ``check_in``) gets its usual answer, then one short
line with two help lines. Done around the ``on_new_message`` callback that every input
channel hands its messages to (like the missed notices, channels/outbox.py): no extra
action or rule in the dialogue, nothing in the tracker, the same on every channel.
The assessment is the one the NLU component makes (same code, same data, same process).
"""
from __future__ import annotations

import functools
import logging
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot.safety.classifier import CHECK, assess
from bot.safety.helplines import default_helplines
from bot.safety.messages import check_in_message

log = logging.getLogger(__name__)


def with_check_in(on_new_message: Any) -> Any:
    @functools.wraps(on_new_message)
    async def handler(message: UserMessage) -> Any:
        result = await on_new_message(message)
        text = message.text if isinstance(message.text, str) else ""
        try:
            found = assess(text)
        except Exception as exc:  # noqa: BLE001 - never lose the answer for the check-in
            log.error("check-in skipped (%s)", type(exc).__name__)
            return result
        if found.level == CHECK and message.output_channel is not None:
            line = check_in_message(found.categories, default_helplines())
            await message.output_channel.send_response(message.sender_id, line)
            log.info("check-in line sent")  # never the message nor the person
        return result

    return handler

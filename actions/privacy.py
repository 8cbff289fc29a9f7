"""Privacy actions that nobody types: the retention notice.

``bot.privacy.retention`` (daily) triggers ``EXTERNAL_retention_notice`` through Rasa's
API (token) for a person inactive for almost ``ATOUTS_RETENTION_DAYS``, after recording
the notice in the app database. The message is kept in the outbox too, so a person
who cannot be reached live reads it at their next message."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.actions import _first_name
from actions.challenge import _entity, notice_tag
from bot import messages, services

RECENT = timedelta(days=1)  # a notice recorded by this run of the job


def _erase_on(tracker: Tracker) -> Optional[date]:
    try:
        day = date.fromisoformat(_entity(tracker, "erase_on") or "")
    except ValueError:
        return None
    today = datetime.now(timezone.utc).date()
    return day if today <= day <= today + timedelta(days=400) else None


class ActionRetentionNotice(Action):
    def name(self) -> Text:
        return "action_retention_notice"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        store = services.store()
        noticed = store.retention_notice_of(tracker.sender_id)  # the job's own record, not the caller's word
        erase_on = _erase_on(tracker)
        if noticed is None or erase_on is None or datetime.now(timezone.utc) - noticed > RECENT:
            return []
        settings = services.settings()  # the job tells people silent for DAYS - NOTICE_DAYS
        months = max(1, round((settings.retention_days - settings.retention_notice_days) / 30))
        text = messages.retention_notice(_first_name(tracker), erase_on, months)
        notice = store.add_notice(tracker.sender_id, "retention", text)
        dispatcher.utter_message(text=text, **notice_tag(notice))
        return []

"""Safety actions (thin: words and lines come from ``bot.safety``).

Predicted by ``bot.nlu.safety_policy.SafetyPolicy`` right after a message whose
intent is ``crisis``, ``ask_human`` or ``other_language``, in every state. Each
pauses the active form (``ActiveLoop(None)``, its name kept in ``paused_form`` for
« reprendre ») and never pushes the journey on.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.dialogue.asking import times_said_in_session
from bot.safety import messages
from bot.safety.helplines import default_helplines

logger = logging.getLogger(__name__)

FALLBACK_LOOP = "action_two_stage_fallback"


def _safety(tracker: Tracker) -> Dict[str, Any]:
    data = (tracker.latest_message or {}).get("safety")
    return data if isinstance(data, dict) else {}


def pause_active_form(tracker: Tracker) -> List[EventType]:
    """End the active loop; a form's name is kept in ``paused_form``."""
    name = (tracker.active_loop or {}).get("name")
    if not name:
        return []
    events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
    if name != FALLBACK_LOOP:
        events.append(SlotSet("paused_form", name))
    return events


def _utter(dispatcher: CollectingDispatcher, items: List[Dict[str, Any]]) -> None:
    for item in items:
        dispatcher.utter_message(text=item["text"], buttons=item.get("buttons") or [])


class ActionCrisisSupport(Action):
    def name(self) -> Text:
        return "action_crisis_support"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        categories = [c for c in _safety(tracker).get("categories") or [] if isinstance(c, str)]
        _utter(dispatcher, messages.crisis_messages(categories, default_helplines()))
        logger.info("Crisis support given (categories: %s).", ", ".join(categories) or "none")
        return pause_active_form(tracker) + [SlotSet("distress_seen", True)]


def _partner_contact(sender_id: str) -> Optional[Tuple[str, str, str]]:
    """(group, contact name, contact) of the latest group with a contact, if any."""
    try:
        from bot import services

        groups = services.store().groups_of(sender_id)
    except Exception:  # the database is down: the national services still help
        logger.exception("Could not read the person's partner groups.")
        return None
    for group in reversed(groups):
        if group.contact and group.contact_name:
            return group.name, group.contact_name, group.contact
    return None


class ActionTalkToHuman(Action):
    def name(self) -> Text:
        return "action_talk_to_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        distress = bool(tracker.get_slot("distress_seen"))
        _utter(dispatcher, messages.human_messages(
            _partner_contact(tracker.sender_id), default_helplines(), distress))
        return pause_active_form(tracker)


class ActionOtherLanguage(Action):
    def name(self) -> Text:
        return "action_other_language"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        language = _safety(tracker).get("language")
        before = times_said_in_session(tracker.events, messages.OTHER_LANGUAGE_TAP.values())
        _utter(dispatcher, messages.other_language_messages(language if isinstance(language, str) else "en", before))
        return pause_active_form(tracker)

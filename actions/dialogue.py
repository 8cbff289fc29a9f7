"""Interruptions inside forms (pause, leave, resume) and how every form question is asked.

What each intent does inside each form is in data/dialogue/interruptions.yml; the
rules that call these actions are generated from it (data/rules/interruptions.yml).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import messages
from bot.conversation import clear_consent, yes_no
from bot.dialogue.asking import question
from bot.dialogue.interruptions import Table

PAUSED = "paused_form"


@lru_cache(maxsize=1)
def table() -> Table:
    return Table.load()


def intent_of(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def ask(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, text: str,
        buttons: Optional[Sequence[Dict[str, str]]] = None) -> None:
    """Every form question goes through here: a way out, never the same way a third time."""
    text, buttons = question(slot, text, buttons, tracker.events)
    dispatcher.utter_message(text=text, buttons=buttons)


def _active(tracker: Tracker) -> Optional[str]:
    return (tracker.active_loop or {}).get("name")


def _run_again_since_paused(tracker: Tracker, form: str) -> bool:
    """The form was opened again after it was put aside (finished or put aside anew since)."""
    paused_at = None
    for index, event in enumerate(tracker.events):
        if event.get("event") == "slot" and event.get("name") == PAUSED and event.get("value") == form:
            paused_at = index
    if paused_at is None:
        return False
    return any(e.get("event") == "active_loop" and e.get("name") == form for e in tracker.events[paused_at:])


def _worth_resuming(tracker: Tracker, domain: DomainDict, form: str) -> bool:
    """Something is left to ask, and the form had really started."""
    if not table().resumable(form):
        return False
    progress = table().progress_slot(form)
    if progress and not tracker.get_slot(progress):
        return False
    required = ((domain.get("forms") or {}).get(form) or {}).get("required_slots") or []
    return any(tracker.get_slot(s) is None for s in required) if required else True


def _put_aside(tracker: Tracker, form: Optional[str]) -> List[EventType]:
    remembered = form if form and table().resumable(form) else tracker.get_slot(PAUSED)
    return [SlotSet(PAUSED, remembered), ActiveLoop(None), SlotSet("requested_slot", None)]


class ActionPauseForm(Action):
    """« stop » inside a form: put it aside, say how to come back (with a button)."""

    def name(self) -> Text:
        return "action_pause_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        form = _active(tracker)
        if form and _worth_resuming(tracker, domain, form):
            dispatcher.utter_message(
                text=messages.paused(table().label(form), assessment=form == "assessment_form"),
                buttons=[messages.RESUME_BUTTON, {"title": "Menu", "payload": "/help"}])
            return _put_aside(tracker, form)
        if form and not table().resumable(form):  # the erasure question: nothing to come back to
            dispatcher.utter_message(text=messages.not_erased())
        else:  # stopped before anything was said: nothing to resume, the menu
            dispatcher.utter_message(text=messages.STOPPED, buttons=messages.RESUME_MENU_BUTTONS)
        return _put_aside(tracker, None)


class ActionLeaveForm(Action):
    """A menu request inside a form: put the form aside, the request's own rules follow."""

    def name(self) -> Text:
        return "action_leave_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        form = _active(tracker)
        if form and _worth_resuming(tracker, domain, form):
            dispatcher.utter_message(text=messages.left_aside(table().label(form)))
            return _put_aside(tracker, form)
        return _put_aside(tracker, None)


class ActionResumeForm(Action):
    """« reprendre »: back to the form put aside, at the question where it was;
    nothing put aside: the menu."""

    def name(self) -> Text:
        return "action_resume_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        active, paused = _active(tracker), tracker.get_slot(PAUSED)
        if active:
            if (paused and paused != active and _worth_resuming(tracker, domain, paused)
                    and not _run_again_since_paused(tracker, paused)):
                dispatcher.utter_message(text=messages.resuming(table().label(paused)))
                return _put_aside(tracker, active) + [FollowupAction(paused)]
            dispatcher.utter_message(text=messages.GO_ON)
            return []
        if paused and _worth_resuming(tracker, domain, paused) and not _run_again_since_paused(tracker, paused):
            dispatcher.utter_message(text=messages.resuming(table().label(paused)))
            return [SlotSet(PAUSED, None), FollowupAction(paused)]
        dispatcher.utter_message(text=messages.NOTHING_TO_RESUME, buttons=messages.RESUME_MENU_BUTTONS)
        return [SlotSet(PAUSED, None)]


class ValidateConsentForm(FormValidationAction):
    """Typed answers to the privacy question: « non merci », « je préfère pas »."""

    def name(self) -> Text:
        return "validate_consent_form"

    def validate_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value in ("oui", "non") or value is None:
            return {"consent": value}
        if intent_of(tracker) in ("skip", "deny"):
            return {"consent": "non"}
        text = value if isinstance(value, str) else None
        if intent_of(tracker) == "give_consent" and clear_consent(text):  # « ok garde mes données »
            return {"consent": "oui"}
        answer = yes_no(text)
        if answer is None and intent_of(tracker) == "export_my_data":
            # « tu as quoi sur moi ? »: answered (the question comes again)
            from actions.actions import ActionExportMyData

            ActionExportMyData().run(dispatcher, tracker, domain)
            return {"consent": None}
        if answer is None:
            dispatcher.utter_message(text=messages.CONSENT_NOT_UNDERSTOOD)
            return {"consent": None}
        return {"consent": "oui" if answer else "non"}

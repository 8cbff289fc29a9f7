"""Progresser actions: resources, volunteering missions, follow-up reminders, groups.

Thin: the logic lives in ``bot.progress`` (catalogue, recommendation, missions) and
``bot.storage``; texts in ``bot.messages``.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, ReminderCancelled, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.actions import _consent
from actions.challenge import _confirmed, _entity, _text, notice_tag
from actions.dialogue import ask
from bot import challenge, messages, services
from bot.dialogue.asking import times_asked
from bot.conversation import yes_no
from bot.nlu.text import fold
from bot.referentiel import Skill

FOLLOW_UP = "atouts_follow_up"  # the reminder's name: one pending at a time
RESOURCE_SLOTS = ["progress_skill"]
MISSION_SLOTS = ["progress_skill", "mission_place"]
_KIND_WORDS = {
    "video": ("video", "youtube", "regarder"), "article": ("article", "lire", "texte", "lecture"),
    "mooc": ("mooc", "cours", "formation"), "podcast": ("podcast", "ecouter", "audio"),
    "exercice": ("exercice", "pratique", "entrainer", "s'entrainer", "faire"),
}
_ANY = ("peu importe", "n'importe", "tout", "je sais pas", "sais pas", "m'en fiche", "egal")
_CODE = re.compile(r"\b([A-HJ-NP-Z2-9]{6})\b")


# --- helpers --------------------------------------------------------------------------
def _named_skill(tracker: Tracker, value: Any = None) -> Optional[Skill]:
    ref = services.referentiel()
    wanted = _entity(tracker, "skill") or (value if isinstance(value, str) else "")
    return ref.get(wanted) or ref.find(wanted) if wanted else None


def _offered_skills(tracker: Tracker) -> List[Skill]:
    ref = services.referentiel()
    if _consent(tracker):
        skills = _confirmed(tracker)
    else:
        skills = [s for s in (ref.get(i) for i in tracker.get_slot("session_skills") or []) if s]
    return skills or list(ref.skills.values())


def kinds_from_text(text: str) -> Optional[List[str]]:
    """["video"], [] for « peu importe », None when unclear."""
    folded = fold(text or "")
    if any(word in folded for word in _ANY):
        return []
    found = [kind for kind, words in _KIND_WORDS.items() if any(w in folded for w in words)]
    return found or None


def minutes_from_text(text: str) -> Optional[int]:
    """« 20 min », « 1h », « une heure », « pas beaucoup » -> minutes; None when unclear."""
    folded = fold(text or "")
    match = re.search(r"(\d{1,3})\s*(h|heure)", folded)
    if match:
        return min(int(match.group(1)) * 60, 600)
    match = re.search(r"(\d{1,3})", folded)
    if match:
        return max(5, min(int(match.group(1)), 600))
    if "heure" in folded:
        return 60
    if any(w in folded for w in ("pas beaucoup", "peu", "rapide", "vite")):
        return 10
    return None


def _schedule_follow_up(tracker: Tracker, what: str) -> List[EventType]:
    """Kept in the app database (``bot.storage.scheduling``), sent by the web app when due:
    it survives restarts and fires once across replicas (Rasa's reminders live in one
    server's memory). One pending per person: a new one replaces it."""
    seconds = services.settings().follow_up_seconds
    services.store().schedule(tracker.sender_id, "follow_up",
                              datetime.now(timezone.utc) + timedelta(seconds=seconds), {"follow_up": what})
    return []


def _days() -> int:
    return max(1, round(services.settings().follow_up_seconds / 86400))


# --- resources -----------------------------------------------------------------------------
class ActionStartResources(Action):
    def name(self) -> Text:
        return "action_start_resources"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        skill = _named_skill(tracker, _text(tracker))  # « progresser en rigueur »
        offered = _offered_skills(tracker)
        if skill is None and _consent(tracker) and len(offered) == 1:
            skill = offered[0]
        events: List[EventType] = [SlotSet("skill", None), SlotSet("progress_skill", skill.id if skill else None)]
        if _consent(tracker):  # asked once, remembered
            prefs = services.store().progress_prefs(tracker.sender_id)
            events.append(SlotSet("resource_kinds", list(prefs.kinds) if prefs.kinds is not None else None))
            events.append(SlotSet("resource_time", prefs.max_minutes))
        return events


class ActionAskProgressSkill(Action):
    def name(self) -> Text:
        return "action_ask_progress_skill"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "progress_skill", messages.ASK_PROGRESS_SKILL,
            messages.skill_buttons(_offered_skills(tracker)[:6]))
        return []


class ActionAskResourceKinds(Action):
    def name(self) -> Text:
        return "action_ask_resource_kinds"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "resource_kinds", messages.ASK_KINDS, messages.KIND_BUTTONS)
        return []


class ActionAskResourceTime(Action):
    def name(self) -> Text:
        return "action_ask_resource_time"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "resource_time", messages.ASK_TIME, messages.TIME_BUTTONS)
        return []


class _ProgressSkill:
    """Mixin (not an Action itself: the action server registers every Action subclass)."""

    def validate_progress_skill(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"progress_skill": None}
        skill = _named_skill(tracker, value)
        if skill is None and times_asked(tracker.events, "progress_skill",
                                         (messages.PROGRESS_SKILL_NOT_UNDERSTOOD,)) >= 2:
            offered = _offered_skills(tracker)  # never a fourth time: the first one offered
            if offered:
                dispatcher.utter_message(text=messages.progress_skill_chosen(offered[0].label))
                return {"progress_skill": offered[0].id}
        if skill is None:
            dispatcher.utter_message(text=messages.PROGRESS_SKILL_NOT_UNDERSTOOD)
        return {"progress_skill": skill.id if skill else None}


class ValidateResourcesForm(_ProgressSkill, FormValidationAction):
    def name(self) -> Text:
        return "validate_resources_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        return ["progress_skill", "resource_kinds", "resource_time"]

    def validate_resource_kinds(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"resource_kinds": None}
        if isinstance(value, list):  # remembered from an earlier time
            return {"resource_kinds": value}
        chosen = _entity(tracker, "kind")
        if chosen == messages.ANY_KIND:
            kinds: Optional[List[str]] = []
        elif chosen in messages.KIND_LABELS:
            kinds = [chosen]
        else:
            kinds = kinds_from_text(value if isinstance(value, str) else "")
        if kinds is None:
            dispatcher.utter_message(text=messages.KINDS_NOT_UNDERSTOOD)
            return {"resource_kinds": None}
        if _consent(tracker):
            services.store().set_progress_prefs(tracker.sender_id, kinds=kinds)
        return {"resource_kinds": kinds}

    def validate_resource_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"resource_time": None}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"resource_time": value}
        chosen = _entity(tracker, "minutes")
        minutes = int(chosen) if chosen and chosen.isdigit() else minutes_from_text(
            value if isinstance(value, str) else "")
        if minutes is None:
            dispatcher.utter_message(text=messages.TIME_NOT_UNDERSTOOD)
            return {"resource_time": None}
        if _consent(tracker):
            services.store().set_progress_prefs(tracker.sender_id, max_minutes=minutes)
        return {"resource_time": minutes}


def _weak_items_and_level(tracker: Tracker, skill: Skill) -> tuple:
    """What to work on: the items the person and their referents scored lowest."""
    if not _consent(tracker):
        return (), "en_progression"
    result, own, _ = challenge.evaluate(services.store(), skill, services.scoring_rules(), tracker.sender_id)
    weak = list(result.weak_items)
    if own is not None:  # then the person's own lowest answers
        weak += [i for i, v in sorted(own.answers.items(), key=lambda kv: kv[1]) if v <= 1 and i not in weak]
    return tuple(weak), result.level


class ActionRecommendResources(Action):
    def name(self) -> Text:
        return "action_recommend_resources"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        from bot.progress.catalogue import default_catalogue
        from bot.progress.recommend import History, Preferences, recommend

        reset = [SlotSet("progress_skill", None)]
        skill = services.referentiel().get(tracker.get_slot("progress_skill") or "")
        if skill is None:
            return reset
        consent = _consent(tracker)
        prefs = services.store().progress_prefs(tracker.sender_id) if consent else None
        kinds = tracker.get_slot("resource_kinds") or []
        minutes = tracker.get_slot("resource_time")
        weak, level = _weak_items_and_level(tracker, skill)
        picks = recommend(
            default_catalogue(), skill.id, weak_items=weak, level=level,
            history=History.from_statuses(prefs.history if prefs else {}),
            preferences=Preferences(kinds=frozenset(kinds), max_minutes=minutes if isinstance(minutes, int) else None),
        )
        if not picks:
            dispatcher.utter_message(text=messages.NO_MORE_RESOURCES, buttons=messages.more_ideas_buttons(skill.id)[:1])
            return reset
        dispatcher.utter_message(text=messages.resources_intro(skill))
        for pick in picks:
            dispatcher.utter_message(text=messages.resource_card(pick.resource, pick.reason),
                                     buttons=messages.resource_buttons(pick.resource.id))
        if consent:
            services.store().record_resources(tracker.sender_id, skill.id, [p.resource.id for p in picks])
        return reset + [SlotSet("follow_up_asked", None)]


class ActionResourceFeedback(Action):
    def name(self) -> Text:
        return "action_resource_feedback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        from bot.progress.catalogue import default_catalogue

        resource = default_catalogue().get(_entity(tracker, "resource") or "")
        feedback = _entity(tracker, "feedback")
        if resource is None or feedback not in ("done", "not_for_me"):
            dispatcher.utter_message(text=messages.FEEDBACK_USE_BUTTONS)
            return []
        if _consent(tracker):
            services.store().record_resources(tracker.sender_id, resource.skill_id, [resource.id], feedback)
        if feedback == "done":
            dispatcher.utter_message(text=messages.resource_done(resource.title),
                                     buttons=messages.more_ideas_buttons(resource.skill_id))
        else:
            dispatcher.utter_message(text=messages.resource_not_for_me(),
                                     buttons=messages.more_ideas_buttons(resource.skill_id)[1:])
        return []


# --- missions -------------------------------------------------------------------------------
class ActionStartMissions(Action):
    def name(self) -> Text:
        return "action_start_missions"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        skill = _named_skill(tracker, _text(tracker))  # « progresser en rigueur »
        offered = _offered_skills(tracker)
        if skill is None and _consent(tracker) and len(offered) == 1:
            skill = offered[0]
        events: List[EventType] = [SlotSet("skill", None), SlotSet("progress_skill", skill.id if skill else None),
                                   SlotSet("mission_place", None)]
        if _consent(tracker):
            prefs = services.store().progress_prefs(tracker.sender_id)
            if prefs.department:  # never more precise than the department
                events[-1] = SlotSet("mission_place", prefs.department)
            if prefs.is_minor is not None:
                events.append(SlotSet("mission_minor", "oui" if prefs.is_minor else "non"))
        return events


class ActionAskMissionPlace(Action):
    def name(self) -> Text:
        return "action_ask_mission_place"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "mission_place", messages.ASK_PLACE)
        return []


class ActionAskMissionMinor(Action):
    def name(self) -> Text:
        return "action_ask_mission_minor"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "mission_minor", messages.ASK_MINOR, messages.YES_NO_BUTTONS)
        return []


REMOTE = "-"  # no place given after being asked three times: missions done from home


def _place(value: Any):  # noqa: ANN202 - bot.progress.missions.Place
    from bot.progress.missions import parse_place

    return None if value == REMOTE else parse_place(value if isinstance(value, str) else "")


class ValidateMissionsForm(_ProgressSkill, FormValidationAction):
    def name(self) -> Text:
        return "validate_missions_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        return ["progress_skill", "mission_place", "mission_minor"]

    def validate_mission_place(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"mission_place": None}
        if value == REMOTE:
            return {"mission_place": REMOTE}
        place = _place(value)
        if place is None and times_asked(tracker.events, "mission_place", (messages.PLACE_NOT_UNDERSTOOD,)) >= 2:
            dispatcher.utter_message(text=messages.PLACE_MOVED_ON)  # never a fourth time: remote missions
            return {"mission_place": REMOTE}
        if place is None:
            dispatcher.utter_message(text=messages.PLACE_NOT_UNDERSTOOD)
            return {"mission_place": None}
        if _consent(tracker) and place.department:
            services.store().set_progress_prefs(tracker.sender_id, department=place.department)
        # the slot keeps the department (or the town named): never the postcode
        return {"mission_place": place.stored() or place.city}

    def validate_mission_minor(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"mission_minor": None}
        answer = {"oui": True, "non": False}.get(value) if isinstance(value, str) else None
        if answer is None:
            answer = yes_no(value if isinstance(value, str) else None)
        if answer is None:
            dispatcher.utter_message(text=messages.MINOR_NOT_UNDERSTOOD, buttons=messages.YES_NO_BUTTONS)
            return {"mission_minor": None}
        if _consent(tracker):
            services.store().set_progress_prefs(tracker.sender_id, is_minor=answer)
        return {"mission_minor": "oui" if answer else "non"}


class ActionFindMissions(Action):
    def name(self) -> Text:
        return "action_find_missions"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        from bot.progress.engagement import shared_client
        from bot.progress.missions import find_missions

        reset = [SlotSet("progress_skill", None), SlotSet("mission_place", None), SlotSet("follow_up_asked", None)]
        skill = services.referentiel().get(tracker.get_slot("progress_skill") or "")
        if skill is None:
            return reset
        settings = services.settings()
        # one client per process: its cache outlives the turn; None without a key (offline)
        client = shared_client(settings.engagement_api_url or None, settings.engagement_api_key)
        minor = {"oui": True, "non": False}.get(tracker.get_slot("mission_minor") or "")
        try:
            result = await find_missions(skill.id, _place(tracker.get_slot("mission_place")), minor, client=client)
        finally:
            if client is not None:
                await client.close()
        if result.note:
            dispatcher.utter_message(text=result.note)
        if not result.missions:
            dispatcher.utter_message(text=messages.NO_MISSIONS)
            return reset
        dispatcher.utter_message(text=messages.missions_intro(skill))
        for mission in result.missions:
            dispatcher.utter_message(text=messages.mission_card(mission))
        return reset


# --- follow-up reminders ----------------------------------------------------------------------
def _what_to_follow(tracker: Tracker) -> str:
    """The last thing proposed: the first resource of the last proposal, else missions."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            for button in (event.get("data") or {}).get("buttons") or []:
                match = re.search(r'"resource":"([^"]+)"', button.get("payload") or "")
                if match:
                    return f"resource:{match.group(1)}"
        if event.get("event") == "action" and event.get("name") == "action_find_missions":
            return "missions"
    return "missions"


class ActionOfferFollowUp(Action):
    def name(self) -> Text:
        return "action_offer_follow_up"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not _consent(tracker):
            return []
        wanted = services.store().progress_prefs(tracker.sender_id).follow_ups
        if wanted is None:
            dispatcher.utter_message(text=messages.offer_follow_up(_days()), buttons=messages.YES_NO_BUTTONS)
            return [SlotSet("follow_up_asked", True)]
        if wanted:
            dispatcher.utter_message(text=messages.follow_up_scheduled(_days()))
            return _schedule_follow_up(tracker, _what_to_follow(tracker))
        return []


class ActionFollowUpAnswer(Action):
    def name(self) -> Text:
        return "action_follow_up_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if not tracker.get_slot("follow_up_asked") or not _consent(tracker):
            dispatcher.utter_message(text="OK 👍", buttons=messages.PROGRESS_BUTTONS)
            return []
        wanted = intent == "affirm"
        services.store().set_progress_prefs(tracker.sender_id, follow_ups=wanted)
        if not wanted:
            dispatcher.utter_message(text=messages.FOLLOW_UP_NO)
            return [SlotSet("follow_up_asked", None)]
        dispatcher.utter_message(text=messages.follow_up_scheduled(_days()))
        return [SlotSet("follow_up_asked", None), *_schedule_follow_up(tracker, _what_to_follow(tracker))]


class ActionFollowUp(Action):
    """The reminder fired (EXTERNAL_follow_up): ask how it went, offer a new story."""

    def name(self) -> Text:
        return "action_follow_up"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not _consent(tracker) or services.store().progress_prefs(tracker.sender_id).follow_ups is False:
            return []
        what = _entity(tracker, "follow_up") or ""
        about = "une mission de bénévolat"
        if what.startswith("resource:"):
            from bot.progress.catalogue import default_catalogue

            resource = default_catalogue().get(what[len("resource:"):])
            about = f"« {resource.title} »" if resource else "ce que je t'avais proposé"
        # kept in the outbox: if the person is away, it comes at their next message
        notice = services.store().add_notice(tracker.sender_id, "follow_up", messages.follow_up_notice(about))
        dispatcher.utter_message(text=messages.follow_up_question(about), buttons=messages.FOLLOW_UP_BUTTONS,
                                 **notice_tag(notice))
        return []


class ActionStopFollowUps(Action):
    def name(self) -> Text:
        return "action_stop_follow_ups"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _consent(tracker):
            services.store().set_progress_prefs(tracker.sender_id, follow_ups=False)
        services.store().cancel_scheduled(tracker.sender_id, "follow_up")
        dispatcher.utter_message(text=messages.FOLLOW_UPS_STOPPED)
        return [ReminderCancelled(name=FOLLOW_UP)]  # and any reminder an older version left in Rasa


# --- partner groups ----------------------------------------------------------------------------
class ActionJoinGroup(Action):
    def name(self) -> Text:
        return "action_join_group"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not _consent(tracker):  # ask for it again, as for the Challenger
            dispatcher.utter_message(text=messages.GROUP_NEEDS_CONSENT)
            return [SlotSet("consent", None), FollowupAction("consent_form")]
        match = _CODE.search(_text(tracker).upper())
        if match is None:
            dispatcher.utter_message(text=messages.GROUP_ASK_CODE)
            return []
        group = services.store().join_group(tracker.sender_id, match.group(1))
        if group is None:
            dispatcher.utter_message(text=messages.GROUP_UNKNOWN)
            return []
        dispatcher.utter_message(text=messages.group_joined(group.name), buttons=messages.MENU_BUTTONS)
        return []

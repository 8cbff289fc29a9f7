"""Rasa custom actions: they only translate between Rasa and ``bot/``."""
from __future__ import annotations

import abc
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, ReminderCancelled, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import ask, intent_of
from bot import messages, services
from bot.dialogue.asking import THIRD_TIME, answers_since_asked, times_asked
from bot.conversation import clean_first_name, yes_no
from bot.nlu.text import clean_user_text
from bot.skills import Proposal, aggregate, propose
from bot.story import PARTS, analyse, is_substantial

logger = logging.getLogger(__name__)

STORY_SLOTS = ["experience_story"] + [f"experience_{p}" for p in PARTS]
NO_NAME = "-"


# --- helpers ------------------------------------------------------------------
def _consent(tracker: Tracker) -> bool:
    return tracker.get_slot("consent") == "oui"


def _first_name(tracker: Tracker) -> Optional[str]:
    name = tracker.get_slot("first_name")
    return None if not name or name == NO_NAME else name


def _latest_soft_skills(tracker: Tracker) -> List[Dict[str, Any]]:
    skills = (tracker.latest_message or {}).get("soft_skills")
    return skills if isinstance(skills, list) else []


def _merge_story_skills(tracker: Tracker) -> List[Dict[str, Any]]:
    merged = aggregate([tracker.get_slot("story_skills") or [], _latest_soft_skills(tracker)])
    return [p.as_dict() for p in merged]


def _story_text(tracker: Tracker) -> str:
    return "\n".join(tracker.get_slot(s) for s in STORY_SLOTS if tracker.get_slot(s))


def _stale_button(value: Any) -> bool:
    """A button payload from an earlier message (« /affirm ») typed into a free-text question."""
    return isinstance(value, str) and value.strip().startswith("/")


def _asked(tracker: Tracker, slot: str) -> int:
    """How many times in a row ``slot`` was asked (its usual text or the third-time one)."""
    text = messages.ASK[slot][0] if slot in messages.ASK else ""
    return times_asked(tracker.events, slot, (text, THIRD_TIME.get(slot, "")))


def _reset_story() -> List[EventType]:
    names = STORY_SLOTS + [
        "story_skills", "pending_skills", "has_proposals", "experience_id",
        "confirmed_now", "skill_answer",
    ]
    return [SlotSet(name, None) for name in names]


# --- onboarding -----------------------------------------------------------------
class ActionRecordConsent(Action):
    def name(self) -> Text:
        return "action_record_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        given = _consent(tracker)
        services.store().record_consent(
            tracker.sender_id, given, messages.NOTICE_VERSION, tracker.get_latest_input_channel()
        )
        dispatcher.utter_message(text=messages.consent_answer(given))
        return []


class ValidateNameForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_name_form"

    def validate_first_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value == NO_NAME:
            return {"first_name": NO_NAME}
        name = None if _stale_button(value) else clean_first_name(value if isinstance(value, str) else None)
        if name is None and _asked(tracker, "first_name") >= 2:  # never a third time: move on
            dispatcher.utter_message(text=messages.NAME_SKIPPED)
            return {"first_name": NO_NAME}
        if name is None:
            dispatcher.utter_message(text=messages.name_not_understood())
        return {"first_name": name}


class ActionAfterName(Action):
    def name(self) -> Text:
        return "action_after_name"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        name = _first_name(tracker)
        events: List[EventType] = []
        latest = tracker.latest_message or {}
        if (latest.get("intent") or {}).get("name") == "give_name":
            # given in passing, outside the name form: the entity, else the text ("Inès" alone)
            entity = next((e.get("value") for e in latest.get("entities") or []
                           if e.get("entity") == "first_name" and isinstance(e.get("value"), str)), None)
            given = clean_first_name(entity or latest.get("text"))
            if given and given != name:
                name = given
                events.append(SlotSet("first_name", name))
        if _consent(tracker):
            services.store().set_first_name(tracker.sender_id, name)
        dispatcher.utter_message(text=messages.after_name(name))
        return events


# --- Repérer: the story -------------------------------------------------------------
class ActionStartStory(Action):
    """A story told outside the form: it becomes the form's first answer."""

    def name(self) -> Text:
        return "action_start_story"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        text = clean_user_text((tracker.latest_message or {}).get("text"))
        return _reset_story() + [SlotSet("experience_story", text or None)]


class ValidateExperienceForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_experience_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        if not tracker.get_slot("experience_story"):
            return list(STORY_SLOTS)
        told = analyse(_story_text(tracker))
        missing = set(told.missing())
        return ["experience_story"] + [
            f"experience_{p}" for p in PARTS
            if p in missing or tracker.get_slot(f"experience_{p}") is not None
        ]

    def _part(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        if _stale_button(value):
            dispatcher.utter_message(text=messages.STALE_BUTTON_IN_FORM)
            return {slot: None}
        text = clean_user_text(value if isinstance(value, str) else "")
        return {slot: text or "-", "story_skills": _merge_story_skills(tracker)}

    def validate_experience_story(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if _stale_button(value):
            dispatcher.utter_message(text=messages.STALE_BUTTON_IN_FORM)
            return {"experience_story": None}
        text = clean_user_text(value if isinstance(value, str) else "")
        skills = _merge_story_skills(tracker)
        if text and intent_of(tracker) in ("resume", "want_to_tell"):  # taken before: go on with it
            return {"experience_story": text, "story_skills": skills}
        if not is_substantial(text, len(skills)):
            if _asked(tracker, "experience_story") >= 2:
                # never a third time: move on with what was said (« foot », « attaquant »)
                told = clean_user_text(" ".join(answers_since_asked(tracker.events, "experience_story")))
                return {"experience_story": told or text or "-", "story_skills": skills}
            dispatcher.utter_message(text=messages.STORY_TOO_SHORT)
            return {"experience_story": None}
        return {"experience_story": text, "story_skills": skills}

    def validate_experience_action(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._part("experience_action", value, dispatcher, tracker)

    def validate_experience_difficulty(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._part("experience_difficulty", value, dispatcher, tracker)

    def validate_experience_result(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._part("experience_result", value, dispatcher, tracker)


class ActionProposeSkills(Action):
    def name(self) -> Text:
        return "action_propose_skills"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        pending = tracker.get_slot("pending_skills") or []
        if pending:  # paused in the middle of the confirmations: carry on, nothing twice
            dispatcher.utter_message(text=messages.RESUME_CONFIRMATIONS)
            return [SlotSet("has_proposals", True)]
        ref = services.referentiel()
        candidates = [p for p in aggregate([tracker.get_slot("story_skills")]) if ref.get(p.skill_id)]
        proposals = propose(candidates)
        experience_id = tracker.get_slot("experience_id")
        if _consent(tracker) and experience_id is None:
            details = {
                p: tracker.get_slot(f"experience_{p}") for p in PARTS
                if tracker.get_slot(f"experience_{p}") not in (None, "-")
            }
            experience_id = services.store().add_experience(
                tracker.sender_id, tracker.get_slot("experience_story") or "", details
            )
        if not proposals:
            dispatcher.utter_message(text=messages.no_proposal())
            return [SlotSet("has_proposals", False), SlotSet("experience_id", experience_id)]
        dispatcher.utter_message(text=messages.proposals_intro(len(proposals), _first_name(tracker)))
        return [
            SlotSet("pending_skills", [p.as_dict() for p in proposals]),
            SlotSet("has_proposals", True),
            SlotSet("experience_id", experience_id),
            SlotSet("confirmed_now", []),
        ]


class ActionAskSkillAnswer(Action):
    def name(self) -> Text:
        return "action_ask_skill_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        pending = tracker.get_slot("pending_skills") or []
        if not pending:
            return []
        proposal = Proposal.from_dict(pending[0])
        skill = services.referentiel().get(proposal.skill_id)
        if skill is not None:
            ask(dispatcher, tracker, "skill_answer", messages.proposal_question(skill, proposal),
                messages.CONFIRM_BUTTONS)
        return []


class ValidateConfirmSkillsForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_confirm_skills_form"

    def validate_skill_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        answer = {"oui": True, "non": False}.get(value) if isinstance(value, str) else None
        if answer is None:
            answer = yes_no(value if isinstance(value, str) else None)
        if answer is None:
            dispatcher.utter_message(text=messages.USE_BUTTONS)
            return {"skill_answer": None}
        pending = list(tracker.get_slot("pending_skills") or [])
        if not pending:
            return {"skill_answer": value}
        proposal = Proposal.from_dict(pending.pop(0))
        experience_id = tracker.get_slot("experience_id")
        if experience_id is not None and _consent(tracker):
            services.store().add_skill_claim(
                int(experience_id), proposal.skill_id, min(1.0, max(0.0, proposal.confidence)),
                "confirmed" if answer else "rejected", proposal.evidence,
            )
        confirmed = list(tracker.get_slot("confirmed_now") or [])
        session = list(tracker.get_slot("session_skills") or [])
        if answer:
            confirmed.append(proposal.skill_id)
            session.append(proposal.skill_id)
        return {
            "skill_answer": None if pending else ("oui" if answer else "non"),
            "pending_skills": pending,
            "confirmed_now": confirmed,
            "session_skills": session,
        }


class ActionSummariseSkills(Action):
    def name(self) -> Text:
        return "action_summarise_skills"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ref = services.referentiel()
        skills = [ref.get(s) for s in tracker.get_slot("confirmed_now") or []]
        dispatcher.utter_message(
            text=messages.summary([s for s in skills if s], stored=_consent(tracker))
        )
        return _reset_story()


# --- profile and explanations -----------------------------------------------------------
class ActionShowMySkills(Action):
    def name(self) -> Text:
        return "action_show_my_skills"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ref = services.referentiel()
        if _consent(tracker):
            store = services.store()
            summaries = store.confirmed_skills(tracker.sender_id)
            tests = {a.skill_id: "done" if a.completed else "started" for a in store.self_assessments(tracker.sender_id)}
            badges: Dict[str, str] = {}
            for badge in store.badges_of(tracker.sender_id):  # oldest first: the last is the highest
                if badge.revoked_at is None:
                    badges[badge.skill_id] = badge.level
            pending = sum(1 for i in store.invitations_of(tracker.sender_id) if i.state == "open")
            texts = messages.profile(summaries, ref, tests, badges, pending)
        else:
            summaries = services.session_summaries(tracker.get_slot("session_skills") or [])
            texts = messages.profile(summaries, ref)
        for text in texts[:-1]:
            dispatcher.utter_message(text=text)
        buttons = messages.PROFILE_BUTTONS if summaries else messages.MENU_BUTTONS[:1]
        dispatcher.utter_message(text=texts[-1], buttons=buttons)
        return []


class ActionExplainSkill(Action):
    def name(self) -> Text:
        return "action_explain_skill"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ref = services.referentiel()
        wanted = tracker.get_slot("skill")
        skill = (ref.get(wanted) or ref.find(wanted)) if isinstance(wanted, str) else None
        if skill is None:
            skill = ref.find((tracker.latest_message or {}).get("text") or "")
        text = messages.explain_skill(skill) if skill else messages.explain_soft_skills(ref)
        dispatcher.utter_message(text=text, buttons=messages.MENU_BUTTONS[:1])
        return [SlotSet("skill", None)]


# --- privacy ------------------------------------------------------------------------------
class ActionDeleteMyData(Action):
    def name(self) -> Text:
        return "action_delete_my_data"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot("delete_confirmed") is not True:
            dispatcher.utter_message(text=messages.not_erased())
            return [SlotSet("delete_confirmed", None)]
        services.store().erase_person(tracker.sender_id)
        dispatcher.utter_message(text=messages.erased())
        # No reminder after erasure; the tracker store sees the flag and erases the
        # whole conversation.
        return [ReminderCancelled(), SlotSet("data_erased", True)]


class ActionExportMyData(Action):
    def name(self) -> Text:
        return "action_export_my_data"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        config = services.settings()
        token = services.store().create_export_token(tracker.sender_id, config.export_ttl_seconds)
        if token is None:
            dispatcher.utter_message(text=messages.export_nothing())
        else:
            url = f"{config.public_url}/mes-donnees/{token}"
            dispatcher.utter_message(text=messages.export_link(url, config.export_ttl_seconds))
        return []


class ActionDefaultAskAffirmation(Action):
    """French version of the two-stage fallback's "did you mean…?"."""

    def name(self) -> Text:
        return "action_default_ask_affirmation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ranking = (tracker.latest_message or {}).get("intent_ranking") or []
        guess = next(
            (r.get("name") for r in ranking if r.get("name") not in (None, "nlu_fallback", "out_of_scope")),
            "help",
        )
        dispatcher.utter_message(
            text=messages.ask_affirmation(guess),
            buttons=[
                {"title": "Oui", "payload": f"/{guess}"},
                {"title": "Non, autre chose", "payload": "/out_of_scope"},
            ],
        )
        return []


class ActionDefaultAskRephrase(Action):
    def name(self) -> Text:
        return "action_default_ask_rephrase"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        asked = sum(1 for e in tracker.events[-12:] if e.get("event") == "bot" and e.get("text") == messages.REPHRASE)
        # asked twice already: the menu, so that nobody stays stuck
        dispatcher.utter_message(text=messages.REPHRASE, buttons=messages.FALLBACK_BUTTONS if asked else [])
        return []


class ActionDefaultFallback(Action):
    def name(self) -> Text:
        return "action_default_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(text=messages.DEFAULT_FALLBACK, buttons=messages.FALLBACK_BUTTONS)
        return [UserUtteranceReverted()]


class _AskSlot(Action, abc.ABC):
    """Asks a form slot with the text of ``bot.messages.ASK``."""

    @property
    @abc.abstractmethod
    def slot(self) -> str:
        """The form slot this action asks for."""

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        text, buttons = messages.ASK[self.slot]
        ask(dispatcher, tracker, self.slot, text, buttons)
        return []


for _slot in messages.ASK:
    if _slot == "first_name":  # asked by actions.challenge.ActionAskFirstName (two forms use it)
        continue
    globals()[f"ActionAsk_{_slot}"] = type(f"ActionAsk_{_slot}", (_AskSlot,), {"slot": _slot})

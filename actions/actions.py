"""Rasa custom actions: they only translate between Rasa and ``bot/``."""
from __future__ import annotations

import abc
import inspect
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, ReminderCancelled, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import ask, intent_of
from bot import messages, services
from bot.dialogue.asking import (MENU_BUTTON, THIRD_TIME, answers_since_asked, counted_in_session, next_count,
                                 question, said_since_shown, is_said, since_run_started, since_shown, times_asked,
                                 times_said_in_session, with_way_out)
from bot.conversation import clean_first_name, clear_consent, yes_no
from bot.nlu.text import clean_user_text
from bot.storage.challenge import row_id
from bot.skills import Proposal, aggregate, propose
from bot.skills.corrections import Correction, lexicon_for, parse_correction
from bot.skills.evidence import evidence_from_text
from bot.story import PARTS, analyse, is_substantial

logger = logging.getLogger(__name__)

STORY_SLOTS = ["experience_story"] + [f"experience_{p}" for p in PARTS]
PROBE_SLOT = "experience_probe"  # the one targeted question when no skill is clear
NO_NAME = "-"
# the picker when nothing is clear: likely skills first, then these (common in young lives)
DEFAULT_PICKS = ("travail_en_equipe", "gestion_du_stress", "perseverance", "autonomie", "organisation")
PICK_COUNT = 4
CONSENT_ASKS = "consent_asks"  # how many times the privacy question came in this session


# --- helpers ------------------------------------------------------------------
def _consent(tracker: Tracker) -> bool:
    return tracker.get_slot("consent") == "oui"


def _just_said(tracker: Tracker, text: str) -> bool:
    """The bot's latest message was ``text``."""
    last = next((e for e in reversed(tracker.events) if e.get("event") == "bot"), None)
    return bool(last) and is_said(last.get("text"), (text,))


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
    return "\n".join(tracker.get_slot(s) for s in STORY_SLOTS + [PROBE_SLOT]
                     if tracker.get_slot(s) not in (None, "-"))


def _stale_button(value: Any) -> bool:
    """A button payload from an earlier message (« /affirm ») typed into a free-text question."""
    return isinstance(value, str) and value.strip().startswith("/")


def _asked(tracker: Tracker, slot: str) -> int:
    """How many times in a row ``slot`` was asked (its usual text or the third-time one)."""
    ways = messages.wordings(slot) if slot in messages.ASK else ()
    return times_asked(tracker.events, slot, (*ways, THIRD_TIME.get(slot, "")))


def _reset_story() -> List[EventType]:
    names = STORY_SLOTS + [
        PROBE_SLOT, "story_skills", "pending_skills", "has_proposals", "experience_id",
        "confirmed_now", "skill_answer", "skill_shown", "no_skill_step",
    ]
    return [SlotSet(name, None) for name in names]


def _last_story(tracker: Tracker) -> Dict[str, Any]:
    last = tracker.get_slot("last_story")
    return last if isinstance(last, dict) else {}


def _remember_story(tracker: Tracker, confirmed: List[str], experience_id: Any = None) -> EventType:
    """What the corrections after the summary and the skill picker need."""
    last = _last_story(tracker)
    text = _story_text(tracker) or last.get("text") or ""
    if experience_id is None:
        experience_id = tracker.get_slot("experience_id")
    if experience_id is None and not _story_text(tracker):
        experience_id = last.get("experience_id")
    same = bool(last) and last.get("text") == text and last.get("experience_id") == experience_id
    kept = list(dict.fromkeys((last.get("confirmed") or []) + confirmed)) if same else list(confirmed)
    return SlotSet("last_story", {
        "experience_id": experience_id,
        "text": text,
        "skills": tracker.get_slot("story_skills") or (last.get("skills") if same else None) or [],
        "confirmed": kept,
    })


def _entity_skills(tracker: Tracker) -> List[str]:
    return [e.get("value") for e in (tracker.latest_message or {}).get("entities") or []
            if e.get("entity") == "skill" and isinstance(e.get("value"), str)]


def _latest_text(tracker: Tracker) -> str:
    return clean_user_text((tracker.latest_message or {}).get("text"))


def _parse_correction(tracker: Tracker) -> Optional[Correction]:
    text = _latest_text(tracker)
    if not text or text.startswith("/"):
        return None  # a button: its intent says it all
    return parse_correction(text, lexicon_for(services.referentiel()), _entity_skills(tracker))


def _new_proposal(skill_id: str, skills: Any, text: str, added: bool) -> Proposal:
    """A skill the person named or picked: the detector's score and evidence when it
    had one, else what the person did in the story (their own words)."""
    known = next((p for p in aggregate([skills or []]) if p.skill_id == skill_id), None)
    evidence = known.evidence if known and known.evidence else evidence_from_text(text)
    return Proposal(skill_id, known.confidence if known else 0.0, evidence, added)


def _record(tracker: Tracker, experience_id: Any, proposal: Proposal, confirmed: bool) -> None:
    """Only a skill the person saw (or named) and answered is saved."""
    row = row_id(experience_id)
    if row is None or not _consent(tracker):
        return
    if proposal.added and not confirmed:
        return  # named then taken back: not a detection to learn from
    services.store().add_skill_claim(  # scoped to this conversation's owner
        tracker.sender_id, row, proposal.skill_id, min(1.0, max(0.0, proposal.confidence)),
        "confirmed" if confirmed else "rejected", proposal.evidence,
    )


# --- onboarding -----------------------------------------------------------------
class ActionRecordConsent(Action):
    def name(self) -> Text:
        return "action_record_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if _just_said(tracker, messages.CONSENT_MOVED_ON) or _just_said(tracker, messages.CONSENT_KEPT):
            return []  # no answer: nothing recorded (never a withdrawal), already said
        given = _consent(tracker)
        services.store().record_consent(
            tracker.sender_id, given, messages.NOTICE_VERSION, tracker.get_latest_input_channel()
        )
        dispatcher.utter_message(text=messages.consent_answer(given))
        return []


class ActionAskConsent(Action):
    """The privacy question: at most twice as written, once more with plain choices; then,
    still unanswered in this session (across runs of the form), no answer is a « no »."""

    def name(self) -> Text:
        return "action_ask_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        text, buttons = messages.ASK["consent"]
        # counted in the events and in a slot: a long session reaches the action windowed
        seen = counted_in_session(tracker.events, tracker.get_slot(CONSENT_ASKS), (text, THIRD_TIME["consent"]))
        if seen >= 3:
            # no answer is not a withdrawal: a yes given before (app database) stands
            if services.store().has_consent(tracker.sender_id):
                dispatcher.utter_message(text=messages.CONSENT_KEPT)
                return [SlotSet("consent", "oui"), SlotSet("requested_slot", None)]
            dispatcher.utter_message(text=messages.CONSENT_MOVED_ON)
            return [SlotSet("consent", "non"), SlotSet("requested_slot", None)]
        if seen >= 2:
            dispatcher.utter_message(text=THIRD_TIME["consent"], buttons=with_way_out(list(buttons) + [MENU_BUTTON]))
        else:
            ask(dispatcher, tracker, "consent", text, buttons)
        return [SlotSet(CONSENT_ASKS, next_count(tracker.events, seen))]


class ActionGiveConsent(Action):
    """« garde mes données »: consent given later (after a no, or without answering)."""

    def name(self) -> Text:
        return "action_give_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if not clear_consent((tracker.latest_message or {}).get("text")):  # « je veux pas que tu gardes… »
            dispatcher.utter_message(text=messages.CONSENT_NOT_CLEAR)
            return []
        if _consent(tracker) and services.store().has_consent(tracker.sender_id):
            dispatcher.utter_message(text=messages.CONSENT_ALREADY)
            return []
        store = services.store()
        store.record_consent(tracker.sender_id, True, messages.NOTICE_VERSION, tracker.get_latest_input_channel())
        if _first_name(tracker):
            store.set_first_name(tracker.sender_id, _first_name(tracker))
        dispatcher.utter_message(text=messages.CONSENT_GIVEN_LATER)
        return [SlotSet("consent", "oui")]


class ActionTrainingConsent(Action):
    """« Oui, ça peut aider » / « n'utilise plus mes récits »: whether the person's stories
    may become training candidates (``make review``), changeable any time."""

    def name(self) -> Text:
        return "action_training_consent"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        allowed = intent_of(tracker) == "allow_training"
        if not _consent(tracker) or not services.store().set_training_consent(tracker.sender_id, allowed):
            dispatcher.utter_message(text=messages.TRAINING_NOTHING_KEPT)  # no profile: nothing to learn from
            return []
        dispatcher.utter_message(text=messages.TRAINING_YES if allowed else messages.TRAINING_NO)
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



def _nothing_to_propose(tracker: Tracker) -> bool:
    ref = services.referentiel()
    candidates = [p for p in aggregate([tracker.get_slot("story_skills")]) if ref.get(p.skill_id)]
    return not propose(candidates)


class ValidateExperienceForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_experience_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        story = tracker.get_slot("experience_story")
        if not story:
            return list(STORY_SLOTS)
        # nothing clear once the story is told: one targeted question, asked last
        probe = [PROBE_SLOT] if tracker.get_slot(PROBE_SLOT) is not None or _nothing_to_propose(tracker) else []
        if not is_substantial(story, len(tracker.get_slot("story_skills") or [])):
            # a few words given twice (« foot »): no follow-up questions, at most the targeted one
            return ["experience_story"] + probe
        told = analyse(_story_text(tracker))
        missing = set(told.missing())
        return ["experience_story"] + [
            f"experience_{p}" for p in PARTS
            if p in missing or tracker.get_slot(f"experience_{p}") is not None
        ] + probe

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
                return {"experience_story": told or text or "-", "story_skills": skills, "no_skill_step": None}
            dispatcher.utter_message(text=messages.STORY_TOO_SHORT)
            return {"experience_story": None}
        return {"experience_story": text, "story_skills": skills, "no_skill_step": None}

    def validate_experience_action(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._part("experience_action", value, dispatcher, tracker)

    def validate_experience_difficulty(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._part("experience_difficulty", value, dispatcher, tracker)

    def validate_experience_result(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._part("experience_result", value, dispatcher, tracker)

    def validate_experience_probe(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._part(PROBE_SLOT, value, dispatcher, tracker)


class ActionProposeSkills(Action):
    """The story is told: propose its skills; when none is clear even after the
    targeted question (asked by the story form), the person picks in plain words."""

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
        if proposals:
            dispatcher.utter_message(text=messages.proposals_intro(len(proposals), _first_name(tracker)))
            return [
                SlotSet("pending_skills", [p.as_dict() for p in proposals]),
                SlotSet("has_proposals", True),
                SlotSet("experience_id", experience_id),
                SlotSet("confirmed_now", []),
                SlotSet("skill_shown", None),
                SlotSet("no_skill_step", None),
            ]
        # the targeted question was asked (the story form's last question): the person
        # picks in plain words; the story is put aside, so a new one starts clean
        likely = [p.skill_id for p in candidates][:PICK_COUNT - 1]
        for skill_id in DEFAULT_PICKS:
            if len(likely) >= PICK_COUNT:
                break
            if skill_id not in likely and ref.get(skill_id):
                likely.append(skill_id)
        dispatcher.utter_message(
            text=messages.pick_intro(), buttons=messages.pick_buttons([ref.get(s) for s in likely])
        )
        remembered = _remember_story(tracker, [], experience_id)
        return _reset_story() + [remembered, SlotSet("has_proposals", False), SlotSet("no_skill_step", "pick")]


class ActionPickSkill(Action):
    """A skill picked in plain words (or « Voir les 14 ») after nothing was clear: it
    goes through the same confirmation, with the story as evidence."""

    def name(self) -> Text:
        return "action_pick_skill"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ref = services.referentiel()
        last = _last_story(tracker)
        wanted = tracker.get_slot("skill")
        events: List[EventType] = [SlotSet("skill", None), SlotSet("has_proposals", False)]
        if not last:
            dispatcher.utter_message(text=messages.pick_nothing_to_pick(), buttons=messages.MENU_BUTTONS[:1])
            return events + [SlotSet("no_skill_step", None)]
        skill = (ref.get(wanted) or ref.find(wanted)) if isinstance(wanted, str) and wanted != messages.PICK_MORE else None
        if skill is None:
            dispatcher.utter_message(
                text=messages.pick_all_intro(),
                buttons=messages.pick_buttons(list(ref.skills.values()), browse=False),
            )
            return events + [SlotSet("no_skill_step", "pick")]
        proposal = _new_proposal(skill.id, last.get("skills"), last.get("text") or "", added=False)
        return [
            SlotSet("skill", None),
            SlotSet("pending_skills", [proposal.as_dict()]),
            SlotSet("has_proposals", True),
            SlotSet("experience_id", last.get("experience_id")),
            SlotSet("confirmed_now", []),
            SlotSet("skill_shown", None),
            SlotSet("no_skill_step", None),
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
        if skill is None:
            return []
        if proposal.added:  # named by the person: say what it means, « non » stays possible
            text, buttons = messages.added_question(skill), messages.ADDED_BUTTONS
        else:
            text, buttons = messages.proposal_question(skill, proposal), messages.CONFIRM_BUTTONS
        # each card counts its own questions (the next skill is shown as itself); the
        # other wording still names the skill
        text, buttons = question("skill_answer", text, buttons, since_shown(tracker.events, "skill_shown", skill.id))
        if text == THIRD_TIME["skill_answer"]:
            text = f"{skill.title} · {text}"
        dispatcher.utter_message(text=text, buttons=buttons)
        # only an answer given while this skill is on screen counts
        return [SlotSet("skill_shown", proposal.skill_id)]


class ValidateConfirmSkillsForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_confirm_skills_form"

    async def extract_skill_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """A correction the NLU took for something else (« c'est plutôt de
        l'autonomie » looks like « c'est quoi l'autonomie ») stays in the form."""
        if tracker.get_slot("requested_slot") != "skill_answer" or tracker.get_slot("skill_answer") is not None:
            return {}
        if _parse_correction(tracker) is None:
            return {}
        return {"skill_answer": _latest_text(tracker)}

    def validate_skill_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        pending = list(tracker.get_slot("pending_skills") or [])
        if not pending:
            return {"skill_answer": value}
        current = Proposal.from_dict(pending[0])
        if tracker.get_slot("skill_shown") != current.skill_id:
            # not an answer to a skill on screen (a « oui » to a question of the story)
            return {"skill_answer": None}
        correction = _parse_correction(tracker)
        if correction is not None:
            return self._correct(correction, pending, dispatcher, tracker)
        answer = {"oui": True, "non": False}.get(value) if isinstance(value, str) else None
        if answer is None:
            answer = yes_no(value if isinstance(value, str) else None)
        if answer is None and said_since_shown(tracker.events, messages.USE_BUTTONS, "skill_shown",
                                               current.skill_id) >= 2:
            # a third non-answer to this card: put the skill aside (not saved, not refused)
            skill = services.referentiel().get(current.skill_id)
            dispatcher.utter_message(text=messages.skill_left_aside(skill.label if skill else current.skill_id))
            pending.pop(0)
            return {"skill_answer": None if pending else "non", "pending_skills": pending, "skill_shown": None}
        if answer is None:
            dispatcher.utter_message(text=messages.USE_BUTTONS)
            return {"skill_answer": None}
        pending.pop(0)
        _record(tracker, tracker.get_slot("experience_id"), current, answer)
        confirmed = list(tracker.get_slot("confirmed_now") or [])
        session = list(tracker.get_slot("session_skills") or [])
        if answer:
            confirmed.append(current.skill_id)
            session.append(current.skill_id)
        return {
            "skill_answer": None if pending else ("oui" if answer else "non"),
            "pending_skills": pending,
            "confirmed_now": confirmed,
            "session_skills": session,
            "skill_shown": None,
        }

    def _correct(
        self, correction: Correction, pending: List[Dict[str, Any]], dispatcher: CollectingDispatcher,
        tracker: Tracker,
    ) -> Dict[Text, Any]:
        ref = services.referentiel()
        experience_id = tracker.get_slot("experience_id")
        queue = [Proposal.from_dict(p) for p in pending]
        current = queue[0]
        confirmed = list(tracker.get_slot("confirmed_now") or [])
        session = list(tracker.get_slot("session_skills") or [])
        to_remove = list(correction.remove)
        if correction.replace_current and current.skill_id not in correction.add:
            to_remove.append(current.skill_id)
        if (correction.answer is not None and current.skill_id not in to_remove
                and current.skill_id not in correction.add):
            # « oui, et la rigueur ? » answers the skill on screen too
            _record(tracker, experience_id, current, correction.answer)
            queue.pop(0)
            if correction.answer:
                confirmed.append(current.skill_id)
                session.append(current.skill_id)
        removed = []
        for skill_id in dict.fromkeys(to_remove):
            skill = ref.get(skill_id)
            if skill is None:
                continue
            if queue and queue[0] is current and current.skill_id == skill_id:
                _record(tracker, experience_id, current, False)  # on screen and refused
                queue.pop(0)
                removed.append(skill)
            elif any(p.skill_id == skill_id for p in queue):
                queue = [p for p in queue if p.skill_id != skill_id]  # never shown: never saved
                removed.append(skill)
            elif skill_id in confirmed:
                row = row_id(experience_id)
                if row is not None and _consent(tracker):
                    services.store().reject_claims(tracker.sender_id, row, skill_id)
                confirmed.remove(skill_id)
                if skill_id in session:
                    session.remove(skill_id)
                removed.append(skill)
            elif skill_id not in correction.add:
                dispatcher.utter_message(text=messages.not_proposed(skill))
        if removed:
            dispatcher.utter_message(text=messages.removed(removed))
        added: List[Proposal] = []
        for skill_id in correction.add:
            skill = ref.get(skill_id)
            if skill is None:
                continue
            if skill_id in confirmed:
                dispatcher.utter_message(text=messages.already_there(skill))
                continue
            queue = [p for p in queue if p.skill_id != skill_id]
            added.append(_new_proposal(skill_id, tracker.get_slot("story_skills") or _last_story(tracker).get("skills"),
                                       _story_text(tracker) or _last_story(tracker).get("text") or "", added=True))
        queue = added + queue
        return {
            "skill_answer": None if queue else "oui",
            "pending_skills": [p.as_dict() for p in queue],
            "confirmed_now": confirmed,
            "session_skills": session,
            "skill_shown": None,
        }


class ActionSummariseSkills(Action):
    def name(self) -> Text:
        return "action_summarise_skills"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ref = services.referentiel()
        confirmed = list(tracker.get_slot("confirmed_now") or [])
        skills = [ref.get(s) for s in confirmed]
        dispatcher.utter_message(
            text=messages.summary([s for s in skills if s], stored=_consent(tracker))
        )
        # once, and only to someone whose stories are kept: may they teach the detector?
        if _consent(tracker) and tracker.get_slot("experience_id") is not None \
                and services.store().training_consent(tracker.sender_id) is None:
            dispatcher.utter_message(text=messages.TRAINING_QUESTION, buttons=messages.TRAINING_BUTTONS)
        # the story is done; what corrections right after the summary need is kept
        return _reset_story() + [_remember_story(tracker, confirmed)]


class ActionCorrectSkills(Action):
    """« y a aussi la rigueur », « enlève la communication » once the confirmations
    are over: the last story's skills are corrected (an added skill is confirmed
    through the same form)."""

    def name(self) -> Text:
        return "action_correct_skills"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ref = services.referentiel()
        correction = _parse_correction(tracker)
        last = _last_story(tracker)
        if correction is None:
            dispatcher.utter_message(text=messages.CORRECTION_HINT)
            return [SlotSet("has_proposals", False)]
        if not last:
            dispatcher.utter_message(text=messages.NOTHING_TO_CORRECT, buttons=messages.MENU_BUTTONS[:1])
            return [SlotSet("has_proposals", False)]
        confirmed = list(last.get("confirmed") or [])
        session = list(tracker.get_slot("session_skills") or [])
        experience_id = last.get("experience_id")
        to_remove = list(correction.remove)
        if correction.replace_current and len(confirmed) == 1 and confirmed[0] not in correction.add:
            to_remove.append(confirmed[0])
        removed = []
        for skill_id in dict.fromkeys(to_remove):
            skill = ref.get(skill_id)
            if skill is None:
                continue
            if skill_id in confirmed:
                row = row_id(experience_id)
                if row is not None and _consent(tracker):
                    services.store().reject_claims(tracker.sender_id, row, skill_id)
                confirmed.remove(skill_id)
                if skill_id in session:
                    session.remove(skill_id)
                removed.append(skill)
            else:
                dispatcher.utter_message(text=messages.not_proposed(skill))
        if removed:
            dispatcher.utter_message(text=messages.removed(removed))
        adds = []
        for skill_id in correction.add:
            skill = ref.get(skill_id)
            if skill is None:
                continue
            if skill_id in confirmed:
                dispatcher.utter_message(text=messages.already_there(skill))
            else:
                adds.append(_new_proposal(skill_id, last.get("skills"), last.get("text") or "", added=True))
        events: List[EventType] = [
            SlotSet("last_story", {**last, "confirmed": confirmed}), SlotSet("session_skills", session),
        ]
        if not adds:
            if removed:
                dispatcher.utter_message(text="On continue ?", buttons=messages.MENU_BUTTONS)
            return events + [SlotSet("has_proposals", False)]
        return events + [
            SlotSet("pending_skills", [p.as_dict() for p in adds]),
            SlotSet("has_proposals", True),
            SlotSet("experience_id", experience_id),
            SlotSet("confirmed_now", []),
            SlotSet("skill_shown", None),
        ]


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
        before = times_said_in_session(tracker.events, messages.REPHRASES)
        # asked already in this session: other words, and the menu so that nobody stays stuck
        dispatcher.utter_message(text=messages.rephrase(before), buttons=messages.FALLBACK_BUTTONS if before else [])
        return []


class ActionDefaultFallback(Action):
    def name(self) -> Text:
        return "action_default_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        before = times_said_in_session(tracker.events, (messages.DEFAULT_FALLBACK, *messages.FALLBACK_AGAIN))
        text, buttons = messages.fallback(before)
        dispatcher.utter_message(text=text, buttons=buttons)
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
        ways = messages.wordings(self.slot)
        if len(ways) > 1:  # a new run of the form: the next wording; the same run: the same one
            said = [e.get("text") for e in since_run_started(tracker.events) if e.get("event") == "bot"]
            current = next((t for t in reversed(said) if t in ways), None)
            text = current or ways[times_said_in_session(tracker.events, ways) % len(ways)]
        ask(dispatcher, tracker, self.slot, text, buttons)
        return []


for _slot in messages.ASK:
    if _slot in ("first_name", "consent"):  # ActionAskFirstName (two forms use it), ActionAskConsent
        continue
    globals()[f"ActionAsk_{_slot}"] = type(f"ActionAsk_{_slot}", (_AskSlot,), {"slot": _slot})


def ask_action(slot: str) -> Action:
    """The action that asks ``slot`` (``action_ask_<slot>``)."""
    if slot == "first_name":
        from actions.challenge import ActionAskFirstName

        return ActionAskFirstName()
    wanted = f"action_ask_{slot}"
    for value in list(globals().values()):
        if isinstance(value, type) and issubclass(value, Action) and not inspect.isabstract(value):
            try:
                if value().name() == wanted:
                    return value()
            except NotImplementedError:  # rasa_sdk's own base classes
                continue
    raise KeyError(wanted)

"""Challenger actions: self-assessment form, referent invitations, levels and badges.

Thin: the logic lives in ``bot.challenge``, ``bot.scoring``, ``bot.storage``; texts in
``bot.messages``. Button answers arrive as ``/choose{"<entity>": "<value>"}``, typed
answers as text: validators read the entity first, then the text.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.actions import _consent, _first_name
from actions.dialogue import ask
from bot import challenge, mailer, messages, services
from bot.dialogue.asking import times_said_in_session
from bot.assessment import understand
from bot.badges.credential import badge_name
from bot.conversation import clean_first_name, relation_from_text
from bot.nlu.text import clean_user_text
from bot.referentiel import Skill
from bot.storage.challenge import MAX_SKILLS_PER_INVITATION
from bot.storage.models import RELATIONSHIPS
from bot.storage.outbox import NOTICE_KEY

logger = logging.getLogger(__name__)

ASSESSMENT_SLOTS = ["assessment_skill", "assessment_answer", "assessment_example", "assessment_example_item"]
INVITE_SLOTS = ["referent_name", "referent_relation", "referent_skills"]
EMAILS_PER_DAY = 5  # invitation e-mails a person can have sent in 24 h (the links always work)
EMAIL_SLOT = "referent_email"


# --- helpers ------------------------------------------------------------------------
def _entity(tracker: Tracker, name: str) -> Optional[str]:
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == name and isinstance(entity.get("value"), (str, int)):
            return str(entity["value"])
    return None


def _text(tracker: Tracker) -> str:
    return clean_user_text((tracker.latest_message or {}).get("text"))


def _confirmed(tracker: Tracker) -> List[Skill]:
    """The person's confirmed skills that the référentiel knows, most evidenced first."""
    ref = services.referentiel()
    skills = [ref.get(s.skill_id) for s in services.store().confirmed_skills(tracker.sender_id)]
    return [s for s in skills if s is not None]


def _pick_skill(tracker: Tracker, value: Any, offered: Sequence[Skill]) -> Optional[Skill]:
    """The skill chosen by button (entity) or typed, if it is one of ``offered``."""
    ref = services.referentiel()
    wanted = _entity(tracker, "skill") or (value if isinstance(value, str) else "")
    skill = ref.get(wanted) or ref.find(wanted)
    return skill if skill is not None and skill.id in {s.id for s in offered} else None


def _not_ready(dispatcher: CollectingDispatcher, tracker: Tracker, status_slot: str) -> Optional[List[EventType]]:
    """Consent and at least one confirmed skill are needed; else say why (and ask for consent)."""
    if not _consent(tracker):
        dispatcher.utter_message(text=messages.ASSESSMENT_NEEDS_CONSENT)
        return [SlotSet(status_slot, "no_consent"), SlotSet("consent", None)]
    if not _confirmed(tracker):
        dispatcher.utter_message(text=messages.CHALLENGE_NO_SKILLS, buttons=messages.MENU_BUTTONS[:1])
        return [SlotSet(status_slot, "no_skills")]
    return None


def _badge_messages(skill: Skill, badge) -> List[Dict[str, Any]]:
    page = services.issuer().urls.badge(badge.id)
    return [dict(text=messages.badge_ready(badge_name(skill, badge.level)), image=f"{page}/image.png"),
            dict(text=messages.badge_links(page, f"{page}/linkedin"))]


def _send_badge(dispatcher: CollectingDispatcher, skill: Skill, badge) -> None:
    for message in _badge_messages(skill, badge):
        dispatcher.utter_message(**message)


def notice_tag(notice_id: Optional[int]) -> Dict[str, int]:
    """Metadata that ties a bot message to its outbox notice (see channels/outbox.py)."""
    return {NOTICE_KEY: notice_id} if notice_id else {}


def _report(dispatcher: CollectingDispatcher, progress: challenge.Progress) -> None:
    """The level of a skill after new answers: a new badge, a level, or what is missing."""
    rules = services.scoring_rules()
    result = progress.result
    if result.disagreement and result.gap is not None:
        dispatcher.utter_message(text=messages.disagreement(result.gap))
    if progress.new_badge and progress.badge is not None:
        _send_badge(dispatcher, progress.skill, progress.badge)
    elif result.certified and progress.self_done:
        dispatcher.utter_message(text=messages.level_reached(progress.skill, result.level))
    else:
        dispatcher.utter_message(text=messages.level_missing(
            progress.skill, progress.self_done, result.valid_referents,
            rules.level("confirme").min_referents,
        ))


def _progress(tracker: Tracker, skill: Skill) -> challenge.Progress:
    return challenge.progress(services.store(), services.issuer(), skill, services.scoring_rules(),
                              tracker.sender_id)


# --- self-assessment ------------------------------------------------------------------
class ActionStartAssessment(Action):
    def name(self) -> Text:
        return "action_start_assessment"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        blocked = _not_ready(dispatcher, tracker, "assessment_status")
        if blocked:
            return blocked
        # only a skill named in this very message (the `skill` slot may be an old one)
        skill = _pick_skill(tracker, None, _confirmed(tracker))
        return [SlotSet("assessment_status", "ready"), SlotSet("skill", None)] + [
            SlotSet(name, None) for name in ASSESSMENT_SLOTS[1:]
        ] + [SlotSet("assessment_skill", skill.id if skill else None)]


class ActionAskAssessmentSkill(Action):
    def name(self) -> Text:
        return "action_ask_assessment_skill"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        skills = _confirmed(tracker)
        notes = {}
        for state in services.store().self_assessments(tracker.sender_id):
            notes[state.skill_id] = "✓" if state.completed else "(à finir)"
        ask(dispatcher, tracker, "assessment_skill", messages.ask_assessment_skill(len(skills)),
            messages.skill_buttons(skills[:6], notes))
        return []


class ActionAskAssessmentAnswer(Action):
    def name(self) -> Text:
        return "action_ask_assessment_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        skill = services.referentiel().get(tracker.get_slot("assessment_skill") or "")
        state = services.store().self_assessment(tracker.sender_id, skill.id) if skill else None
        item = challenge.next_item(skill, state.answers) if skill and state else None
        if skill is None or item is None:
            return []
        number, total = challenge.position(skill, state.answers)
        ask(dispatcher, tracker, "assessment_answer", messages.assessment_question(item.self_text, number, total),
            messages.SCALE_BUTTONS)
        return []


class ActionAskAssessmentExample(Action):
    def name(self) -> Text:
        return "action_ask_assessment_example"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "assessment_example", messages.ask_example(), [messages.SKIP_BUTTON])
        return []


class ValidateAssessmentForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_assessment_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        example = ["assessment_example"] if tracker.get_slot("assessment_example_item") else []
        return ["assessment_skill"] + example + ["assessment_answer"]

    def _skill(self, tracker: Tracker) -> Optional[Skill]:
        return services.referentiel().get(tracker.get_slot("assessment_skill") or "")

    def validate_assessment_skill(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"assessment_skill": None}
        if not _consent(tracker):
            return {"assessment_skill": None}
        skill = _pick_skill(tracker, value, _confirmed(tracker))
        if skill is None:
            dispatcher.utter_message(text=messages.SKILL_NOT_OFFERED)
            return {"assessment_skill": None}
        store = services.store()
        before = store.self_assessment(tracker.sender_id, skill.id)
        state = store.open_self_assessment(tracker.sender_id, skill.id, restart=bool(before and before.completed))
        answers = state.answers if state else {}
        dispatcher.utter_message(text=messages.assessment_start(skill, len(answers), len(skill.items)))
        finished = challenge.next_item(skill, answers) is None
        return {"assessment_skill": skill.id, "assessment_answer": "done" if finished else None,
                "assessment_example": None, "assessment_example_item": None}

    def validate_assessment_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"assessment_answer": None}
        skill = self._skill(tracker)
        store = services.store()
        state = store.self_assessment(tracker.sender_id, skill.id) if skill else None
        item = challenge.next_item(skill, state.answers) if skill and state else None
        if skill is None or state is None or item is None:
            return {"assessment_answer": "done"}
        chosen = _entity(tracker, "scale")
        scale = int(chosen) if chosen in {"0", "1", "2", "3"} else understand(
            value if isinstance(value, str) else "", services.scoring_rules())
        if scale is None:
            dispatcher.utter_message(text=messages.SCALE_NOT_UNDERSTOOD)
            return {"assessment_answer": None}
        state = store.record_self_answer(tracker.sender_id, skill.id, item.id, scale)
        if challenge.wants_example(item, scale):
            return {"assessment_answer": None, "assessment_example": None, "assessment_example_item": item.id}
        done = state is None or challenge.next_item(skill, state.answers) is None
        return {"assessment_answer": "done" if done else None}

    def validate_assessment_example(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"assessment_example": None}
        skill = self._skill(tracker)
        item_id = tracker.get_slot("assessment_example_item")
        text = clean_user_text(value if isinstance(value, str) else "")
        store = services.store()
        if skill and item_id and text and text != "-" and not text.startswith("/"):
            store.record_example(tracker.sender_id, skill.id, item_id, text)
            dispatcher.utter_message(text=messages.EXAMPLE_THANKS)
        state = store.self_assessment(tracker.sender_id, skill.id) if skill else None
        done = state is None or challenge.next_item(skill, state.answers) is None  # type: ignore[arg-type]
        return {"assessment_example": text or "-", "assessment_example_item": None,
                "assessment_answer": "done" if done else None}


class ActionAssessmentDone(Action):
    def name(self) -> Text:
        return "action_assessment_done"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reset = [SlotSet(name, None) for name in ASSESSMENT_SLOTS] + [SlotSet("assessment_status", None)]
        skill = services.referentiel().get(tracker.get_slot("assessment_skill") or "")
        if skill is None or not _consent(tracker):
            return reset
        services.store().complete_self_assessment(tracker.sender_id, skill.id)
        progress = _progress(tracker, skill)
        dispatcher.utter_message(text=messages.assessment_summary(
            skill, progress.result.strong_items, progress.result.weak_items))
        if progress.referents:
            _report(dispatcher, progress)
        if not progress.result.certified:
            dispatcher.utter_message(text=messages.invite_suggestion(skill),
                                     buttons=messages.invite_buttons(skill.id))
        return reset


# --- referents -------------------------------------------------------------------------
def _offered_invite_skill(tracker: Tracker, offered: Sequence[Skill]) -> Optional[Skill]:
    """The skill of the last « Inviter quelqu'un » button the bot showed."""
    import json

    users = 0
    for event in reversed(tracker.events):
        users += event.get("event") == "user"
        if users > 1:  # only the bot's messages just before this answer
            break
        for button in ((event.get("data") or {}).get("buttons") or []) if event.get("event") == "bot" else []:
            payload = button.get("payload") or ""
            if payload.startswith("/invite_referent{"):
                try:
                    wanted = json.loads(payload[len("/invite_referent"):]).get("skill")
                except ValueError:
                    return None
                return next((s for s in offered if s.id == wanted), None)
    return None


class ActionStartInvite(Action):
    def name(self) -> Text:
        return "action_start_invite"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        blocked = _not_ready(dispatcher, tracker, "invite_status")
        if blocked:
            return blocked
        confirmed = _confirmed(tracker)
        skill = _pick_skill(tracker, None, confirmed)  # named in this message only
        if skill is None and (tracker.latest_message or {}).get("intent", {}).get("name") == "affirm":
            skill = _offered_invite_skill(tracker, confirmed)  # « oui » to « Tu veux l'inviter ? »
        preset = [skill.id] if skill else ([confirmed[0].id] if len(confirmed) == 1 else None)
        # "je veux inviter mon coach": the relationship is already said
        relation = relation_from_text(_text(tracker)) if not _entity(tracker, "skill") else None
        return [SlotSet("invite_status", "ready"), SlotSet("skill", None), SlotSet("referent_name", None),
                SlotSet("referent_relation", relation), SlotSet("referent_skills", preset)]


class ActionAskReferentName(Action):
    def name(self) -> Text:
        return "action_ask_referent_name"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "referent_name", messages.ask_referent_name())
        return []


class ActionAskReferentRelation(Action):
    def name(self) -> Text:
        return "action_ask_referent_relation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        name = tracker.get_slot("referent_name") or ""
        ask(dispatcher, tracker, "referent_relation", messages.ask_referent_relation(name), messages.RELATION_BUTTONS)
        return []


class ActionAskReferentSkills(Action):
    def name(self) -> Text:
        return "action_ask_referent_skills"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        skills = _confirmed(tracker)
        buttons = messages.skill_buttons(skills[:6])
        if len(skills) > 1:
            count = min(len(skills), MAX_SKILLS_PER_INVITATION)
            buttons.append({"title": f"Les {count} premières" if len(skills) > count else "Toutes",
                            "payload": messages.choose("skill", messages.ALL_SKILLS)})
        ask(dispatcher, tracker, "referent_skills",
            messages.ask_referent_skills(tracker.get_slot("referent_name") or ""), buttons)
        return []


class ActionAskFirstName(Action):
    """Asks the person's own first name: in the onboarding, or for the referent page."""

    def name(self) -> Text:
        return "action_ask_first_name"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.active_loop.get("name") == "invite_form":
            ask(dispatcher, tracker, "first_name", messages.ask_own_first_name(tracker.get_slot("referent_name") or ""))
            return []
        text, buttons = messages.ASK["first_name"]
        ask(dispatcher, tracker, "first_name", text, buttons)
        return []


class ValidateInviteForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_invite_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        own = [] if _first_name(tracker) else ["first_name"]
        email = [EMAIL_SLOT] if services.settings().email_enabled else []
        return list(INVITE_SLOTS) + own + email

    def validate_referent_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"referent_name": None}
        name = clean_first_name(_entity(tracker, "first_name") or (value if isinstance(value, str) else None))
        if name is None:
            dispatcher.utter_message(text=messages.referent_name_not_understood())
        return {"referent_name": name}

    def validate_referent_relation(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"referent_relation": None}
        chosen = _entity(tracker, "relation")
        relation = chosen if chosen in RELATIONSHIPS else relation_from_text(value if isinstance(value, str) else "")
        if relation is None:
            dispatcher.utter_message(text=messages.relation_not_understood())
        return {"referent_relation": relation}

    def validate_referent_skills(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"referent_skills": None}
        if isinstance(value, list):  # preset by action_start_invite
            return {"referent_skills": value or None}
        confirmed = _confirmed(tracker)
        wanted = _entity(tracker, "skill") or (value if isinstance(value, str) else "")
        if wanted.strip().lower() in {messages.ALL_SKILLS, "tout", "toutes les competences", "toutes les compétences"}:
            return {"referent_skills": [s.id for s in confirmed[:MAX_SKILLS_PER_INVITATION]]}
        skill = _pick_skill(tracker, value, confirmed)
        if skill is None:
            dispatcher.utter_message(text=messages.SKILL_NOT_OFFERED)
            return {"referent_skills": None}
        return {"referent_skills": [skill.id]}

    def validate_first_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"first_name": None}
        name = clean_first_name(_entity(tracker, "first_name") or (value if isinstance(value, str) else None))
        if name is None:
            dispatcher.utter_message(text=messages.name_not_understood().replace(", ou appuie sur « Passer »", ""))
            return {"first_name": None}
        services.store().set_first_name(tracker.sender_id, name)
        return {"first_name": name}


    def validate_referent_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if value is None:  # reset by the action that opened the form: nothing to check
            return {"referent_email": None}
        if value == "-":
            return {EMAIL_SLOT: "-"}
        email = mailer.clean_email(value if isinstance(value, str) else None)
        if email is None:
            dispatcher.utter_message(text=messages.EMAIL_NOT_UNDERSTOOD, buttons=[messages.SKIP_BUTTON])
        return {EMAIL_SLOT: email}


class ActionAskReferentEmail(Action):
    def name(self) -> Text:
        return "action_ask_referent_email"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ask(dispatcher, tracker, "referent_email", messages.ask_referent_email(tracker.get_slot("referent_name") or ""),
            [messages.SKIP_BUTTON])
        return []


class ActionCreateInvitation(Action):
    def name(self) -> Text:
        return "action_create_invitation"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reset = [SlotSet(name, None) for name in INVITE_SLOTS + [EMAIL_SLOT]] + [SlotSet("invite_status", None)]
        name = tracker.get_slot("referent_name")
        relation = tracker.get_slot("referent_relation")
        skills = tracker.get_slot("referent_skills") or []
        if not (_consent(tracker) and name and relation in RELATIONSHIPS and skills):
            return reset
        config = services.settings()
        created = services.store().create_invitation(
            tracker.sender_id, name, relation, skills[:MAX_SKILLS_PER_INVITATION], config.invitation_ttl_seconds)
        if created is None:
            return reset
        token, info = created
        days = max(1, config.invitation_ttl_seconds // 86400)
        url = f"{config.public_url}/referent/{token}"
        for text in messages.invitation_link(info.referent_name, relation, url, days):
            dispatcher.utter_message(text=text)
        email = tracker.get_slot(EMAIL_SLOT)
        if email and email != "-" and services.store().invitations_created_since(
                tracker.sender_id, datetime.now(timezone.utc) - timedelta(days=1)) > EMAILS_PER_DAY:
            dispatcher.utter_message(text=messages.email_limit(info.referent_name))  # nobody's inbox flooded
        elif email and email != "-":  # used once, here; never stored
            sent = mailer.send(config, mailer.invitation_email(
                config.smtp_from, email, info.referent_name, _first_name(tracker) or "Quelqu'un", url, days))
            dispatcher.utter_message(text=messages.email_sent(info.referent_name) if sent
                                     else messages.email_failed())
        return reset


class ActionManageInvitations(Action):
    """Lists the invitations; with an ``invitation`` entity (button), revokes that link."""

    def name(self) -> Text:
        return "action_manage_invitations"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        store = services.store()
        wanted = _entity(tracker, "invitation")
        if wanted and wanted.isdigit():
            info = store.revoke_invitation(tracker.sender_id, int(wanted))
            if info is not None:
                text = (messages.invitation_revoked(info.referent_name) if info.state == "revoked"
                        else messages.invitation_line(info.referent_name, info.relation, info.state))
                dispatcher.utter_message(text=text)
                return []
        invitations = store.invitations_of(tracker.sender_id)
        lines = [messages.invitation_line(i.referent_name, i.relation,
                                          "to_confirm" if i.awaiting_verification else i.state)
                 for i in invitations]
        open_ones = [i for i in invitations if i.state == "open"]
        dispatcher.utter_message(text=messages.invitations_list(lines))
        if open_ones:
            dispatcher.utter_message(text=messages.which_to_revoke(), buttons=[
                {"title": f"Annuler le lien de {i.referent_name}",
                 "payload": '/manage_invitations{"invitation":"%d"}' % i.id}
                for i in open_ones[-5:]
            ])
        elif invitations:
            dispatcher.utter_message(text=messages.nothing_to_revoke())
        return []


class ActionReferentAnswered(Action):
    """Proactive: the web app triggers EXTERNAL_referent_answered when a referent answers.

    The referent's answer and each new badge are kept as outbox notices, and their
    messages carry the notice id: sent live only where the person can be reached,
    otherwise at their next message (« Pendant ton absence… », channels/outbox.py)."""

    def name(self) -> Text:
        return "action_referent_answered"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        wanted = _entity(tracker, "invitation")
        store = services.store()
        info = store.invitation_of(tracker.sender_id, wanted)  # only the person's own
        if info is None or info.state != "used":
            return []
        rules = services.scoring_rules()
        live: List[Dict[str, Any]] = [dict(text=messages.referent_answered(info.referent_name, info.relation))]
        summary: List[tuple] = []  # per skill: (label, comment, next step), for the notice
        badges: List[tuple] = []  # (notice text, live messages) per new badge
        ref = services.referentiel()
        for skill_id in info.skill_ids:
            skill = ref.get(skill_id)
            if skill is None:
                continue
            progress = _progress(tracker, skill)
            result = progress.result
            comment = next((r.comment for r in progress.referents if r.invitation_id == info.id and r.comment), None)
            if comment:
                # someone else's words: plain text in every chat (see channels/socketio.py)
                live.append(dict(text=messages.referent_comment(info.referent_name, comment), atouts_plain=True))
            if result.disagreement and result.gap is not None:
                live.append(dict(text=messages.disagreement(result.gap)))
            if progress.new_badge and progress.badge is not None:
                step = messages.level_reached(skill, progress.badge.level)
                page = services.issuer().urls.badge(progress.badge.id)
                badges.append((messages.badge_notice(badge_name(skill, progress.badge.level), page),
                               _badge_messages(skill, progress.badge)))
            else:
                step = (messages.level_reached(skill, result.level) if result.certified and progress.self_done
                        else messages.level_missing(skill, progress.self_done, result.valid_referents,
                                                    rules.level("confirme").min_referents))
                live.append(dict(text=step))
            summary.append((skill.label, comment, step))
        notice = store.add_notice(tracker.sender_id, "referent",
                                  messages.referent_notice(info.referent_name, info.relation, summary))
        for message in live:
            dispatcher.utter_message(**message, **notice_tag(notice))
        for text, badge_messages in badges:
            notice = store.add_notice(tracker.sender_id, "badge", text)
            for message in badge_messages:
                dispatcher.utter_message(**message, **notice_tag(notice))
        return []


class ActionShowMyBadges(Action):
    def name(self) -> Text:
        return "action_show_my_badges"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        badges = services.store().badges_of(tracker.sender_id) if _consent(tracker) else []
        ref = services.referentiel()
        shown = 0
        for badge in badges:
            skill = ref.get(badge.skill_id)
            if skill is None or badge.revoked_at is not None:
                continue
            _send_badge(dispatcher, skill, badge)
            shown += 1
        if not shown:
            dispatcher.utter_message(text=messages.no_badges(), buttons=[
                {"title": "Tester une compétence", "payload": "/start_assessment"},
            ])
        return []


class ActionStrayChoice(Action):
    """A choice outside any question: an old button tapped again, or a lone word the
    classifier took for one ("Clément", "souvent")."""

    def name(self) -> Text:
        return "action_stray_choice"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        old_button = _text(tracker).startswith("/")
        if (tracker.active_loop or {}).get("name"):  # the form asks its question again right after
            dispatcher.utter_message(text=messages.STALE_BUTTON_IN_FORM if old_button
                                     else messages.NOT_UNDERSTOOD_IN_FORM)
            return []
        text = messages.rephrase(times_said_in_session(tracker.events, messages.REPHRASES))
        if old_button:  # never the same words a third time in a session
            before = times_said_in_session(tracker.events, (messages.OLD_BUTTON, messages.OLD_BUTTON_AGAIN))
            text = (messages.OLD_BUTTON, messages.OLD_BUTTON_AGAIN)[before % 2]
        dispatcher.utter_message(text=text, buttons=messages.STRAY_BUTTONS)
        return []

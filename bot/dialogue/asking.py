"""How a form question is asked: always with a way out, never a third time the same way.

Works on the tracker's events as Rasa sends them to the action server (plain dicts),
so it is testable without Rasa.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

Button = Dict[str, str]
STOP_BUTTON: Button = {"title": "⏸️ Arrêter", "payload": "/stop"}
MENU_BUTTON: Button = {"title": "Menu", "payload": "/help"}
RESUME_BUTTON_TITLE = "▶️ Reprendre"

# The third time a question would come back: another way to ask it, with choices.
THIRD_TIME: Dict[str, str] = {
    "consent": "Je te la pose autrement 🙂 Je peux garder ce que tu racontes pour ton profil ? Choisis :",
    "first_name": "Écris juste ton prénom, comme « Inès » 🙂",
    "experience_story": ("Pas d'idée ? Raconte juste un moment où tu as aidé quelqu'un, réglé un souci "
                         "ou appris un truc 🙂 Deux ou trois phrases suffisent."),
    "skill_answer": "Pas facile de choisir ? Dis-moi juste : ça te ressemble ou pas ?",
    "delete_confirmed": "Choisis juste : on efface tout, ou on garde ?",
    "assessment_skill": "Choisis juste une compétence dans la liste 👇",
    "assessment_answer": "Pas de bonne ou mauvaise réponse 🙂 Choisis ce qui te ressemble le plus :",
    "assessment_example": "Pas d'exemple en tête ? Tu peux passer 👇",
    "referent_name": "Écris juste un prénom, comme « Karim » 🙂 Ou arrête-toi là si tu préfères.",
    "referent_relation": "Choisis juste qui c'est pour toi 👇",
    "referent_skills": "Choisis une compétence dans la liste 👇",
    "referent_email": "Pas d'adresse sous la main ? Tu peux passer 👇",
    "progress_skill": "Choisis juste une compétence dans la liste 👇",
    "resource_kinds": "Choisis juste un format (ou « Peu importe ») 👇",
    "resource_time": "Choisis juste une durée 👇",
    "mission_place": "Écris juste ton code postal, comme « 69003 » 🙂 Ou arrête-toi là si tu préfères.",
    "mission_minor": "Choisis juste oui ou non 👇",
}
GENERIC_THIRD_TIME = "Je te propose autre chose 🙂 Choisis ci-dessous :"
# Questions whose text carries what is asked (a test item): the other wording comes
# before it, never instead of it.
PREFACED = frozenset({"assessment_answer", "assessment_example"})


# What the tracker store may have put in a bot message in place of words the person
# typed (bot.privacy.redaction, bot.tracker_store): the consent notice quotes « supprime
# mes données », which a person who typed it finds masked in the stored notice.
MASKS = ("[lien masqué]", "[adresse masquée]", "[réponse masquée]", "[récit effacé]", "[message non gardé]")
_MASK_RE = re.compile("|".join(re.escape(m) for m in MASKS))


def is_said(stored: Any, texts: Iterable[str]) -> bool:
    """``stored`` (a bot message as the tracker keeps it) is one of ``texts``, its masked
    parts aside."""
    if not isinstance(stored, str):
        return False
    wanted = [t for t in texts if t]
    if stored in wanted:
        return True
    parts = _MASK_RE.split(stored)
    if len(parts) == 1 or len("".join(parts).strip()) < 20:  # no mask, or hardly anything but masks
        return False
    pattern = re.compile(".+".join(re.escape(part) for part in parts) + r"\Z", re.S)
    return any(pattern.match(text) for text in wanted)


def _boundary(events: Sequence[Mapping[str, Any]], slot: str) -> int:
    """Index after which the current run of questions for ``slot`` started: the
    form's (re)activation or a question about another slot."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        kind = event.get("event")
        if kind == "active_loop":
            return index + 1
        if kind == "slot" and event.get("name") == "requested_slot" and event.get("value") not in (None, slot):
            return index + 1
    return 0


def times_asked(events: Sequence[Mapping[str, Any]], slot: str, texts: Iterable[str]) -> int:
    """How many times in a row the bot already asked ``slot`` with one of ``texts``."""
    wanted = [t for t in texts if t]
    start = _boundary(events, slot)
    return sum(1 for e in events[start:] if e.get("event") == "bot" and is_said(e.get("text"), wanted))


def times_said_in_session(events: Sequence[Mapping[str, Any]], texts: Iterable[str]) -> int:
    """How many bot messages of this session (since the last ``session_started``) had one of ``texts``."""
    wanted = [t for t in texts if t]
    start = 0
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "session_started":
            start = index + 1
            break
    return sum(1 for e in events[start:] if e.get("event") == "bot" and is_said(e.get("text"), wanted))


def session_marker(events: Sequence[Mapping[str, Any]]) -> Any:
    """What identifies the current session: the timestamp of its ``session_started`` event
    (kept by the tracker window, ``bot.tracker_window``), None before any."""
    for event in reversed(events):
        if event.get("event") == "session_started":
            return event.get("timestamp")
    return None


def counted_in_session(events: Sequence[Mapping[str, Any]], counter: Any, texts: Iterable[str]) -> int:
    """How many times one of ``texts`` was said in this session, from the events and from
    ``counter`` (a slot ``{"session": marker, "count": n}`` the action keeps up to date):
    the tracker a turn works on may be windowed and no longer hold the earlier messages."""
    seen = times_said_in_session(events, texts)
    if isinstance(counter, Mapping) and counter.get("session") == session_marker(events):
        count = counter.get("count")
        if isinstance(count, (int, float)) and not isinstance(count, bool):
            seen = max(seen, int(count))
    return seen


def next_count(events: Sequence[Mapping[str, Any]], seen: int) -> Dict[str, Any]:
    """The counter slot's value once the question has been said once more."""
    return {"session": session_marker(events), "count": seen + 1}


def since_run_started(events: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The events since the current form run started (its last ``active_loop`` event)."""
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") == "active_loop":
            return events[index + 1:]
    return events


def since_shown(events: Sequence[Mapping[str, Any]], slot: str, value: Any) -> Sequence[Mapping[str, Any]]:
    """The events since ``slot`` was last set to something else than ``value`` (e.g. since
    this skill card came on screen), within the current form run."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        kind = event.get("event")
        if kind == "active_loop" or (kind == "slot" and event.get("name") == slot and event.get("value") != value):
            return events[index + 1:]
    return events


def asked_since_answered(events: Sequence[Mapping[str, Any]], slot: str, texts: Iterable[str]) -> int:
    """How many times the bot said one of ``texts`` in this session since ``slot`` last
    got an answer (a value), across runs of its form."""
    wanted = [t for t in texts if t]
    count = 0
    for event in reversed(events):
        kind = event.get("event")
        if kind == "session_started" or (kind == "slot" and event.get("name") == slot
                                         and event.get("value") is not None):
            break
        if kind == "bot" and is_said(event.get("text"), wanted):
            count += 1
    return count


def said_since_shown(events: Sequence[Mapping[str, Any]], text: str, slot: str, value: Any) -> int:
    """How many times the bot said ``text`` while ``slot`` was ``value`` (see ``since_shown``)."""
    return sum(1 for e in since_shown(events, slot, value) if e.get("event") == "bot" and is_said(e.get("text"), (text,)))


def answers_since_asked(events: Sequence[Mapping[str, Any]], slot: str) -> List[str]:
    """What the person typed since ``slot`` was first asked in this run (no button payloads)."""
    start = _boundary(events, slot)
    texts = [str(e.get("text") or "").strip() for e in events[start:] if e.get("event") == "user"]
    return [t for t in texts if t and not t.startswith("/")]


def with_way_out(buttons: Optional[Sequence[Button]]) -> List[Button]:
    """The question's buttons plus a visible way out (Arrêter), once."""
    result = list(buttons or [])
    if not any(b.get("payload") == STOP_BUTTON["payload"] for b in result):
        result.append(dict(STOP_BUTTON))
    return result


def question(slot: str, text: str, buttons: Optional[Sequence[Button]],
             events: Sequence[Mapping[str, Any]]) -> Tuple[str, List[Button]]:
    """(text, buttons) for asking ``slot`` now: the usual question, with a way out;
    the third time in a row, another wording with choices and the menu."""
    variant = THIRD_TIME.get(slot, GENERIC_THIRD_TIME)
    if slot in PREFACED:
        text_and_variant = (text, f"{variant}  \n{text}")
    else:
        text_and_variant = (text, variant)
    # twice in a row in this run, or twice in this session without an answer since (the
    # person left the form and came back to it)
    if times_asked(events, slot, text_and_variant) >= 2 or asked_since_answered(events, slot, (text,)) >= 2:
        extra = list(buttons or [])
        if not any(b.get("payload") == MENU_BUTTON["payload"] for b in extra):
            extra.append(dict(MENU_BUTTON))
        return (f"{variant}  \n{text}" if slot in PREFACED else variant), with_way_out(extra)
    return text, with_way_out(buttons)

"""What the Rasa tracker may keep: pure functions over event dicts (``Event.as_dict()``).

`redact_events` runs on every new event before the tracker store writes it:

- secret links the bot gave (referent ``/referent/<token>``, export ``/mes-donnees/<token>``,
  partner page ``/partenaires/<token>``) keep their path, never their token;
- e-mail addresses are masked wherever they appear (user text, bot text, slots);
- what the person typed when asked for a place (``mission_place``: street address,
  postcode, town) or a referent's e-mail (``referent_email``) is masked; the
  ``mission_place`` slot keeps only a department code (« 69 », « 2A », « 974 »).

`forget_stories` runs on a whole conversation of a person who did not consent, once a
story is over (the Repérer cycle reset its slots): the story's messages, the story
slots, the quotes of it in the bot's answers and the evidences are replaced by a mark.
The bot told them « Je ne garde rien »: the tracker then keeps only the intents.
"""
from __future__ import annotations

import copy
import re
from typing import Any, Dict, Iterable, List, Optional

Event = Dict[str, Any]

LINK_MASK = "[lien masqué]"
EMAIL_MASK = "[adresse masquée]"
TYPED_MASK = "[réponse masquée]"
STORY_MASK = "[récit effacé]"

SECRET_LINK = re.compile(r"(/(?:referent|mes-donnees|partenaires)/)[A-Za-z0-9_-]{16,}")
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
DEPARTMENT = re.compile(r"(?:0[1-9]|[1-8][0-9]|9[0-5]|2[AaBb]|97[1-6])")

# slots whose answer is typed in clear and must not be kept as typed
TYPED_SLOTS = frozenset({"mission_place", "referent_email"})
STORY_SLOTS = ("experience_story", "experience_action", "experience_difficulty", "experience_result",
               "experience_probe")
# the last story kept for corrections after the summary ({"text": …, "skills": …})
LAST_STORY_SLOT = "last_story"
EVIDENCE_SLOTS = frozenset({"story_skills", "pending_skills"})
REQUESTED = "requested_slot"


def redact_text(text: Any) -> Any:
    """Secret links and e-mail addresses out of one string (other values unchanged)."""
    if not isinstance(text, str):
        return text
    if "/" in text:
        text = SECRET_LINK.sub(lambda m: m.group(1) + LINK_MASK, text)
    if "@" in text:
        text = EMAIL.sub(EMAIL_MASK, text)
    return text


def redact_value(value: Any) -> Any:
    """`redact_text` through dicts and lists (buttons, payloads, custom data)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value


TOWN = re.compile(r"[^\W\d_](?:[^\W\d_]|[ '’-]){0,44}")


def redact_slot(name: str, value: Any) -> Any:
    if name == "mission_place":
        # a department code, or a town name the search of this turn still needs (forgotten
        # once the search is done: forget_places); never a postcode or an address
        if value is None or (isinstance(value, str) and (DEPARTMENT.fullmatch(value.strip())
                                                         or TOWN.fullmatch(value.strip()))):
            return value
        return TYPED_MASK
    if name == "referent_email":
        return value if value in (None, "-") else TYPED_MASK
    return redact_value(value)


def _mask_user(event: Event, mask: str) -> Event:
    event["text"] = mask
    parse = event.get("parse_data")
    if isinstance(parse, dict):
        parse["text"] = mask
        parse["entities"] = []
        for key in ("soft_skills", "response_selector"):
            parse.pop(key, None)
    return event


def redact_events(events: Iterable[Event], requested_slot: Optional[str] = None) -> List[Event]:
    """Copies of `events` fit for storage. `requested_slot` is the slot the bot was asking
    for before the first of them (a user message answers it)."""
    out: List[Event] = []
    for original in events:
        event = copy.deepcopy(original)
        kind = event.get("event")
        if kind == "user":
            if requested_slot in TYPED_SLOTS:
                _mask_user(event, TYPED_MASK)
            else:
                event["text"] = redact_text(event.get("text"))
                if isinstance(event.get("parse_data"), dict):
                    event["parse_data"] = redact_value(event["parse_data"])
        elif kind == "bot":
            event["text"] = redact_text(event.get("text"))
            if isinstance(event.get("data"), dict):
                event["data"] = redact_value(event["data"])
        elif kind == "slot":
            name = event.get("name")
            if name == REQUESTED:
                requested_slot = event.get("value")
            elif isinstance(name, str):
                event["value"] = redact_slot(name, event.get("value"))
        elif kind == "active_loop" and event.get("name") is None:
            requested_slot = None
        out.append(event)
    return out


def requested_before(events: Iterable[Event]) -> Optional[str]:
    """The slot being asked for after `events` (the last `requested_slot` set)."""
    requested: Optional[str] = None
    for event in events:
        if event.get("event") == "slot" and event.get("name") == REQUESTED:
            requested = event.get("value")
        elif event.get("event") == "active_loop" and event.get("name") is None:
            requested = None
    return requested


def place_used(events: Iterable[Event]) -> bool:
    """True if these events end a missions search (the place slot reset to nothing)."""
    return any(e.get("event") == "slot" and e.get("name") == "mission_place" and e.get("value") is None
               for e in events)


def forget_places(events: List[Event]) -> List[Event]:
    """Copies of the events where `mission_place` keeps only department codes."""
    out = [copy.deepcopy(e) for e in events]
    for event in out:
        if event.get("event") == "slot" and event.get("name") == "mission_place":
            value = event.get("value")
            if value is not None and not (isinstance(value, str) and DEPARTMENT.fullmatch(value.strip())):
                event["value"] = TYPED_MASK
    return out


# --- stories of people who did not consent --------------------------------------------------


def story_closed(events: Iterable[Event]) -> bool:
    """True if these events end a story cycle (the story slot reset to nothing)."""
    return any(e.get("event") == "slot" and e.get("name") == STORY_SLOTS[0] and e.get("value") is None
               for e in events)


def _evidences(value: Any) -> List[str]:
    if not isinstance(value, list):
        return []
    return [item["evidence"] for item in value
            if isinstance(item, dict) and isinstance(item.get("evidence"), str) and item["evidence"]]


def _forget_evidences(value: Any) -> Any:
    if not isinstance(value, list):
        return value
    return [{**item, "evidence": STORY_MASK} if isinstance(item, dict) and item.get("evidence") else item
            for item in value]


def _story_cycles(events: List[Event], include_open: bool = False) -> List[tuple[int, int]]:
    """(first, last) index of each finished story: from the user message that started it
    to the reset of the story slot (with `include_open`, an unfinished one too)."""
    cycles: List[tuple[int, int]] = []
    start: Optional[int] = None
    last_user: Optional[int] = None
    for i, event in enumerate(events):
        kind = event.get("event")
        if kind == "user":
            last_user = i
        elif kind == "slot" and event.get("name") == STORY_SLOTS[0]:
            if event.get("value") not in (None, ""):
                if start is None:
                    start = last_user if last_user is not None else i
            elif start is not None:
                cycles.append((start, i))
                start = None
    if include_open and start is not None:
        cycles.append((start, len(events) - 1))
    return cycles


def forget_stories(events: List[Event], include_open: bool = False) -> List[Event]:
    """Copies of a conversation's events with every finished story erased (texts, slots,
    evidences, and the bot's quotes of it). Intents, actions and skill ids remain.
    `include_open`: an unfinished story too (a conversation left for good)."""
    out = [copy.deepcopy(e) for e in events]
    for first, last in _story_cycles(out, include_open):
        quotes: set[str] = set()
        for event in out[first:last + 1]:
            if event.get("event") == "slot":
                if event.get("name") in STORY_SLOTS and isinstance(event.get("value"), str):
                    quotes.add(event["value"])
                elif event.get("name") in EVIDENCE_SLOTS:
                    quotes.update(_evidences(event.get("value")))
                elif event.get("name") == LAST_STORY_SLOT and isinstance(event.get("value"), dict):
                    text = event["value"].get("text")
                    if isinstance(text, str):
                        quotes.add(text)
            elif event.get("event") == "user" and isinstance(event.get("text"), str):
                quotes.add(event["text"])
        quotes = {q for q in quotes if len(q.strip()) >= 4 and q not in (STORY_MASK, TYPED_MASK, "-")}
        for event in out[first:last + 1]:
            kind = event.get("event")
            if kind == "user":
                _mask_user(event, STORY_MASK)
            elif kind == "slot" and event.get("name") in STORY_SLOTS and event.get("value") not in (None, "-"):
                event["value"] = STORY_MASK
            elif kind == "slot" and event.get("name") in EVIDENCE_SLOTS:
                event["value"] = _forget_evidences(event.get("value"))
            elif kind == "slot" and event.get("name") == LAST_STORY_SLOT and event.get("value") is not None:
                event["value"] = None
            elif kind == "bot" and isinstance(event.get("text"), str):
                text = event["text"]
                for quote in sorted(quotes, key=len, reverse=True):
                    text = text.replace(quote, STORY_MASK)
                event["text"] = text
    return out

"""The tracker store's side of `bot.privacy.redaction`: what reaches the Rasa database.

Mixed into `bot.tracker_store.ErasableSQLTrackerStore` (a `SQLTrackerStore`):
`_additional_events` (called by `SQLTrackerStore.save`) gives the new events redacted;
`forget_stories_of(sender_id)` rewrites a non-consenting person's stored events once a
story is over."""
from __future__ import annotations

import json
import logging
from typing import Any, Iterator, List, Optional

from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.privacy import redaction

log = logging.getLogger(__name__)

CONSENT_SLOT = "consent"


def _requested(events: List[Event]) -> Optional[str]:
    for event in reversed(events):
        if isinstance(event, SlotSet) and event.key == redaction.REQUESTED:
            return event.value
        if isinstance(event, ActiveLoop) and event.name is None:
            return None
    return None


class RedactingStore:
    """Needs `session_scope`, `_event_query`, `SQLEvent` and `engine` (SQLTrackerStore)."""

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        """The events SQLTrackerStore.save is about to write (those not stored yet),
        redacted: same session, no extra query."""
        new = list(super()._additional_events(session, tracker))  # type: ignore[misc]
        if not new:
            return iter(new)
        events = list(tracker.events)
        before_new = events[:len(events) - len(new)]
        dicts = [event.as_dict() for event in new]
        clean = redaction.redact_events(dicts, _requested(before_new))
        return iter([event if before == after else Event.from_parameters(after)
                     for event, before, after in zip(new, dicts, clean)])

    def used_up(self, tracker: DialogueStateTracker) -> tuple[bool, bool]:
        """(a story of a person without consent is over, a missions search is over) in
        this turn: what was only kept for them must go."""
        story = place = False
        for event in reversed(tracker.events):  # this turn's events only
            if isinstance(event, UserUttered):
                break
            if isinstance(event, SlotSet) and event.value is None:
                story = story or event.key == redaction.STORY_SLOTS[0]
                place = place or event.key == "mission_place"
        return story and tracker.get_slot(CONSENT_SLOT) != "oui", place

    def forget_after_use(self, tracker: DialogueStateTracker) -> int:
        story, place = self.used_up(tracker)
        if not (story or place):
            return 0
        return self.forget_stories_of(tracker.sender_id, stories=story, places=place)

    def forget_stories_of(self, sender_id: str, include_open: bool = False, *, stories: bool = True,
                          places: bool = False) -> int:
        """Rewrite the stored events of `sender_id` without their stories (and places);
        the number of rows changed."""
        from bot.storage.db import checkpoint

        changed = 0
        with self.session_scope() as session:  # type: ignore[attr-defined]
            rows: List[Any] = (session.query(self.SQLEvent)  # type: ignore[attr-defined]
                               .filter(self.SQLEvent.sender_id == sender_id)  # type: ignore[attr-defined]
                               .order_by(self.SQLEvent.id).all())  # type: ignore[attr-defined]
            before = [json.loads(row.data) for row in rows]
            after = before
            if stories:
                after = redaction.forget_stories(after, include_open=include_open)
            if places:
                after = redaction.forget_places(after)
            for row, old, new in zip(rows, before, after):
                if old != new:
                    row.data = json.dumps(new)
                    changed += 1
            session.commit()
        if changed:
            checkpoint(self.engine)  # type: ignore[attr-defined]
            log.info("forgot what was kept only for its use (%d events)", changed)
        return changed

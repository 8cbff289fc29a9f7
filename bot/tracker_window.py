"""A turn costs the same on day 1 and month 6: the tracker a turn works on is bounded.

Rasa 3.6 loads, deserialises and featurises every event of the current conversation
session on every message (``SQLTrackerStore.retrieve``), and ships them all to the
action server; Memoization and Rule policies walk ``tracker.past_states`` over the whole
list although they only look at the last few turns. With sessions that never end, the
cost of a turn grew with the person's history (issue 12: 33 ms at turn 10, 639 ms at
turn 400).

Two bounds, both without losing a word (the export and the API read
``retrieve_full_tracker``, every stored event, untouched):

- **Sessions end after inactivity** (``domain.yml``: ``session_expiration_time``, slots
  carried over): Rasa then loads only the new session.
- **Within a long session, a window** (``WindowedStore._retrieve``): when the session
  holds more than ``WINDOW`` events, the tracker is built from
  1. the session's ``session_started`` event,
  2. the latest value of every slot set before the cut (one grouped query),
  3. the events from the cut on: the ``action_listen`` before the first user message of
     the last ``WINDOW`` events that came at rest (no form active) — the listen is kept
     so that a fallback's rewind of that message stops there, not in the slots.
  Every event is a stored one; the slots end with their true values; the policies see
  the last ``WINDOW`` events, far more than their ``max_history``. Without a rest point
  in the window (a form open for the whole window) the whole session is loaded.
  ``_additional_events`` then maps the stored count to the shorter tracker, so new
  events are written once, in order.
"""
from __future__ import annotations

import itertools
import json
import logging
from typing import Any, Dict, Iterator, List, Optional

import sqlalchemy as sa
from rasa.shared.core.trackers import DialogueStateTracker

log = logging.getLogger(__name__)

WINDOW = 150  # events kept after the cut (a turn writes about 5 to 12)
SHIFT = "_atouts_window_shift"  # on a windowed tracker: its length minus the stored count
NOT_WINDOWED: Any = object()  # _windowed's answer when the whole session must be loaded


def rest_cut(events: List[Dict[str, Any]], loop_before: Optional[str]) -> Optional[int]:
    """Index of the first user message in ``events`` sent at rest: right after
    ``action_listen`` with no form active (``loop_before``: the active loop when the
    window starts)."""
    loop = loop_before
    for i, event in enumerate(events):
        kind = event.get("event")
        if kind == "active_loop":
            loop = event.get("name")
        elif (kind == "user" and i > 0 and loop is None and events[i - 1].get("event") == "action"
              and events[i - 1].get("name") == "action_listen"):
            return i
    return None


class WindowedStore:
    """Mixed into ``bot.tracker_store.ErasableSQLTrackerStore`` (a ``SQLTrackerStore``)."""

    window: int = WINDOW

    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool
                        ) -> Optional[DialogueStateTracker]:
        if not fetch_events_from_all_sessions:
            tracker = self._windowed(sender_id)
            if tracker is not NOT_WINDOWED:
                return tracker
        return await super()._retrieve(sender_id, fetch_events_from_all_sessions)  # type: ignore[misc]

    def _windowed(self, sender_id: str) -> Any:
        """A tracker, None (no such conversation) or NOT_WINDOWED."""
        E = self.SQLEvent  # type: ignore[attr-defined]
        domain = self.domain  # type: ignore[attr-defined]
        if domain is None:
            return NOT_WINDOWED
        with self.session_scope() as session:  # type: ignore[attr-defined]
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions=False)  # type: ignore[attr-defined]
            rows = query.order_by(None).order_by(E.id.desc()).limit(self.window + 1).all()[::-1]
            events = [json.loads(row.data) for row in rows]
            if len(rows) <= self.window:  # a short session: all of it, from this one query
                if not events:
                    return None
                return DialogueStateTracker.from_dict(sender_id, events, domain.slots)
            stored = query.count()
            rows, events = rows[1:], events[1:]
            first_id = rows[0].id
            before = query.filter(E.id < first_id)
            last_loop = (before.filter(E.type_name == "active_loop").order_by(None)
                         .order_by(E.id.desc()).first())
            cut = rest_cut(events, json.loads(last_loop.data).get("name") if last_loop else None)
            if cut is None:
                return NOT_WINDOWED
            # from the action_listen before that message: a fallback's rewind (undo to the
            # user message, then to the action before it) must not eat the slot snapshot
            cut -= 1
            cut_id = rows[cut].id
            head = [json.loads(row.data) for row in query.filter(E.id < first_id).limit(1).all()
                    if row.type_name == "session_started"]
            latest = (query.filter(E.id < cut_id, E.type_name == "slot").order_by(None)
                      .with_entities(sa.func.max(E.id)).group_by(E.action_name))
            ids = [row[0] for row in latest.all()]
            slots = [json.loads(row.data) for row in session.query(E).filter(E.id.in_(ids)).order_by(E.id).all()]
        kept = head + slots + events[cut:]
        tracker = DialogueStateTracker.from_dict(sender_id, kept, domain.slots)
        setattr(tracker, SHIFT, len(tracker.events) - stored)
        log.debug("windowed tracker: %d of %d events", len(kept), stored)
        return tracker

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        shift = getattr(tracker, SHIFT, None)
        if shift is None:
            return super()._additional_events(session, tracker)  # type: ignore[misc]
        stored = self._event_query(session, tracker.sender_id, fetch_events_from_all_sessions=False).count()  # type: ignore[attr-defined]
        return itertools.islice(tracker.events, max(0, stored + shift), len(tracker.events))

"""Retention: erase people inactive for longer than ATOUTS_RETENTION_DAYS (default 365).

    python -m bot.privacy.retention [--tracker-db var/rasa_tracker.db] [--dry-run]

Run daily by the launcher (`make run`); in production, from cron or a systemd timer.

- Activity is the last event of the person's conversation in the Rasa tracker (the
  consent date when the conversation is gone). Beyond the limit, the person is erased
  exactly as « supprime mes données » does: app rows (badges revoked first) and tracker
  events. Conversations of people who never consented are deleted after the same limit.
- Stories of people who did not consent that were left unfinished are forgotten after
  ATOUTS_STORY_IDLE_HOURS (default 24): a finished one is forgotten at once by the
  tracker store (bot/privacy/tracker.py).

Logs give counts only, never an id.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, Optional

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.privacy import redaction
from bot.storage import Store
from bot.storage.db import checkpoint, tune_sqlite

log = logging.getLogger(__name__)

DEFAULT_DAYS = 365
DEFAULT_STORY_IDLE_HOURS = 24


@dataclass
class Report:
    persons_erased: int = 0
    conversations_erased: int = 0
    stories_forgotten: int = 0


def _tracker_engine(url: str) -> Engine:
    from sqlalchemy import event

    from bot.privacy.files import private_sqlite

    private_sqlite(url)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", tune_sqlite)
    return engine


def last_activity(tracker: Engine) -> Dict[str, datetime]:
    """sender id -> time of the last event of their conversation."""
    with tracker.connect() as connection:
        try:
            rows = connection.execute(text("SELECT sender_id, MAX(timestamp) FROM events GROUP BY sender_id")).all()
        except Exception:  # noqa: BLE001 - no events table yet: nothing stored
            return {}
    return {sender: datetime.fromtimestamp(float(ts), timezone.utc) for sender, ts in rows if ts is not None}


def consented(events: List[dict]) -> bool:
    value = None
    for event in events:
        if event.get("event") == "slot" and event.get("name") == "consent":
            value = event.get("value")
    return value == "oui"


def _events(tracker: Engine, sender_id: str) -> List[tuple[int, dict]]:
    with tracker.connect() as connection:
        rows = connection.execute(text("SELECT id, data FROM events WHERE sender_id = :s ORDER BY id"),
                                  {"s": sender_id}).all()
    return [(row_id, json.loads(data)) for row_id, data in rows]


def erase_conversation(tracker: Engine, sender_id: str) -> int:
    with tracker.begin() as connection:
        deleted = connection.execute(text("DELETE FROM events WHERE sender_id = :s"), {"s": sender_id}).rowcount
    return deleted


def forget_open_story(tracker: Engine, sender_id: str) -> int:
    rows = _events(tracker, sender_id)
    events = [event for _, event in rows]
    if consented(events):
        return 0
    after = redaction.forget_stories(events, include_open=True)
    changed = [(row_id, new) for (row_id, old), new in zip(rows, after) if old != new]
    if changed:
        with tracker.begin() as connection:
            for row_id, new in changed:
                connection.execute(text("UPDATE events SET data = :d WHERE id = :i"),
                                   {"d": json.dumps(new), "i": row_id})
    return len(changed)


def run(store: Store, tracker: Engine, *, days: int = DEFAULT_DAYS,
        story_idle_hours: int = DEFAULT_STORY_IDLE_HOURS, now: Optional[datetime] = None,
        dry_run: bool = False) -> Report:
    now = now or datetime.now(timezone.utc)
    limit = now - timedelta(days=days)
    story_limit = now - timedelta(hours=story_idle_hours)
    report = Report()
    activity = last_activity(tracker)
    for sender_id, consent_at in store.consent_dates():
        seen = max(filter(None, [activity.get(sender_id), consent_at]), default=None)
        if seen is not None and seen < limit:
            report.persons_erased += 1
            if not dry_run:
                store.erase_person(sender_id)
                erase_conversation(tracker, sender_id)
                activity.pop(sender_id, None)
    for sender_id, seen in activity.items():
        if seen < limit:
            report.conversations_erased += 1
            if not dry_run:
                erase_conversation(tracker, sender_id)
        elif seen < story_limit and not dry_run:
            report.stories_forgotten += 1 if forget_open_story(tracker, sender_id) else 0
    if not dry_run:
        checkpoint(tracker)
    log.info("retention: %d persons and %d other conversations erased, %d stories forgotten",
             report.persons_erased, report.conversations_erased, report.stories_forgotten)
    return report


def tracker_url(path_or_url: str) -> str:
    return path_or_url if "://" in path_or_url else f"sqlite:///{path_or_url}"


def main(argv: Optional[List[str]] = None, make_store: Optional[Callable[[], Store]] = None) -> int:
    from bot.config import ROOT, Settings

    parser = argparse.ArgumentParser(prog="python -m bot.privacy.retention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracker-db", default=os.environ.get("ATOUTS_TRACKER_DB_URL",
                                                               str(ROOT / "var" / "rasa_tracker.db")),
                        help="the Rasa tracker database (path or SQLAlchemy URL)")
    parser.add_argument("--days", type=int, default=int(os.environ.get("ATOUTS_RETENTION_DAYS", DEFAULT_DAYS)))
    parser.add_argument("--dry-run", action="store_true", help="count only")
    args = parser.parse_args(argv)
    if args.days < 1:
        print("ATOUTS_RETENTION_DAYS doit valoir au moins 1", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings.from_env()
    if make_store is not None:
        store = make_store()
    else:
        from bot.badges import BadgeIssuer

        store = Store(settings.db_url, revoke_status=BadgeIssuer.from_settings(settings).revoke)
    tracker = _tracker_engine(tracker_url(args.tracker_db))
    try:
        store.migrate()
        report = run(store, tracker, days=args.days, dry_run=args.dry_run,
                     story_idle_hours=int(os.environ.get("ATOUTS_STORY_IDLE_HOURS", DEFAULT_STORY_IDLE_HOURS)))
    finally:
        store.close()
        tracker.dispose()
    print(f"{report.persons_erased} personne(s) et {report.conversations_erased} autre(s) conversation(s) "
          f"effacée(s), {report.stories_forgotten} récit(s) oublié(s)"
          + (" (simulation)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

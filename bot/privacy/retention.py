"""Retention: erase people inactive for longer than ATOUTS_RETENTION_DAYS (default 365),
after telling them.

    python -m bot.privacy.retention [--tracker-db var/rasa_tracker.db] [--dry-run]

Run daily by the launcher (`make run`); in production, from cron or a systemd timer.

- Activity is the person's last message in the Rasa tracker (the consent date when the
  conversation is gone). Messages our own servers trigger (``EXTERNAL_*``: a referent
  answered, a follow-up, this notice) do not count.
- **Notice first.** Once a person has been inactive for RETENTION_DAYS minus
  ATOUTS_RETENTION_NOTICE_DAYS (default 30), they are told on their channel, through
  Rasa's API (``EXTERNAL_retention_notice``, kept in the outbox too), the date their
  space will be erased; the notice date is stored on the person. Nobody is erased
  without a notice at least NOTICE_DAYS old given after their last message; a person
  who writes again is not erased (the notice is forgotten). If Rasa cannot be reached,
  no notice is recorded and the erasure waits for the next run.
- Beyond the limit, the person is erased exactly as « supprime mes données » does: app
  rows (badges revoked first) and tracker events. Conversations of people who never
  consented (nothing kept about them) are deleted after the same limit, without notice.
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
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Dict, List, Optional

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.privacy import redaction
from bot.storage import Store
from bot.storage.db import checkpoint, tune_sqlite

log = logging.getLogger(__name__)

DEFAULT_DAYS = 365
DEFAULT_NOTICE_DAYS = 30
DEFAULT_STORY_IDLE_HOURS = 24
NOTICE_INTENT = "EXTERNAL_retention_notice"

# (sender id, erasure date) -> True when the person was told
Notify = Callable[[str, date], bool]


@dataclass
class Report:
    persons_erased: int = 0
    conversations_erased: int = 0
    stories_forgotten: int = 0
    notices_sent: int = 0
    notices_failed: int = 0


def _tracker_engine(url: str) -> Engine:
    from sqlalchemy import event

    from bot.privacy.files import private_sqlite

    private_sqlite(url)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", tune_sqlite)
    return engine


def last_activity(tracker: Engine) -> Dict[str, datetime]:
    """sender id -> time of the person's last message (our servers' EXTERNAL_ triggers
    and the bot's own events do not count); conversations without any message: their
    last event."""
    with tracker.connect() as connection:
        try:
            rows = connection.execute(text(
                "SELECT sender_id, COALESCE(MAX(CASE WHEN type_name = 'user' AND "
                "(intent_name IS NULL OR intent_name NOT LIKE 'EXTERNAL%') THEN timestamp END), "
                "MAX(timestamp)) FROM events GROUP BY sender_id")).all()
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


def rasa_notify(rasa_url: str, token: str, attempts: int = 3, timeout: float = 10.0) -> Notify:
    """Tell a person through Rasa's API (``trigger_intent``, ``output_channel=latest``)."""
    import time
    import urllib.error
    import urllib.parse
    import urllib.request

    def notify(sender_id: str, erase_on: date) -> bool:
        url = (f"{rasa_url.rstrip('/')}/conversations/{urllib.parse.quote(sender_id, safe=':')}/trigger_intent?"
               + urllib.parse.urlencode({"output_channel": "latest", **({"token": token} if token else {})}))
        body = json.dumps({"name": NOTICE_INTENT, "entities": {"erase_on": erase_on.isoformat()}}).encode()
        for attempt in range(attempts):
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    return response.status < 300
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return False
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(min(5.0, 0.5 * 2 ** attempt))
        return False

    return notify


def run(store: Store, tracker: Engine, *, days: int = DEFAULT_DAYS, notice_days: int = DEFAULT_NOTICE_DAYS,
        notify: Optional[Notify] = None, story_idle_hours: int = DEFAULT_STORY_IDLE_HOURS,
        now: Optional[datetime] = None, dry_run: bool = False) -> Report:
    now = now or datetime.now(timezone.utc)
    limit = now - timedelta(days=days)
    notice_from = limit + timedelta(days=notice_days)  # inactive since before this: time to tell
    story_limit = now - timedelta(hours=story_idle_hours)
    report = Report()
    activity = last_activity(tracker)
    persons = store.consent_dates()
    for sender_id, consent_at, noticed in persons:
        seen = max(filter(None, [activity.get(sender_id), consent_at]), default=None)
        if seen is None:
            continue
        told = noticed is not None and noticed >= seen  # since their last message
        if seen >= notice_from:
            if noticed is not None and not dry_run:
                store.mark_retention_notice(sender_id, None)  # they came back
            continue
        if told and seen < limit and noticed <= now - timedelta(days=notice_days):
            report.persons_erased += 1
            if not dry_run:
                store.erase_person(sender_id)
                erase_conversation(tracker, sender_id)
                activity.pop(sender_id, None)
        elif not told:
            erase_on = max(seen + timedelta(days=days), now + timedelta(days=notice_days)).date()
            if dry_run:
                report.notices_sent += 1
            elif notify is None:
                report.notices_failed += 1
            else:
                store.mark_retention_notice(sender_id, now)  # the action checks it was recorded
                if notify(sender_id, erase_on):
                    report.notices_sent += 1
                else:
                    store.mark_retention_notice(sender_id, None)
                    report.notices_failed += 1
    stored = {sender_id for sender_id, _, _ in persons}
    for sender_id, seen in activity.items():
        if seen < limit and sender_id not in stored:  # nothing kept about them: no notice

            report.conversations_erased += 1
            if not dry_run:
                erase_conversation(tracker, sender_id)
        elif seen < story_limit and not dry_run:
            report.stories_forgotten += 1 if forget_open_story(tracker, sender_id) else 0
    if not dry_run:
        checkpoint(tracker)
    log.info("retention: %d notices sent (%d failed), %d persons and %d other conversations erased, "
             "%d stories forgotten", report.notices_sent, report.notices_failed, report.persons_erased,
             report.conversations_erased, report.stories_forgotten)
    return report


def tracker_url(path_or_url: str) -> str:
    return path_or_url if "://" in path_or_url else f"sqlite:///{path_or_url}"


def main(argv: Optional[List[str]] = None, make_store: Optional[Callable[[], Store]] = None) -> int:
    from bot.config import ROOT, Settings

    parser = argparse.ArgumentParser(prog="python -m bot.privacy.retention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracker-db", default=os.environ.get("ATOUTS_TRACKER_DB_URL",
                                                               str(ROOT / "var" / "rasa_tracker.db")),
                        help="the Rasa tracker database (path or SQLAlchemy URL)")
    settings = Settings.from_env()
    parser.add_argument("--days", type=int, default=settings.retention_days)
    parser.add_argument("--notice-days", type=int, default=settings.retention_notice_days)
    parser.add_argument("--dry-run", action="store_true", help="count only")
    args = parser.parse_args(argv)
    if not 0 < args.notice_days < args.days:
        print("il faut 0 < ATOUTS_RETENTION_NOTICE_DAYS < ATOUTS_RETENTION_DAYS", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if make_store is not None:
        store = make_store()
    else:
        from bot.badges import BadgeIssuer

        store = Store(settings.db_url, revoke_status=BadgeIssuer.from_settings(settings).revoke)
    tracker = _tracker_engine(tracker_url(args.tracker_db))
    try:
        store.migrate()
        report = run(store, tracker, days=args.days, notice_days=args.notice_days, dry_run=args.dry_run,
                     notify=rasa_notify(settings.rasa_url, settings.rasa_token),
                     story_idle_hours=settings.story_idle_hours)
    finally:
        store.close()
        tracker.dispose()
    print(f"{report.notices_sent} prévenue(s) ({report.notices_failed} injoignable(s)), "
          f"{report.persons_erased} personne(s) et {report.conversations_erased} autre(s) conversation(s) "
          f"effacée(s), {report.stories_forgotten} récit(s) oublié(s)"
          + (" (simulation)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Retention with a notice first (issue 10, item 5), through the real stack: the job
`python -m bot.privacy.retention` tells an inactive person on their channel through
Rasa's API (REST cannot push: the notice waits in the outbox and comes first at their
next message); a person who writes again is kept; after the notice delay, erased."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

from bot.config import ROOT
from tests.e2e.test_challenger import texts

DAY = 86400


def age(client, store, sender: str, days: float) -> None:
    """As if the conversation (and the consent) happened `days` earlier."""
    from sqlalchemy import text

    with sqlite3.connect(client.stack.config.tracker_db) as db:
        db.execute("UPDATE events SET timestamp = timestamp - ?, data = json_set(data, '$.timestamp', "
                   "json_extract(data, '$.timestamp') - ?) WHERE sender_id = ?", (days * DAY, days * DAY, sender))
    with store._engine.begin() as connection:
        for column in ("consent_at", "created_at", "retention_notice_at"):
            connection.execute(text(f"UPDATE persons SET {column} = datetime({column}, :shift) "
                                    f"WHERE sender_id = :s AND {column} IS NOT NULL"),
                               {"shift": f"-{days} days", "s": sender})


def retention(client) -> str:
    done = subprocess.run([sys.executable, "-m", "bot.privacy.retention",
                           "--tracker-db", str(client.stack.config.tracker_db)],
                          cwd=ROOT, env=client.stack.env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "rest:" not in done.stdout + done.stderr  # counts only, never an id
    return done.stdout


def test_an_inactive_person_is_told_then_kept_when_they_come_back(client, store) -> None:
    sender = "rest:e2e-retention-back"
    client.say(sender, "/greet")
    client.say(sender, "/affirm")  # consent
    client.say(sender, "Inès")
    assert store.has_consent(sender)
    age(client, store, sender, 340)
    assert "1 prévenue(s) (0 injoignable(s))" in retention(client)
    assert store.retention_notice_of(sender) is not None
    reply = texts(client.say(sender, "salut"))
    assert "Pendant ton absence" in reply and "j'efface ton espace Atouts" in reply and "Inès" in reply, reply
    age(client, store, sender, 40)  # they wrote 40 days ago: well within the year
    out = retention(client)
    assert "0 prévenue(s)" in out and "0 personne(s)" in out
    assert store.has_consent(sender) and store.retention_notice_of(sender) is None


def test_an_inactive_person_is_erased_only_after_the_notice(client, store) -> None:
    sender = "rest:e2e-retention-gone"
    client.say(sender, "/greet")
    client.say(sender, "/affirm")
    client.say(sender, "Yanis")
    age(client, store, sender, 400)
    assert "1 prévenue(s)" in retention(client) and store.has_consent(sender)
    assert "0 prévenue(s) (0 injoignable(s)), 0 personne(s)" in retention(client)  # told today: not yet
    age(client, store, sender, 31)  # nobody wrote since the notice
    assert "1 personne(s)" in retention(client)
    assert not store.has_consent(sender) and client.tracker_rows(sender) == 0

"""Issue 12 — a turn's cost does not grow with the person's history, and nothing is lost.
Through the real stack: after an hour of silence a new session starts with the slots
carried over; a long session is worked on as a bounded window (bot.tracker_window); the
stored conversation and the export keep every message."""
from __future__ import annotations

import json
import sqlite3

from tests.e2e.test_challenger import texts


def rows(client, sender: str, kind: str) -> list:
    with sqlite3.connect(client.stack.config.tracker_db) as db:
        return [json.loads(r[0]) for r in db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = ? ORDER BY id", (sender, kind))]


def full_tracker(client, sender: str) -> dict:
    status, body, _ = client.get(f"{client.rasa}/conversations/{sender}/tracker?include_events=ALL"
                                 f"&token={client.stack.rasa_token}")
    assert status == 200
    return json.loads(body)


def onboard(client, sender: str, name: str) -> None:
    """Consent, first name, then the menu (no story)."""
    for text in ("/greet", "/affirm", name, "/stop"):
        client.say(sender, text)


def test_a_new_session_after_an_hour_keeps_the_slots(client) -> None:
    sender = "rest:e2e-session-hour"
    onboard(client, sender, "Inès")
    with sqlite3.connect(client.stack.config.tracker_db) as db:  # as if it were 2 hours ago
        db.execute("UPDATE events SET timestamp = timestamp - 7200, data = json_set(data, '$.timestamp', "
                   "json_extract(data, '$.timestamp') - 7200) WHERE sender_id = ?", (sender,))
    reply = texts(client.say(sender, "c'est quoi la rigueur"))
    assert "rigueur" in reply.lower()
    assert len(rows(client, sender, "session_started")) == 2
    tracker = full_tracker(client, sender)
    assert tracker["slots"]["first_name"] == "Inès" and tracker["slots"]["consent"] == "oui"
    said = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert "Inès" in said and said[-1] == "c'est quoi la rigueur"  # both sessions, every message


def test_a_long_session_is_answered_on_a_window_and_loses_nothing(client) -> None:
    from bot.tracker_window import WINDOW

    sender = "rest:e2e-session-long"
    onboard(client, sender, "Yanis")
    n = 0
    while len(rows(client, sender, "user")) * 6 < 2 * WINDOW or n < 30:
        n += 1
        reply = texts(client.say(sender, "c'est quoi la rigueur"))
        assert "rigueur" in reply.lower(), reply
    assert len(rows(client, sender, "session_started")) == 1  # one long session
    with sqlite3.connect(client.stack.config.tracker_db) as db:
        stored = db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0]
    assert stored > 2 * WINDOW
    said = [e["text"] for e in rows(client, sender, "user")]
    assert said[-n:] == ["c'est quoi la rigueur"] * n and said[-n - 1] == "/stop"  # each once, in order
    tracker = full_tracker(client, sender)
    assert tracker["slots"]["first_name"] == "Yanis"
    assert len(tracker["events"]) == stored  # the API and the export see every event
    # the window starts at rest: the next story starts a form as on day 1
    assert "Raconte" in texts(client.say(sender, "/want_to_tell"))

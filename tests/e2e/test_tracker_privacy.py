"""Issue 10, item 5 through the real stack: after a story told without consent, a referent
invitation (link + e-mail), an export link and a typed address for missions, the Rasa
tracker database holds none of them in clear (bot/privacy/redaction.py)."""
from __future__ import annotations

import re
import sqlite3
from typing import Any, Dict, List

import pytest

from tests.e2e.test_challenger import LINK_RE, address, buttons, invite, reach_confirmed_skills, texts

pytestmark = pytest.mark.e2e


def stored(client, sender: str) -> str:
    with sqlite3.connect(client.stack.config.tracker_db) as db:
        rows: List[str] = [r[0] for r in db.execute("SELECT data FROM events WHERE sender_id = ?", (sender,))]
    assert rows, "nothing stored for this conversation"
    return "\n".join(rows)


def refuse_and_tell(client, sender: str) -> List[Dict[str, Any]]:
    """Refuse consent, skip the name, tell a story over three messages."""
    client.say(sender, "/greet")
    assert "rien" in texts(client.say(sender, "non"))
    client.say(sender, "/skip")
    client.say(sender, "J'ai gardé mes petits frères chez Zorglubine tout l'été")
    client.say(sender, "je leur faisais à manger et je les emmenais à l'école tous les matins")
    return client.say(sender, "c'était dur mais au final ils ont eu de bonnes notes")


def test_a_refused_story_is_not_kept(client) -> None:
    """The story ends (skills shown, or none found after the one probe question): every
    word of it is erased from the stored conversation at once."""
    sender = "rest:e2e-privacy-story"  # as REST stores it
    reply = refuse_and_tell(client, sender)
    if "Je n'arrive pas encore" in texts(reply):  # the one probe question: answer it
        reply = client.say(sender, "le plus dur c'était de tout gérer seule, j'ai fait des plannings Zorglubine")
    for _ in range(6):
        if "Je ne garde rien" in texts(reply):
            break
        reply = client.say(sender, "/affirm")
    assert "Je ne garde rien" in texts(reply), texts(reply)
    kept = stored(client, sender)
    assert "Zorglubine" not in kept and "petits fr" not in kept and "bonnes notes" not in kept
    assert "plannings" not in kept


def test_an_unfinished_refused_story_is_forgotten_after_a_day(client, store) -> None:
    """Someone who refused consent tells half a story and leaves: the words wait for the
    story's end only as long as ATOUTS_STORY_IDLE_HOURS (24 h); then the retention job
    (run daily by `make run`) erases them."""
    from tests.e2e.test_retention import age, retention

    sender = "rest:e2e-privacy-unfinished"
    refuse_and_tell(client, sender)
    assert "Zorglubine" in stored(client, sender)  # the story is still being told
    age(client, store, sender, 0.5)
    retention(client)
    assert "Zorglubine" in stored(client, sender)  # 12 h: they may come back to finish it
    age(client, store, sender, 0.6)
    assert "1 récit(s) oublié(s)" in retention(client)
    kept = stored(client, sender)
    assert "Zorglubine" not in kept and "petits fr" not in kept and "bonnes notes" not in kept


def test_links_emails_and_a_typed_address_are_not_kept(client, store) -> None:
    sender = "rest:e2e-privacy-links"
    reach_confirmed_skills(client, sender)
    email = address("karim")
    skill_id = store.confirmed_skills(sender)[0].skill_id
    link = invite(client, sender, skill_id, "Karim", "coach", email=email)
    token = link.rsplit("/", 1)[1]
    export = re.findall(r"https?://\S+/mes-donnees/\S+", texts(client.say(sender, "mes données")))
    messages = client.say(sender, "je cherche une mission de bénévolat")
    if "Quelle compétence" in texts(messages):
        messages = client.say(sender, [b["payload"] for b in buttons(messages) if b["payload"].startswith("/choose")][0])
    assert "code postal" in texts(messages), texts(messages)
    client.say(sender, "j'habite 12 rue des Lilas 69003 Lyon")
    kept = stored(client, sender)
    assert token not in kept and email not in kept and "exemple.org" not in kept
    for url in export:
        assert url.rsplit("/", 1)[1] not in kept
    assert "Lilas" not in kept and "69003" not in kept
    assert re.search(LINK_RE, kept) is None  # every /referent/ link is masked

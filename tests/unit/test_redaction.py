"""bot.privacy.redaction: pure functions over Rasa event dicts."""
from __future__ import annotations

from bot.privacy import redaction as r

TOKEN = "Qm9uam91ci1jZXN0LXVuLXNlY3JldC1kZS00My1jYXI"


def user(text: str, **parse: object) -> dict:
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": "inform"},
                                                          "entities": [{"value": text}], **parse}}


def slot(name: str, value: object) -> dict:
    return {"event": "slot", "name": name, "value": value}


def test_links_and_emails_are_masked_everywhere() -> None:
    text = f"Lien : https://a.org/referent/{TOKEN} et http://x/mes-donnees/{TOKEN}?a=1 ou karim@club.fr"
    assert r.redact_text(text) == ("Lien : https://a.org/referent/[lien masqué] et "
                                   "http://x/mes-donnees/[lien masqué]?a=1 ou [adresse masquée]")
    bot = {"event": "bot", "text": text, "data": {"buttons": [{"payload": f"/partenaires/{TOKEN}"}]}}
    [out] = r.redact_events([bot])
    assert TOKEN not in str(out) and "karim@club.fr" not in str(out)
    assert TOKEN in str(bot)  # the input is not modified
    assert r.redact_text("/referent/court") == "/referent/court"  # not a token: kept
    assert r.redact_text(None) is None


def test_answers_to_typed_slots_are_masked_and_slots_reduced() -> None:
    events = [slot("requested_slot", "mission_place"), user("12 rue des Lilas 69003 Lyon"),
              slot("mission_place", "12 rue des Lilas 69003 Lyon"), slot("mission_place", "69"),
              slot("requested_slot", "referent_email"), user("karim@club.fr"),
              slot("referent_email", "karim@club.fr"), slot("requested_slot", None), user("merci 69003")]
    out = r.redact_events(events)
    assert out[1]["text"] == r.TYPED_MASK and out[1]["parse_data"]["entities"] == []
    assert [e["value"] for e in out if e.get("name") == "mission_place"] == [r.TYPED_MASK, "69"]
    assert out[5]["text"] == r.TYPED_MASK and out[6]["value"] == r.TYPED_MASK
    assert out[8]["text"] == "merci 69003"  # not an answer to those questions
    # the slot asked before the first event comes from what is already stored
    assert r.redact_events([user("75011")], requested_slot="mission_place")[0]["text"] == r.TYPED_MASK
    assert r.requested_before(events[:4]) == "mission_place"


def test_a_town_is_kept_for_the_search_then_forgotten() -> None:
    assert r.redact_slot("mission_place", "Saint-Étienne") == "Saint-Étienne"
    assert r.redact_slot("mission_place", "2A") == "2A"
    assert r.redact_slot("mission_place", "42000 Saint-Étienne") == r.TYPED_MASK
    assert r.redact_slot("referent_email", "-") == "-"
    events = [slot("mission_place", "Saint-Étienne"), slot("mission_place", "974"), slot("mission_place", None)]
    assert r.place_used(events)
    assert [e["value"] for e in r.forget_places(events)] == [r.TYPED_MASK, "974", None]


def test_finished_stories_are_forgotten_unfinished_kept_unless_asked() -> None:
    story = "J'ai tenu la caisse, je recomptais tout."
    events = [
        user("non"), slot("consent", "non"),
        user(story), slot("experience_story", None), slot("experience_story", story),
        slot("pending_skills", [{"skill_id": "rigueur", "evidence": "je recomptais tout"}]),
        {"event": "bot", "text": "Tu as dit « je recomptais tout » : rigueur ?"},
        user("oui"), slot("session_skills", ["rigueur"]), slot("experience_story", None),
        user("une autre histoire en cours"), slot("experience_story", "une autre histoire en cours"),
    ]
    out = r.forget_stories(events)
    dump = str(out[:10])
    assert "recomptais" not in dump and "caisse" not in dump
    assert out[0]["text"] == "non" and out[1]["value"] == "non"  # before the story: kept
    assert out[8]["value"] == ["rigueur"]  # skill ids remain
    assert out[10]["text"] == "une autre histoire en cours"  # not finished: still needed
    assert "en cours" not in str(r.forget_stories(events, include_open=True)[10:])
    assert r.story_closed(events) and not r.story_closed(events[:3])

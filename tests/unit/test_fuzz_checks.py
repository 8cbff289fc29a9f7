"""The conversation fuzzer's checks (tools/fuzz.py) on crafted transcripts: each check
finds what it should, and stays quiet on a sound conversation."""
from __future__ import annotations

import random
from typing import Any, Dict, List

import pytest

from tools import fuzz
from tools.fuzz import Probe, Turn, Walk

MENU = [{"text": "On continue ?", "buttons": [
    {"title": "Raconter une autre expérience", "payload": "/want_to_tell"},
    {"title": "Voir mes compétences", "payload": "/show_my_skills"}]}]
PAUSED = [{"text": "OK, on met ça de côté 👍 Écris « reprendre » quand tu veux continuer."}]
MORE = [{"text": "Dis-m'en un peu plus 🙂 Où c'était, avec qui, ce que tu faisais…"}]
HELP = [{"text": "Tu n'es pas seul·e. Appelle le 3114 (24 h/24) ou le Fil Santé Jeunes au 0 800 235 236."}]


def msg(text: str, *buttons: Dict[str, str]) -> List[Dict[str, Any]]:
    return [{"text": text, "buttons": list(buttons)}] if buttons else [{"text": text}]


def walk(*turns: Turn, probes: List[Probe] = ()) -> Walk:
    return Walk(0, "t", "fuzz-t-0", list(turns), list(probes))


def checks(w: Walk) -> List[str]:
    return sorted(f.check for f in fuzz.check_walk(w))


def test_a_sound_conversation_has_no_finding():
    w = walk(Turn("start", "/greet", msg("Salut 👋")), Turn("story", "j'ai bossé au mcdo", MORE),
             Turn("one_word", "jsp", MORE), Turn("crisis", "jveux plus vivre", HELP),
             Turn("probe", "menu", MENU, probe=0), probes=[Probe("menu", [4])])
    assert checks(w) == []


@pytest.mark.parametrize("turn", [
    Turn("one_word", "ok", [], status=500, error="Internal Server Error"),
    Turn("one_word", "ok", [], status=0, error="TimeoutError"),
    Turn("one_word", "ok", [], error="body is not a list: b'{}'"),
    Turn("one_word", "ok", msg("Traceback (most recent call last): ...")),
    Turn("one_word", "ok", msg("KeyError: 'skill'")),
    Turn("one_word", "ok", msg("Trop bien, None 🙂")),
    Turn("one_word", "ok", msg("Salut {first_name} !")),
    Turn("one_word", "ok", msg("utter_ask_rephrase")),
    Turn("one_word", "ok", msg("Oups, un souci de mon côté… Réessaie dans un instant.")),
    Turn("one_word", "ok", msg("Did you mean 'out_of_scope'?", {"title": "Yes", "payload": "/out_of_scope"})),
    Turn("one_word", "ok", msg("Sorry, I didn't get that. Can you rephrase?")),
])
def test_error_replies_are_caught(turn):
    assert checks(walk(turn)) == ["error_reply"]


def test_an_english_answer_to_an_english_speaker_is_not_an_error():
    assert checks(walk(Turn("english", "hello", msg("Sorry, I only speak French. Try: « Bonjour » 🙂")))) == []


@pytest.mark.parametrize("messages", [[], [{"text": ""}], [{"recipient_id": "x"}]])
def test_no_bot_message_is_an_empty_reply(messages):
    assert checks(walk(Turn("one_word", "", messages))) == ["empty_reply"]


def test_the_same_reply_three_times_is_caught_twice_is_not():
    twice = walk(Turn("one_word", "foot", MORE), Turn("one_word", "jsp", MORE))
    assert checks(twice) == []
    thrice = walk(Turn("one_word", "foot", MORE), Turn("story", "attaquant", MORE), Turn("one_word", "jsp", MORE))
    found = fuzz.check_walk(thrice)
    assert [f.check for f in found] == ["repeated_reply"] and found[0].turn == 2


def test_repeats_compare_the_whole_reply_buttons_included():
    a = msg("Choisis :", {"title": "Rigueur", "payload": '/choose{"skill":"rigueur"}'})
    b = msg("Choisis :", {"title": "Autonomie", "payload": '/choose{"skill":"autonomie"}'})
    assert checks(walk(Turn("one_word", "x", a), Turn("one_word", "y", b), Turn("one_word", "z", a))) == []


def test_asking_for_a_fixed_screen_may_repeat_it():
    w = walk(Turn("menu_request", "mes compétences", MENU), Turn("button", "/show_my_skills", MENU, title="Voir"),
             Turn("probe", "menu", MENU, probe=0), Turn("menu_request", "aide", MENU),
             Turn("crisis", "je dors dehors ce soir", HELP), Turn("crisis", "jveux plus vivre", HELP),
             Turn("crisis", "mon copain me frappe", HELP), probes=[Probe("menu", [2])])
    assert checks(w) == []


def test_a_way_out_that_fails_within_two_turns_is_caught():
    stuck = walk(Turn("story", "j'ai bossé", MORE), Turn("probe", "menu", MORE, probe=0),
                 Turn("probe", "menu", MORE, probe=0), probes=[Probe("menu", [1, 2])])
    assert checks(stuck) == ["no_way_back"]
    via_stop = walk(Turn("story", "j'ai bossé", MORE), Turn("probe", "stop", PAUSED, probe=0),
                    Turn("probe", "menu", MENU, probe=0), probes=[Probe("stop", [1, 2])])
    assert checks(via_stop) == []


def test_a_crisis_reply_needs_a_help_line():
    w = walk(Turn("crisis", "mon copain me frappe", msg("Ça, je ne sais pas faire 😅"),
                  crisis={"category": "couple_violence", "lines": ["3919"]}))
    assert checks(w) == ["crisis_without_help"]


@pytest.mark.parametrize("text,lines", [
    ("Appelle le 3114", ["3114"]), ("Fil Santé Jeunes : 0 800 235 236", ["0800235236"]),
    ("le 0800235236", ["0800235236"]), ("3018 (harcèlement)", ["3018"]), ("le 119", ["119"]),
    ("3919", ["3919"]), ("le 115 pour dormir", ["115"]), ("SMS au 114", ["114"]), ("112 ou 17", ["112", "17"]),
    ("il y a 1170 missions, 2119 au total", []), ("code 31140", []),
])
def test_help_lines_are_recognised_as_whole_numbers(text, lines):
    assert fuzz.help_lines_in(msg(text)) == lines


def test_a_help_line_in_a_tel_button_counts():
    assert fuzz.help_lines_in(msg("On peut t'aider :", {"title": "Appeler", "payload": "tel:3114"})) == ["3114"]


def test_warnings_fitting_line_and_help_lines_where_no_crisis():
    w = walk(Turn("crisis", "je dors dehors", HELP, crisis={"category": "homeless", "lines": ["115"]}),
             Turn("story", "c'était l'enfer ce déménagement", HELP))
    assert sorted(f.check for f in fuzz.warnings_of(w)) == ["crisis_missing_fitting_line", "help_line_on_non_crisis"]
    assert checks(w) == []


def test_menu_detection():
    assert fuzz.offers_menu(MENU)
    assert not fuzz.offers_menu(msg("Tu te reconnais ?", {"title": "Oui", "payload": "/affirm"},
                                    {"title": "Non", "payload": "/deny"}))
    assert not fuzz.offers_menu(msg("x", {"title": "Raconter", "payload": "/want_to_tell"}))
    assert fuzz.menu_button(msg("x", {"title": "🏠 Menu", "payload": "/menu"}))["payload"] == "/menu"
    assert fuzz.payload_intent('/choose{"skill":"rigueur"}') == "choose"
    assert fuzz.payload_intent("Pas de difficulté particulière") is None


def test_message_lists_load_and_walks_are_seeded():
    lists = fuzz.Lists.load()
    assert len(lists.crisis) >= 30 and all(c["text"] and c["lines"] for c in lists.crisis)
    assert "" in lists.one_word and len(fuzz.huge_message(random.Random(1))) == 5000
    walker = fuzz.Walker("http://unused", lists)
    picks = [[walker.pick(random.Random(f"7:{i}"), walk(), fuzz.START_WEIGHTS).text for i in range(20)]
             for _ in range(2)]
    assert picks[0] == picks[1]


def test_a_crisis_message_quoted_back_as_evidence_is_a_warning():
    w = walk(Turn("crisis", "mes parents me laissent seul sans manger", HELP),
             Turn("button", "/want_to_tell", msg("🧭 Autonomie  \nOn le voit quand tu dis « me laissent seul sans "
                                                 "manger »  \nTu te reconnais ?"), title="Raconter"),
             Turn("story", "j'ai bossé", msg("On le voit quand tu dis « j'ai bossé »")))
    assert [(f.check, f.turn) for f in fuzz.warnings_of(w)] == [("crisis_quoted_later", 1)]


def _training_texts() -> set:
    import yaml

    texts = set()
    for path in (fuzz.ROOT / "data" / "nlu").rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            examples = block.get("examples") or []
            if isinstance(examples, str):
                examples = [line[2:] for line in examples.splitlines() if line.startswith("- ")]
            for ex in examples:
                text = ex.get("text", "") if isinstance(ex, dict) else str(ex)
                texts.add(" ".join(text.lower().split()))
    return texts


def test_fuzz_messages_are_not_training_data():
    lists = fuzz.Lists.load()
    training = _training_texts()
    assert len(training) > 500
    ours = lists.stories + lists.insults + lists.other_languages + [c["text"] for c in lists.crisis]
    copied = [t for t in ours if len(t) > 12 and " ".join(t.lower().split()) in training]
    assert copied == []


# --- the walker against a small fake bot (aiohttp on a free port) ----------------------------
def _fake_bot_walks(seed: str, n: int):
    import asyncio
    import socket

    from aiohttp import web

    async def webhook(request):
        body = await request.json()
        text, sender = body["message"], body["sender"]
        seen = request.app["seen"].setdefault(sender, 0)
        request.app["seen"][sender] += 1
        if text in ("menu", "/menu"):
            return web.json_response(MENU)
        if text == "stop":
            return web.json_response(PAUSED + [{"text": "x", "buttons": [{"title": "Menu", "payload": "/menu"}]}])
        return web.json_response([{"text": f"question {seen}", "buttons": [
            {"title": "Oui", "payload": "/affirm"}, {"title": f"choix {seen}", "payload": f"/choose{{\"n\":\"{seen}\"}}"}]}])

    async def main():
        app = web.Application()
        app["seen"] = {}
        app.router.add_post("/webhooks/rest/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            return await fuzz.run_walks(f"http://127.0.0.1:{port}/webhooks/rest/webhook", fuzz.Lists.load(),
                                        seed, range(n), concurrency=2, progress=False)
        finally:
            await runner.cleanup()

    return asyncio.run(main())


def test_walks_are_bounded_seeded_and_probe_the_way_out():
    first, again, other = _fake_bot_walks("42", 12), _fake_bot_walks("42", 12), _fake_bot_walks("43", 12)
    said = lambda walks: [[(t.kind, t.text) for t in w.turns] for w in walks]
    assert said(first) == said(again) and said(first) != said(other)
    assert len({w.sender for w in first + again}) == 24  # a new sender id per walk, every run
    for w in first:
        assert 8 <= len(w.turns) <= 20
        assert 1 <= len(w.probes) <= 2 and all(w.turns[p.turns[0]].text in ("menu", "stop") for p in w.probes)
        assert w.turns[0].probe is None
        for i, t in enumerate(w.turns):
            if t.kind == "button":
                assert t.text in {b["payload"] for b in fuzz.buttons_of(w.turns[i - 1].messages)}
            if t.kind == "stale_button":
                current = {b["payload"] for b in fuzz.buttons_of(w.turns[i - 1].messages)}
                assert t.text not in current
                assert any(t.text == b["payload"] for u in w.turns[:i - 1] for b in fuzz.buttons_of(u.messages))
    kinds = {t.kind for w in first for t in w.turns}
    assert {"button", "stale_button", "menu_request", "one_word", "story", "probe"} <= kinds
    assert [f.check for w in first for f in fuzz.check_walk(w)
            if f.check not in ("crisis_without_help", "repeated_reply")] == []


def test_after_an_erasure_the_privacy_notice_may_come_again():
    notice = msg("Avant de commencer, un mot sur tes données 🔒", {"title": "Oui, ça me va", "payload": "/affirm"})
    erased = msg("C'est fait 🧹 J'ai tout effacé : ton profil et notre conversation.")
    w = walk(Turn("story", "a", notice), Turn("story", "b", notice), Turn("one_word", "ok", erased),
             Turn("story", "c", notice), Turn("story", "d", notice))
    assert checks(w) == []
    w = walk(Turn("story", "a", notice), Turn("story", "b", notice), Turn("story", "c", notice),
             Turn("one_word", "ok", erased), Turn("story", "d", notice))
    assert checks(w) == ["repeated_reply"]


def test_a_farewell_pressed_again_is_a_fixed_reply():
    bye = msg("À bientôt ! Reviens quand tu veux raconter autre chose 👋")
    w = walk(*(Turn("stale_button", "/goodbye", bye) for _ in range(3)))
    assert checks(w) == []

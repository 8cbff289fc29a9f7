"""tools.conversations: how a held-out conversation is played and scored (no server)."""
from __future__ import annotations

from tools import conversations as yc

CONV = yc.Conversation("t1", ("rigueur", "organisation"), "je bosse au drive",
                       {"action": "je prépare les commandes", "difficulty": "le rush du soir", "result": ""})


def test_each_question_gets_its_scripted_answer_then_the_rest_in_order() -> None:
    used: list = []
    assert yc.next_answer(CONV, "experience_difficulty", used) == ("difficulty", "le rush du soir")
    used.append("difficulty")
    # the targeted question (probe) or a question already answered: the next part not said
    assert yc.next_answer(CONV, "experience_probe", used) == ("action", "je prépare les commandes")
    used.append("action")
    assert yc.next_answer(CONV, "experience_difficulty", used) == (None, yc.NOTHING_MORE)  # result is empty


def test_proposals_are_read_from_the_tracker() -> None:
    events = [{"event": "slot", "name": "pending_skills", "value": []},
              {"event": "slot", "name": "pending_skills", "value": [{"id": "rigueur"}, {"id": "autonomie"}]},
              {"event": "slot", "name": "pending_skills", "value": [{"id": "autonomie"}]}]
    assert yc.proposals_in(events) == (["rigueur", "autonomie"], False)
    assert yc.proposals_in([{"event": "slot", "name": "no_skill_step", "value": "pick"}]) == ([], True)
    assert yc.proposals_in([]) == ([], False)


def test_metrics() -> None:
    other = yc.Conversation("t2", ("autonomie",), "x", {})
    results = [yc.Played(CONV, ["rigueur", "curiosite"]), yc.Played(other, [], picked=True),
               yc.Played(other, ["autonomie"])]
    m = yc.metrics(results)
    assert m["count"] == 3
    assert m["at_least_one_correct"] == 2 / 3
    assert m["no_proposal"] == 1 / 3
    assert m["precision"] == 2 / 3
    assert m["recall"] == 2 / 4
    assert m["per_skill"]["curiosite"] == {"expected": 0, "found": 0, "proposed": 1, "recall": 0.0, "precision": 0.0}
    lo, hi = m["at_least_one_correct_ci"]
    assert lo < 2 / 3 < hi
    assert "| rigueur | 1 | 1 | 1 |" in yc.markdown(m)


def test_an_error_is_counted_not_dropped() -> None:
    class Broken:
        def say(self, sender, text):
            raise ConnectionError("refused")

    played = yc.play(Broken(), CONV)
    assert played.error.startswith("ConnectionError") and played.proposed == []
    assert yc.metrics([played])["errors"] == 1


def test_the_guard_fails_below_the_floors(tmp_path) -> None:
    rules = tmp_path / "quality.yml"
    rules.write_text("conversations:\n  at_least_one_correct_min: 0.8\n  no_proposal_max: 0.1\n"
                     "  precision_min: 0.5\n", encoding="utf-8")
    good = {"at_least_one_correct": 0.9, "no_proposal": 0.05, "precision": 0.6, "errors": 0, "near_duplicates": []}
    assert yc.guard(good, rules) == []
    assert len(yc.guard({**good, "at_least_one_correct": 0.7, "no_proposal": 0.2}, rules)) == 2
    assert any("near-duplicates" in p for p in yc.guard({**good, "near_duplicates": [{}]}, rules))
    assert any("HTTP" in p for p in yc.guard({**good, "errors": 2}, rules))


def test_the_held_out_conversations_are_no_rewrite_of_training_stories() -> None:
    conversations = yc.load()
    assert len(conversations) >= 100
    assert all(1 <= len(c.skills) <= 3 and c.opening for c in conversations)
    assert yc.rewrites_of_training(conversations) == []

"""The yardstick of skill detection can fail: a rewrite of a training story is caught,
groups keep paraphrases together, the guard fails a model below its floors."""
from __future__ import annotations

from pathlib import Path

from bot.evaluation import guard
from tools.yardstick import Story, groups, near_duplicates, story_metrics, training_stories

TRAIN = [
    Story("l'été dernier j'ai bossé au mcdo, le samedi c'était la folie mais je restais calme", ("gestion_du_stress",)),
    Story("je garde mes petits frères tous les soirs et je fais un planning des devoirs", ("organisation",)),
]


def test_a_light_rewrite_of_a_training_story_is_a_near_duplicate() -> None:
    test = [Story("l'ete dernier jai bossé au mcdo, le samedi c'etait la folie mais je restais calme !", ("x",)),
            Story("j'ai appris le code de la route tout seul avec des vidéos", ("autonomie",))]
    found = near_duplicates(test, TRAIN)
    assert [d["test"] for d in found] == [test[0].text]


def test_paraphrases_stay_in_one_group() -> None:
    stories = TRAIN + [Story(TRAIN[0].text + " et j'aidais les autres", ("travail_en_equipe",))]
    g = groups(stories)
    assert g[0] == g[2] and g[0] != g[1]


def test_story_metrics_count_no_proposal_and_precision() -> None:
    m = story_metrics([["rigueur"], ["autonomie"]],
                      [[{"id": "rigueur", "confidence": 0.9}], [{"id": "rigueur", "confidence": 0.2}]])
    assert m["recall_at_3"] == 0.5 and m["proposal_precision"] == 1.0 and m["no_proposal"] == 0.5


def test_the_guard_fails_below_a_floor_or_the_accepted_model(tmp_path: Path) -> None:
    rules = tmp_path / "q.yml"
    rules.write_text("margin: 0.03\nfloors: {recall_at_3: 0.6, proposal_precision: 0.6, min_skill_f1: 0.3, "
                     "no_proposal_max: 0.1}\naccepted: {recall_at_3: 0.7}\n", encoding="utf-8")
    good = {"near_duplicates": [], "stories": {"recall_at_3": 0.69, "proposal_precision": 0.65,
                                               "min_skill_f1": 0.4, "no_proposal": 0.05}}
    assert guard(good, rules) == []
    worse = {**good, "stories": {**good["stories"], "recall_at_3": 0.65}}
    assert any("accepted" in p for p in guard(worse, rules))
    dup = {**good, "near_duplicates": [{"test": "x" * 70}]}
    assert any("near-duplicates" in p for p in guard(dup, rules))


def test_the_training_stories_and_the_independent_set_share_no_rewrite() -> None:
    from tools.yardstick import heldout_stories

    stories, negatives = training_stories()
    assert len(stories) >= 1000 and negatives
    assert near_duplicates(heldout_stories(), stories) == []

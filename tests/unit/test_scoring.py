"""bot.scoring: documented cases, properties of ``assess``, and scoring.yml validation."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.referentiel import ReferentielError, Skill, default_referentiel
from bot.scoring import DEFAULT_PATH, LEVELS, Assessment, ScoringError, assess, load_rules

RULES = load_rules()
SKILLS = list(default_referentiel().skills.values())
ADAPT = default_referentiel().get("adaptabilite")  # items 1-3 key, 4-6 not
JAMAIS, PARFOIS, SOUVENT, TOUJOURS = 0, 1, 2, 3


def every(skill: Skill, value: Optional[int]) -> Dict[str, Optional[int]]:
    return {item.id: value for item in skill.items}


def rank(a: Assessment) -> int:
    return LEVELS.index(a.level)


# --- documented cases ------------------------------------------------------------


def test_the_real_rules_load_with_the_documented_numbers() -> None:
    assert RULES.scale == {"Jamais": 0, "Parfois": 1, "Souvent": 2, "Toujours": 3, "Je ne sais pas": None}
    assert (RULES.key_weight, RULES.other_weight) == (2, 1)
    assert (RULES.self_weight, RULES.referents_weight) == (1, 2)
    assert [lv.id for lv in RULES.levels] == list(LEVELS)
    assert RULES.level("confirme").min_referents == 1 and RULES.level("expert").min_referents == 2
    assert RULES.level("expert").label == "Expert"


@pytest.mark.parametrize("value", [JAMAIS, PARFOIS, SOUVENT, TOUJOURS])
def test_self_assessment_alone_never_certifies(value: int) -> None:
    a = assess(ADAPT, every(ADAPT, value), [], RULES)
    assert a.level == "en_progression" and not a.certified
    assert a.self_score == a.score == round(100 * value / 3)
    assert a.referent_score is None and a.gap is None and not a.disagreement


def test_one_good_referent_confirms() -> None:
    a = assess(ADAPT, every(ADAPT, SOUVENT), [every(ADAPT, SOUVENT)], RULES)
    assert (a.self_score, a.referent_score, a.score, a.valid_referents) == (67, 67, 67, 1)
    assert a.level == "confirme" and a.certified


def test_one_excellent_referent_is_not_enough_for_expert() -> None:
    a = assess(ADAPT, every(ADAPT, TOUJOURS), [every(ADAPT, TOUJOURS)], RULES)
    assert a.score == 100 and a.level == "confirme"


def test_two_strong_referents_make_an_expert() -> None:
    mostly_always = {**every(ADAPT, TOUJOURS), "adaptabilite_5": SOUVENT}
    a = assess(ADAPT, every(ADAPT, SOUVENT), [every(ADAPT, TOUJOURS), mostly_always], RULES)
    assert a.valid_referents == 2 and a.referent_score >= 75 and a.score >= 80
    assert a.level == "expert"


def test_a_lukewarm_referent_does_not_confirm_even_with_a_perfect_self_score() -> None:
    a = assess(ADAPT, every(ADAPT, TOUJOURS), [every(ADAPT, PARFOIS)], RULES)
    assert (a.self_score, a.referent_score, a.score) == (100, 33, 56)
    assert a.level == "en_progression"


def test_big_gap_is_a_disagreement_either_way() -> None:
    higher = assess(ADAPT, every(ADAPT, TOUJOURS), [every(ADAPT, PARFOIS)], RULES)
    assert higher.gap == 67 and higher.disagreement
    lower = assess(ADAPT, every(ADAPT, PARFOIS), [every(ADAPT, TOUJOURS)], RULES)
    assert lower.gap == -67 and lower.disagreement
    close = assess(ADAPT, every(ADAPT, SOUVENT), [every(ADAPT, TOUJOURS)], RULES)
    assert close.gap == -33 and close.disagreement  # 33 >= 25
    small = assess(ADAPT, every(ADAPT, SOUVENT), [{**every(ADAPT, SOUVENT), "adaptabilite_1": TOUJOURS}], RULES)
    assert small.gap == -7 and not small.disagreement  # 67 vs 74


def test_key_items_count_double() -> None:
    keys_high = {f"adaptabilite_{n}": TOUJOURS if n <= 3 else JAMAIS for n in range(1, 7)}
    keys_low = {f"adaptabilite_{n}": JAMAIS if n <= 3 else TOUJOURS for n in range(1, 7)}
    assert assess(ADAPT, keys_high, [], RULES).self_score == 67  # 18 / 27
    assert assess(ADAPT, keys_low, [], RULES).self_score == 33  # 9 / 27


def test_referents_weigh_twice_as_much_as_self() -> None:
    a = assess(ADAPT, every(ADAPT, TOUJOURS), [every(ADAPT, SOUVENT)], RULES)
    assert a.score == 78  # (100 + 2 x 66.7) / 3


def test_a_referent_with_too_few_answers_is_set_aside() -> None:
    three = {**every(ADAPT, None), "adaptabilite_1": 3, "adaptabilite_2": 3, "adaptabilite_3": 3}
    a = assess(ADAPT, every(ADAPT, SOUVENT), [three], RULES)
    assert a.valid_referents == 0 and a.referent_score is None and a.level == "en_progression"
    four = {**three, "adaptabilite_4": 3}
    assert assess(ADAPT, every(ADAPT, SOUVENT), [four], RULES).valid_referents == 1


def test_strong_and_weak_items_for_the_summary() -> None:
    answers = {"adaptabilite_1": 3, "adaptabilite_2": 2, "adaptabilite_3": 0,
               "adaptabilite_4": 3, "adaptabilite_5": 1, "adaptabilite_6": 3}
    a = assess(ADAPT, answers, [answers], RULES)
    assert a.strong_items == ("adaptabilite_1", "adaptabilite_4", "adaptabilite_6")  # key item first on ties
    assert a.weak_items == ("adaptabilite_3",)  # the lowest: « une chose à travailler »
    assert assess(ADAPT, {}, [], RULES) == Assessment(
        "adaptabilite", None, None, 0, 0, "en_progression", None, False, (), ())


def test_answers_from_labels() -> None:
    assert RULES.value_of("souvent") == 2 and RULES.value_of("Toujours !") == 3
    assert RULES.value_of("je ne sais pas") is None
    with pytest.raises(ValueError, match="réponse inconnue"):
        RULES.value_of("bof")


@pytest.mark.parametrize("value", [4, -1, True, "2", 2.0])
def test_values_off_the_scale_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="adaptabilite_2.*hors de l'échelle 0..3"):
        assess(ADAPT, {"adaptabilite_2": value}, [], RULES)
    with pytest.raises(ValueError, match="référent 2 : réponse"):
        assess(ADAPT, {}, [every(ADAPT, 1), {"adaptabilite_2": value}], RULES)


def test_unknown_items_are_refused() -> None:
    with pytest.raises(ValueError, match="auto-évaluation : question inconnue 'rigueur_1'.*'adaptabilite'"):
        assess(ADAPT, {"rigueur_1": 2}, [], RULES)
    with pytest.raises(ValueError, match="référent 1 : question inconnue 'adaptabilite_9'"):
        assess(ADAPT, {}, [{"adaptabilite_9": None}], RULES)


def test_every_real_skill_can_reach_every_level() -> None:
    for skill in SKILLS:
        assert assess(skill, every(skill, 0), [every(skill, 0)] * 2, RULES).level == "en_progression"
        assert assess(skill, every(skill, 2), [every(skill, 2)], RULES).level == "confirme", skill.id
        assert assess(skill, every(skill, 3), [every(skill, 3)] * 2, RULES).level == "expert", skill.id


# --- properties --------------------------------------------------------------------

ANSWER = st.one_of(st.none(), st.integers(JAMAIS, TOUJOURS))


def answers_for(skill: Skill) -> st.SearchStrategy[Dict[str, Optional[int]]]:
    return st.dictionaries(st.sampled_from([i.id for i in skill.items]), ANSWER, max_size=len(skill.items))


@st.composite
def cases(draw: Any) -> tuple:
    skill = draw(st.sampled_from(SKILLS))
    # Referents answering every item (mostly valid), some of them generous (to reach expert).
    full = st.fixed_dictionaries({i.id: ANSWER for i in skill.items})
    generous = st.fixed_dictionaries({i.id: st.sampled_from([None, 2, 3, 3]) for i in skill.items})
    referents = draw(st.lists(st.one_of(full, generous, answers_for(skill)), max_size=4))
    return skill, draw(answers_for(skill)), referents


@given(cases())
def test_scores_stay_within_0_and_100(case: tuple) -> None:
    skill, own, refs = case
    a = assess(skill, own, refs, RULES)
    for score in (a.self_score, a.referent_score, a.score):
        assert score is None or 0 <= score <= 100
    assert 0 <= a.valid_referents <= len(refs)
    ids = {i.id for i in skill.items}
    assert set(a.strong_items) <= ids and set(a.weak_items) <= ids
    assert not set(a.strong_items) & set(a.weak_items)


@given(cases(), st.data())
def test_raising_one_answer_never_lowers_the_score_nor_the_level(case: tuple, data: Any) -> None:
    skill, own, refs = case
    sets: List[Dict[str, Optional[int]]] = [dict(own)] + [dict(r) for r in refs]
    raisable = [(n, k) for n, s in enumerate(sets) for k, v in s.items() if v is not None and v < TOUJOURS]
    if not raisable:
        return
    n, item_id = data.draw(st.sampled_from(raisable))
    before = assess(skill, sets[0], sets[1:], RULES)
    sets[n][item_id] += 1
    after = assess(skill, sets[0], sets[1:], RULES)
    assert after.score >= before.score
    assert rank(after) >= rank(before)


@given(cases())
def test_dont_know_answers_are_ignored(case: tuple) -> None:
    skill, own, refs = case
    base = assess(skill, own, refs, RULES)

    def with_nones(answers: Dict[str, Optional[int]]) -> Dict[str, Optional[int]]:
        return {**every(skill, None), **answers}

    def without_nones(answers: Dict[str, Optional[int]]) -> Dict[str, Optional[int]]:
        return {k: v for k, v in answers.items() if v is not None}

    assert assess(skill, with_nones(own), [with_nones(r) for r in refs], RULES) == base
    assert assess(skill, without_nones(own), [without_nones(r) for r in refs], RULES) == base
    assert assess(skill, own, refs + [every(skill, None)], RULES) == base


@given(cases())
def test_certification_needs_valid_referents(case: tuple) -> None:
    skill, own, refs = case
    a = assess(skill, own, refs, RULES)
    if a.valid_referents == 0:
        assert a.level == "en_progression"
    if a.valid_referents < 2:
        assert a.level != "expert"
    assert assess(skill, own, [], RULES).level == "en_progression"


@given(cases(), st.randoms(use_true_random=False))
def test_the_order_of_referents_does_not_matter(case: tuple, rnd: Any) -> None:
    skill, own, refs = case
    shuffled = list(refs)
    rnd.shuffle(shuffled)
    assert assess(skill, own, shuffled, RULES) == assess(skill, own, refs, RULES)


# --- scoring.yml validation ----------------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Callable[[Callable[[Dict[str, Any]], None]], List[str]]:
    """Copy scoring.yml, apply a change, return the problems found when loading it."""

    def _break(change: Callable[[Dict[str, Any]], None]) -> List[str]:
        path = tmp_path / "scoring.yml"
        shutil.copy(DEFAULT_PATH, path)
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        with pytest.raises(ScoringError) as info:
            load_rules(path)
        assert str(info.value).startswith("Règles de notation invalides (scoring.yml)")
        assert isinstance(info.value, ReferentielError) and info.value.problems
        return info.value.problems

    return _break


BREAKS = [
    (lambda d: d.pop("levels"), "clés manquantes ['levels']"),
    (lambda d: d.update(bonus=1), "clés inconnues ['bonus']"),
    (lambda d: d["scale"].update(Souvent=5), "0, 1, 2… sans trou"),
    (lambda d: d["scale"].update(Souvent="deux"), "scale: chaque valeur doit être un entier"),
    (lambda d: d["scale"].update(Bof=None), "une seule réponse peut valoir null"),
    (lambda d: d["weights"].update(key="double"), "weights.key: doit être un nombre"),
    (lambda d: d["weights"].pop("other"), "'weights' doit contenir exactement"),
    (lambda d: d["combination"].update(referents=0), "combination.referents: doit être un nombre"),
    (lambda d: d["referents"].update(min_answered=7), "referents.min_answered: doit être un entier entre 1 et 6"),
    (lambda d: d["levels"]["confirme"].update(min_referents=0), "levels.confirme.min_referents"),
    (lambda d: d["levels"]["expert"].update(min_score=50), "levels.expert.min_score: doit être au moins"),
    (lambda d: d["levels"]["expert"].update(min_score=120), "levels.expert.min_score: doit être un entier entre 0 et 100"),
    (lambda d: d["levels"]["expert"].pop("label"), "levels.expert: doit contenir exactement"),
    (lambda d: d.update(levels={"confirme": {}, "expert": {}}), "'levels' doit définir, dans cet ordre"),
    (lambda d: d["disagreement"].update(min_gap=0.5), "disagreement.min_gap: doit être un entier"),
    (lambda d: d["summary"].update(weak_below=90), "summary.weak_below: ne doit pas dépasser"),
]


@pytest.mark.parametrize("change, words", BREAKS)
def test_broken_rules_are_refused_with_a_clear_french_problem(broken, change, words: str) -> None:
    problems = broken(change)
    assert any(words in p for p in problems), problems


def test_every_problem_is_listed_at_once(broken) -> None:
    def two(d: Dict[str, Any]) -> None:
        d["weights"]["key"] = -1
        d["disagreement"]["min_gap"] = 200

    assert len(broken(two)) == 2


def test_unreadable_or_missing_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "scoring.yml"
    bad.write_text("scale: [Jamais\n", encoding="utf-8")
    with pytest.raises(ScoringError, match="scoring.yml: illisible"):
        load_rules(bad)
    with pytest.raises(ScoringError, match="illisible"):
        load_rules(tmp_path / "absent.yml")
    bad.write_text("- une liste\n", encoding="utf-8")
    with pytest.raises(ScoringError, match="doit contenir un dictionnaire"):
        load_rules(bad)

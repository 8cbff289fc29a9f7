"""Recommendation of resources: exclusions, targeting, preferences, diversity, determinism."""
from __future__ import annotations

from typing import Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.progress.catalogue import Catalogue, Resource, default_catalogue
from bot.progress.recommend import (
    History,
    Preferences,
    Recommendation,
    format_minutes,
    recommend,
)

LABELS = {f"s_{i}": f"Je fais la chose numéro {i}." for i in range(1, 7)}


def res(rid: str, kind: str = "article", minutes: int = 10, level: str = "debutant", items=(), skill: str = "s") -> Resource:
    return Resource(id=rid, skill_id=skill, title=rid, kind=kind, duration_minutes=minutes, level=level,
                    provider="p", url=f"https://exemple.fr/{rid}", language="fr", pitch="pitch", items=tuple(items))


def cat(*resources: Resource) -> Catalogue:
    return Catalogue(resources={r.id: r for r in resources}, item_labels=LABELS)


def ids(recs) -> list:
    return [r.resource.id for r in recs]


BASIC = cat(
    res("a1", "article"), res("a2", "article"), res("v1", "video"), res("p1", "podcast"), res("e1", "exercice"),
)


def test_done_and_not_for_me_are_never_proposed():
    h = History(done=frozenset({"a1"}), not_for_me=frozenset({"v1"}))
    out = ids(recommend(BASIC, "s", history=h, n=5))
    assert "a1" not in out and "v1" not in out
    assert sorted(out) == ["a2", "e1", "p1"]


def test_prefers_not_yet_proposed_then_falls_back():
    h = History(proposed=frozenset({"a1", "a2", "v1"}))
    assert ids(recommend(BASIC, "s", history=h, n=2)) == ["e1", "p1"]
    out = ids(recommend(BASIC, "s", history=h, n=4))
    assert out[:2] == ["e1", "p1"] and set(out[2:]) <= {"a1", "a2", "v1"}


def test_weak_item_targeting_first_weak_item_counts_most():
    c = cat(res("x", items=["s_2"]), res("y", "video", items=["s_1"]), res("z", "podcast"), res("w", "exercice"))
    out = recommend(c, "s", weak_items=["s_1", "s_2"], n=3)
    assert ids(out)[:2] == ["y", "x"]
    assert out[0].reason == "Pour travailler « Je fais la chose numéro 1 »."


def test_kind_preference():
    out = recommend(BASIC, "s", preferences=Preferences(kinds=frozenset({"podcast"})), n=1)
    assert ids(out) == ["p1"]
    assert out[0].reason == "Un podcast de 10 min, comme tu préfères."


def test_time_limit_penalises_but_does_not_exclude():
    c = cat(res("long", "video", minutes=120), res("short", "article", minutes=5))
    out = recommend(c, "s", preferences=Preferences(max_minutes=15), n=2)
    assert ids(out) == ["short", "long"]
    assert "2 h" in out[1].reason
    only_long = cat(res("long", "video", minutes=120))
    assert ids(recommend(only_long, "s", preferences=Preferences(max_minutes=15))) == ["long"]


def test_level_fit():
    c = cat(res("deb", level="debutant"), res("int", "video", level="intermediaire"), res("av", "podcast", level="avance"))
    assert ids(recommend(c, "s", level="en_progression", n=1)) == ["deb"]
    assert ids(recommend(c, "s", level="confirme", n=1)) == ["int"]
    top = recommend(c, "s", level="expert", n=3)
    assert ids(top)[0] == "av" and top[0].reason == "Pour aller plus loin, à ton niveau."
    assert ids(top)[-1] == "deb"  # two levels away comes last
    with pytest.raises(ValueError):
        recommend(c, "s", level="champion")


def test_diversity_avoids_same_kind_when_comparable():
    c = cat(res("a1", "article"), res("a2", "article"), res("a3", "article"), res("v1", "video"), res("p1", "podcast"))
    out = recommend(c, "s", n=3)
    assert len({r.resource.kind for r in out}) == 3


def test_diversity_keeps_a_much_better_resource_of_the_same_kind():
    c = cat(res("a1", "article", items=["s_1"]), res("a2", "article", items=["s_1"]), res("v1", "video"))
    assert ids(recommend(c, "s", weak_items=["s_1"], n=2)) == ["a1", "a2"]


def test_not_for_me_twice_lowers_that_kind():
    c = cat(res("a_vid", "video"), res("b_art", "article", level="intermediaire"), res("v1", "video"), res("v2", "video"))
    assert ids(recommend(c, "s", n=1)) == ["a_vid"]  # best level fit
    twice = History(not_for_me=frozenset({"v1", "v2"}))
    assert ids(recommend(c, "s", history=twice, n=2)) == ["b_art", "a_vid"]  # the refused kind is lowered
    once = History(not_for_me=frozenset({"v1"}))
    assert ids(recommend(c, "s", history=once, n=1)) == ["a_vid"]  # refused once: not lowered


def test_deterministic_tie_break_by_id():
    c = cat(res("b", "article"), res("a", "article"), res("c", "article"))
    assert ids(recommend(c, "s", n=3)) == ["a", "b", "c"]
    assert recommend(c, "s", n=3) == recommend(c, "s", n=3)


def test_fewer_than_n_when_nearly_exhausted():
    h = History(done=frozenset({"a1", "a2", "v1"}), not_for_me=frozenset({"p1"}))
    assert ids(recommend(BASIC, "s", history=h, n=3)) == ["e1"]
    h_all = History(done=frozenset(BASIC.resources))
    assert recommend(BASIC, "s", history=h_all) == []
    assert recommend(BASIC, "inconnue") == []
    assert recommend(BASIC, "s", n=0) == []


def test_history_from_statuses():
    h = History.from_statuses({"a": "done", "b": "not_for_me", "c": "proposed", "d": "done"})
    assert h == History(done=frozenset({"a", "d"}), not_for_me=frozenset({"b"}), proposed=frozenset({"c"}))
    with pytest.raises(ValueError):
        History.from_statuses({"a": "peut-être"})


def test_reasons_are_short_french_with_tu_on_real_catalogue():
    c = default_catalogue()
    for skill_id in c.skill_ids:
        weak = [f"{skill_id}_{i}" for i in (7, 3, 1)]
        for level in ("en_progression", "confirme", "expert"):
            for prefs in (Preferences(), Preferences(kinds=frozenset({"podcast"}), max_minutes=15)):
                for rec in recommend(c, skill_id, weak_items=weak, level=level, preferences=prefs):
                    assert isinstance(rec, Recommendation)
                    assert 0 < len(rec.reason) <= 90, rec.reason
    rec = recommend(c, "rigueur", weak_items=["rigueur_2"], n=1)[0]
    assert rec.reason.startswith("Pour travailler « Je relis")


def test_format_minutes():
    assert format_minutes(8) == "8 min"
    assert format_minutes(60) == "1 h"
    assert format_minutes(90) == "1 h 30"


# --- property -------------------------------------------------------------------------------------

KINDS = ["mooc", "video", "article", "exercice", "podcast"]
resource_st = st.builds(
    lambda i, kind, minutes, level, items: res(f"r{i}", kind, minutes, level, items),
    st.integers(0, 30), st.sampled_from(KINDS), st.integers(1, 400),
    st.sampled_from(["debutant", "intermediaire", "avance"]),
    st.lists(st.sampled_from(sorted(LABELS)), max_size=3, unique=True),
)


@settings(max_examples=150, deadline=None)
@given(
    resources=st.lists(resource_st, max_size=15, unique_by=lambda r: r.id),
    statuses=st.dictionaries(st.sampled_from([f"r{i}" for i in range(31)]),
                             st.sampled_from(["proposed", "done", "not_for_me"]), max_size=20),
    weak=st.lists(st.sampled_from(sorted(LABELS)), max_size=4),
    kinds=st.frozensets(st.sampled_from(KINDS), max_size=3),
    max_minutes=st.one_of(st.none(), st.integers(1, 120)),
    level=st.sampled_from(["en_progression", "confirme", "expert"]),
    n=st.integers(0, 6),
)
def test_property_never_done_or_refused_at_most_n_no_duplicates(resources, statuses, weak, kinds, max_minutes, level, n):
    c = cat(*resources)
    h = History.from_statuses(statuses)
    out = recommend(c, "s", weak_items=weak, level=level, history=h,
                    preferences=Preferences(kinds=kinds, max_minutes=max_minutes), n=n)
    got = ids(out)
    assert len(got) <= n
    assert len(got) == len(set(got))
    assert not set(got) & (h.done | h.not_for_me)
    available = [r for r in resources if r.id not in h.done | h.not_for_me]
    assert len(got) == min(n, len(available))
    fresh = {r.id for r in available if r.id not in h.proposed}
    k = min(len(got), len(fresh))
    assert set(got[:k]) <= fresh  # not-yet-proposed ones always come first
    assert all(0 < len(r.reason) <= 90 for r in out)

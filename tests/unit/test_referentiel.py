"""bot.referentiel: the real data loads; broken copies are refused with clear French problems."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
import yaml

from bot.referentiel import DEFAULT_PATH, ReferentielError, Referentiel, load_referentiel

FRANCE_TRAVAIL_IDS = {
    "adaptabilite", "gestion_du_stress", "organisation", "rigueur", "travail_en_equipe",
    "capacite_a_federer", "force_de_proposition", "curiosite", "communication",
    "perseverance", "autonomie", "capacite_de_decision", "prise_de_recul", "reactivite",
}


@pytest.fixture(scope="module")
def ref() -> Referentiel:
    return load_referentiel()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A writable copy of the real référentiel."""
    target = tmp_path / "referentiel"
    shutil.copytree(DEFAULT_PATH, target)
    return target


def edit(root: Path, skill_id: str, change: Callable[[Dict[str, Any]], None]) -> Path:
    path = root / "skills" / f"{skill_id}.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def problems_of(root: Path) -> list:
    with pytest.raises(ReferentielError) as info:
        load_referentiel(root)
    assert info.value.problems, "a ReferentielError must list its problems"
    assert str(info.value).startswith("Référentiel invalide")
    return info.value.problems


def only_problem_about(problems: list, filename: str, *words: str) -> str:
    """The problem naming ``filename`` and containing every word."""
    matching = [p for p in problems if filename in p and all(w in p for w in words)]
    assert matching, f"no problem about {filename} with {words} in {problems}"
    return matching[0]


# --- the real data ---------------------------------------------------------------


def test_real_referentiel_has_exactly_the_14_france_travail_skills(ref: Referentiel) -> None:
    assert set(ref.ids) == FRANCE_TRAVAIL_IDS
    assert len(ref.ids) == 14
    assert "France Travail" in ref.source
    assert ref.version >= 1


def test_every_skill_is_complete(ref: Referentiel) -> None:
    for skill in ref.skills.values():
        assert 6 <= len(skill.items) <= 8, skill.id
        assert any(item.key for item in skill.items), skill.id
        assert [i.id for i in skill.items] == [f"{skill.id}_{n}" for n in range(1, len(skill.items) + 1)]
        assert skill.label and skill.definition and skill.why_it_matters and skill.emoji
        assert len(skill.situations) >= 3
        assert all(s.context in ref.contexts for s in skill.situations), skill.id
        for item in skill.items:
            assert "{prenom}" in item.observer, item.id
            assert item.self_text and "{prenom}" not in item.self_text
            assert "Inès" in item.for_observer("Inès")
            assert "{prenom}" not in item.for_observer("Inès")


def test_title_is_emoji_and_label(ref: Referentiel) -> None:
    rigueur = ref.get("rigueur")
    assert rigueur is not None
    assert rigueur.title == f"{rigueur.emoji} Rigueur"
    assert ref.get("leadership") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("la rigueur", "rigueur"),
        ("gestion du stress", "gestion_du_stress"),
        ("reactivite", "reactivite"),
        ("Réactivité ?", "reactivite"),
        ("c'est quoi la rigueur ?", "rigueur"),
        ("travail en équipe", "travail_en_equipe"),
        ("gestion_du_stress", "gestion_du_stress"),
        ("bonjour", None),
        ("", None),
        ("?!", None),
    ],
)
def test_find_a_skill_named_in_free_text(ref: Referentiel, text: str, expected: str) -> None:
    found = ref.find(text)
    assert (found.id if found else None) == expected


# --- broken copies -------------------------------------------------------------


def test_the_unmodified_copy_loads(copy: Path) -> None:
    assert set(load_referentiel(copy).ids) == FRANCE_TRAVAIL_IDS


def test_missing_key(copy: Path) -> None:
    edit(copy, "rigueur", lambda d: d.pop("why_it_matters"))
    problem = only_problem_about(problems_of(copy), "rigueur.yml", "clés manquantes")
    assert "why_it_matters" in problem


def test_unknown_key(copy: Path) -> None:
    edit(copy, "autonomie", lambda d: d.update(niveau=3))
    problem = only_problem_about(problems_of(copy), "autonomie.yml", "clés inconnues")
    assert "niveau" in problem


def test_id_different_from_file_name(copy: Path) -> None:
    edit(copy, "rigueur", lambda d: d.update(id="rigeur"))
    problem = only_problem_about(problems_of(copy), "rigueur.yml", "nom du fichier")
    assert "rigeur" in problem


def test_id_with_accent_is_refused(copy: Path) -> None:
    edit(copy, "curiosite", lambda d: d.update(id="curiosité"))
    only_problem_about(problems_of(copy), "curiosite.yml", "minuscules sans accent")


def test_unknown_context(copy: Path) -> None:
    def change(d: Dict[str, Any]) -> None:
        d["situations"][1]["context"] = "lycee"

    edit(copy, "rigueur", change)
    problem = only_problem_about(problems_of(copy), "rigueur.yml", "contexte inconnu")
    assert "lycee" in problem and "situation 2" in problem


def test_observer_item_without_prenom(copy: Path) -> None:
    def change(d: Dict[str, Any]) -> None:
        d["items"][2]["observer"] = "Il respecte les règles de sécurité."

    edit(copy, "rigueur", change)
    problem = only_problem_about(problems_of(copy), "rigueur.yml", "question 3", "{prenom}")
    assert "observer" in problem


def test_too_few_items(copy: Path) -> None:
    edit(copy, "organisation", lambda d: d.update(items=d["items"][:5]))
    problem = only_problem_about(problems_of(copy), "organisation.yml", "'items'")
    assert "entre 6 et 8" in problem


def test_too_many_items(copy: Path) -> None:
    def change(d: Dict[str, Any]) -> None:
        extra = [dict(d["items"][0], id=f"organisation_{n}") for n in range(len(d["items"]) + 1, 10)]
        d["items"] = d["items"] + extra

    edit(copy, "organisation", change)
    only_problem_about(problems_of(copy), "organisation.yml", "entre 6 et 8")


def test_invalid_yaml(copy: Path) -> None:
    (copy / "skills" / "rigueur.yml").write_text("id: [rigueur\nlabel: : :\n", encoding="utf-8")
    only_problem_about(problems_of(copy), "rigueur.yml", "illisible")


def test_no_key_item(copy: Path) -> None:
    def change(d: Dict[str, Any]) -> None:
        for item in d["items"]:
            item["key"] = False

    edit(copy, "communication", change)
    only_problem_about(problems_of(copy), "communication.yml", "key: true")


def test_duplicate_skill(copy: Path) -> None:
    shutil.copy(copy / "skills" / "rigueur.yml", copy / "skills" / "rigueur_bis.yml")
    problems = problems_of(copy)
    only_problem_about(problems, "rigueur_bis.yml", "en double", "rigueur")


def test_every_problem_is_listed_at_once(copy: Path) -> None:
    edit(copy, "rigueur", lambda d: d.update(id="rigeur"))
    edit(copy, "autonomie", lambda d: d.update(niveau=3))
    edit(copy, "organisation", lambda d: d.update(items=d["items"][:5]))
    problems = problems_of(copy)
    for filename in ("rigueur.yml", "autonomie.yml", "organisation.yml"):
        assert any(filename in p for p in problems), (filename, problems)


def test_missing_meta(copy: Path) -> None:
    (copy / "meta.yml").unlink()
    problems = problems_of(copy)
    assert any("meta.yml" in p and "manquant" in p for p in problems)


def test_no_skill_file(copy: Path) -> None:
    for path in (copy / "skills").glob("*.yml"):
        path.unlink()
    problems = problems_of(copy)
    assert any("aucune compétence" in p for p in problems)


def test_a_15th_skill_loads_without_code_change(copy: Path) -> None:
    data = yaml.safe_load((copy / "skills" / "rigueur.yml").read_text(encoding="utf-8"))
    data["id"] = "empathie"
    data["label"] = "Empathie"
    data["france_travail_label"] = "Empathie"
    data["emoji"] = "💞"
    data["definition"] = "Comprendre ce que ressentent les autres et en tenir compte."
    for n, item in enumerate(data["items"], 1):
        item["id"] = f"empathie_{n}"
    (copy / "skills" / "empathie.yml").write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    ref = load_referentiel(copy)
    assert len(ref.ids) == 15
    assert set(ref.ids) == FRANCE_TRAVAIL_IDS | {"empathie"}
    empathie = ref.get("empathie")
    assert empathie is not None and empathie.title == "💞 Empathie"
    assert ref.find("c'est quoi l'empathie ?") is empathie

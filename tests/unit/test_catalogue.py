"""The resource catalogue: the real data loads, and every kind of error is listed in French."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from bot.progress.catalogue import (
    DEFAULT_PATH,
    KINDS,
    MIN_KINDS,
    MIN_RESOURCES,
    CatalogueError,
    default_catalogue,
    load_catalogue,
    main,
    valid_url,
)
from bot.referentiel import Item, Referentiel, Skill, default_referentiel


def _skill(skill_id: str) -> Skill:
    items = tuple(Item(f"{skill_id}_{i}", f"Je fais {i}.", "{prenom} fait.", i == 1) for i in range(1, 7))
    return Skill(skill_id, skill_id, skill_id, "⭐", "déf", "pourquoi", ("a", "b", "c"), (), items)


REF = Referentiel("test", "test", 1, {"job": "Job"}, {"alpha": _skill("alpha"), "beta": _skill("beta")})


def _resource(rid: str, kind: str = "article", **over: Any) -> Dict[str, Any]:
    data = {
        "id": rid, "title": "Un titre", "kind": kind, "duration_minutes": 10, "level": "debutant",
        "provider": "Fournisseur", "url": f"https://exemple.fr/{rid}", "language": "fr", "free": True,
        "pitch": "Une phrase courte pour toi.", "items": [],
    }
    data.update(over)
    return data


def _good(skill: str) -> List[Dict[str, Any]]:
    kinds = ["article", "video", "podcast", "article", "exercice"]
    return [_resource(f"{skill}_r{i}", k, items=[f"{skill}_{i + 1}"]) for i, k in enumerate(kinds)]


def _write(root: Path, files: Dict[str, Any]) -> Path:
    (root / "resources").mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / "resources" / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return root


def _problems(root: Path) -> List[str]:
    with pytest.raises(CatalogueError) as err:
        load_catalogue(root, referentiel=REF)
    return err.value.problems


# --- the real catalogue ---------------------------------------------------------------------------

def test_real_catalogue_loads_and_covers_every_skill():
    cat = load_catalogue(DEFAULT_PATH)
    ref = default_referentiel()
    assert set(cat.skill_ids) == set(ref.ids)
    for skill_id in ref.ids:
        res = cat.for_skill(skill_id)
        assert len(res) >= MIN_RESOURCES, skill_id
        assert len({r.kind for r in res}) >= MIN_KINDS, skill_id
        for r in res:
            assert r.url.startswith("https://") and valid_url(r.url), r.id
            assert r.kind in KINDS and r.language == "fr" and r.free
            assert 0 < len(r.pitch) <= 140 and r.duration_minutes > 0
            skill_items = {i.id for i in ref.get(skill_id).items}
            assert set(r.items) <= skill_items, r.id


def test_most_resources_target_items_and_ids_are_unique():
    cat = default_catalogue()
    all_res = list(cat.resources.values())
    assert len({r.id for r in all_res}) == len(all_res)
    assert sum(1 for r in all_res if r.items) >= 0.8 * len(all_res)
    assert cat.get(all_res[0].id) is all_res[0]
    assert cat.get("nope") is None and cat.for_skill("nope") == ()
    assert cat.item_labels["rigueur_2"].startswith("Je relis")


def test_cli_prints_summary(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "rigueur" in out and "Total" in out


# --- validation -------------------------------------------------------------------------------------

def test_valid_temp_catalogue(tmp_path):
    root = _write(tmp_path, {"alpha.yml": {"skill": "alpha", "resources": _good("alpha")},
                             "beta.yml": {"skill": "beta", "resources": _good("beta")}})
    cat = load_catalogue(root, referentiel=REF)
    assert len(cat.for_skill("alpha")) == 5
    assert cat.get("alpha_r0").items == ("alpha_1",)


def test_every_kind_of_error_is_listed(tmp_path):
    alpha = _good("alpha")
    alpha[0]["kind"] = "livre"
    alpha[1]["level"] = "expert"
    alpha[2]["language"] = "en"
    alpha[3]["duration_minutes"] = 0
    alpha[4]["url"] = "http://exemple.fr/x"
    alpha.append(_resource("alpha_r5", pitch="x" * 141))
    alpha.append(_resource("alpha_r6", pitch="  "))
    alpha.append(_resource("alpha_r7", items=["beta_1"]))
    alpha.append(_resource("alpha_r8", url="https://pas une url"))
    alpha.append(_resource("alpha_r9", duration_minutes="dix"))
    alpha.append(_resource("alpha_r0"))  # duplicate id in the same file
    root = _write(tmp_path, {
        "alpha.yml": {"skill": "alpha", "resources": alpha},
        "gamma.yml": {"skill": "gamma", "resources": _good("gamma")},
    })
    problems = _problems(root)
    text = "\n".join(problems)
    assert "alpha.yml: ressource 'alpha_r0': type inconnu 'livre'" in text
    assert "alpha.yml: ressource 'alpha_r1': niveau inconnu 'expert'" in text
    assert "alpha.yml: ressource 'alpha_r2': langue non prise en charge 'en'" in text
    assert "alpha.yml: ressource 'alpha_r3': 'duration_minutes' doit être un nombre entier" in text
    assert "alpha.yml: ressource 'alpha_r9': 'duration_minutes' doit être un nombre entier" in text
    assert "alpha.yml: ressource 'alpha_r4': 'url' doit être une adresse https" in text
    assert "alpha.yml: ressource 'alpha_r8': 'url' doit être une adresse https" in text
    assert "alpha.yml: ressource 'alpha_r5': 'pitch' dépasse 140 caractères (141)" in text
    assert "alpha.yml: ressource 'alpha_r6': 'pitch' doit être un texte non vide" in text
    assert "alpha.yml: ressource 'alpha_r7': questions qui n'appartiennent pas à 'alpha' : beta_1" in text
    assert "alpha.yml: ressource 'alpha_r0' en double" in text
    assert "gamma.yml: compétence inconnue 'gamma'" in text
    assert "beta.yml manquant : la compétence 'beta' du référentiel n'a aucune ressource" in text


def test_duplicate_ids_across_files(tmp_path):
    beta = _good("beta")
    beta[0]["id"] = "alpha_r0"
    root = _write(tmp_path, {"alpha.yml": {"skill": "alpha", "resources": _good("alpha")},
                             "beta.yml": {"skill": "beta", "resources": beta}})
    assert any("beta.yml: ressource 'alpha_r0' en double (déjà dans alpha.yml)" in p for p in _problems(root))


def test_too_few_resources_or_kinds(tmp_path):
    few = _good("alpha")[:4]
    one_kind = [_resource(f"beta_r{i}", "article") for i in range(6)]
    one_kind[0]["kind"] = "podcast"
    root = _write(tmp_path, {"alpha.yml": {"skill": "alpha", "resources": few},
                             "beta.yml": {"skill": "beta", "resources": one_kind}})
    problems = _problems(root)
    assert any("alpha.yml: au moins 5 ressources par compétence (4)" in p for p in problems)
    assert any("beta.yml: au moins 3 types de ressources différents par compétence (2 : article, podcast)" in p
               for p in problems)


def test_structural_errors(tmp_path):
    bad = _good("alpha")
    bad[0]["free"] = False
    bad[1]["couleur"] = "rouge"
    del bad[2]["title"]
    bad.append("pas un dictionnaire")
    bad.append(_resource("Alpha R10"))
    root = _write(tmp_path, {"alpha.yml": {"skill": "beta", "resources": bad}, "beta.yml": ["liste"]})
    (root / "resources" / "zeta.yml").write_text("skill: [oops", encoding="utf-8")
    text = "\n".join(_problems(root))
    assert "'free' doit valoir true" in text
    assert "alpha.yml: ressource 'alpha_r1': clés inconnues ['couleur']" in text
    assert "alpha.yml: ressource 'alpha_r2': clés manquantes ['title']" in text
    assert "alpha.yml: ressource n°6 : doit être un dictionnaire" in text
    assert "alpha.yml: ressource n°7 : 'id' doit être en minuscules" in text
    assert "alpha.yml: 'skill' (beta) doit être le nom du fichier (alpha)" in text
    assert "beta.yml: le fichier doit contenir un dictionnaire" in text
    assert "zeta.yml: illisible" in text


def test_empty_folder(tmp_path):
    assert any("aucun fichier de ressources" in p for p in _problems(tmp_path))


@pytest.mark.parametrize("url,ok", [
    ("https://www.francetravail.fr/candidat", True),
    ("https://exemple.fr/a%C3%A9?x=1", True),
    ("http://exemple.fr", False),
    ("https://localhost/x", False),
    ("https://exemple .fr", False),
    ("exemple.fr/page", False),
    ("", False),
    (None, False),
])
def test_valid_url(url, ok):
    assert valid_url(url) is ok

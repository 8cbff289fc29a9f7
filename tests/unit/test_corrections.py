"""The correction parser (bot/skills/corrections.py) on SMS French."""
from __future__ import annotations

import pytest

from bot.referentiel import load_referentiel
from bot.skills.corrections import Correction, build_lexicon, parse_correction


@pytest.fixture(scope="module")
def lexicon():
    return build_lexicon(load_referentiel())


@pytest.mark.parametrize("text, add", [
    ("y a aussi la rigueur", ("rigueur",)),
    ("y a pas aussi la rigueur ?", ("rigueur",)),
    ("ya aussi l'autonomie", ("autonomie",)),
    ("et l'organisation ?", ("organisation",)),
    ("et la perseverance", ("perseverance",)),
    ("tu as oublié la curiosité", ("curiosite",)),
    ("t'as pas vu la rigueur ?", ("rigueur",)),
    ("rajoute l'esprit d'équipe stp", ("travail_en_equipe",)),
    ("g été réactif aussi", ("reactivite",)),
    ("la rigueur", ("rigueur",)),
])
def test_add(lexicon, text, add):
    assert parse_correction(text, lexicon) == Correction(add=add)


@pytest.mark.parametrize("text", [
    "c'est plutôt de l'autonomie", "plutôt l'autonomie", "plutot l autonomie", "c plutot l'autonomie",
    "non c'est l'autonomie", "je dirais plutôt autonome",
])
def test_replace_the_skill_on_screen(lexicon, text):
    found = parse_correction(text, lexicon)
    assert found is not None and found.add == ("autonomie",) and found.replace_current and not found.remove


@pytest.mark.parametrize("text, add, remove", [
    ("pas le stress mais l'organisation", ("organisation",), ("gestion_du_stress",)),
    ("l'autonomie plutôt que la rigueur", ("autonomie",), ("rigueur",)),
    ("plutot l'autonomie que la rigueur", ("autonomie",), ("rigueur",)),
])
def test_replace_a_named_skill(lexicon, text, add, remove):
    found = parse_correction(text, lexicon)
    assert found is not None and (found.add, found.remove) == (add, remove)


@pytest.mark.parametrize("text, remove", [
    ("pas la communication", ("communication",)),
    ("non pas la réactivité", ("reactivite",)),
    ("c'est pas du travail en équipe", ("travail_en_equipe",)),
    ("enlève gestion du stress", ("gestion_du_stress",)),
    ("enleve la communication stp", ("communication",)),
    ("retire l'autonomie de mon profil", ("autonomie",)),
    ("sans la rigueur", ("rigueur",)),
])
def test_remove(lexicon, text, remove):
    found = parse_correction(text, lexicon)
    assert found is not None and found.remove == remove and not found.add


def test_an_answer_and_a_correction_together(lexicon):
    assert parse_correction("oui et la rigueur ?", lexicon) == Correction(add=("rigueur",), answer=True)


@pytest.mark.parametrize("text", [
    "oui", "non pas vraiment", "bof", "",
    "c'est quoi la rigueur ?", "et la rigueur c'est quoi ?", "c koi l'autonomie", "ça veut dire quoi réactif",
    # a story that merely mentions a skill word is not a correction
    "j'ai fait du foot avec mon équipe le samedi et on a gagné le tournoi",
])
def test_not_a_correction(lexicon, text):
    assert parse_correction(text, lexicon) is None


def test_the_crf_entity_counts_when_the_lexicon_misses_it(lexicon):
    found = parse_correction("y a aussi ça", lexicon, entity_skills=["curiosite"])
    assert found == Correction(add=("curiosite",))


def test_every_skill_can_be_named_by_its_label_and_its_plain_words(lexicon):
    ref = load_referentiel()
    for skill in ref.skills.values():
        assert parse_correction(f"y a aussi {skill.label.lower()}", lexicon).add == (skill.id,)
        assert parse_correction(f"enlève « {skill.plain} »", lexicon).remove == (skill.id,)

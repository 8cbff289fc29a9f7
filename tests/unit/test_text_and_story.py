"""bot.nlu.text, bot.story and bot.conversation: plain functions on French text."""
from __future__ import annotations

import pytest

from bot.conversation import NAME_MAX, clean_first_name, yes_no
from bot.nlu.text import clean_user_text, fold, normalise_token, normalise_words
from bot.story import StoryParts, analyse, is_substantial

COMPLETE_STORY = (
    "L'été dernier j'ai bossé au McDo. Un soir c'était le rush et un client s'est énervé "
    "contre moi, mais je suis resté calme et je lui ai refait sa commande. "
    "Au final mon manager m'a félicité devant toute l'équipe."
)


# --- bot.nlu.text ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Équipe", "equipe"),
        ("ÉTÉ à la plage", "ete a la plage"),
        ("  j’ai   géré\tça \n", "j'ai gere ca"),
        ("Persévérance", "perseverance"),
        ("garçon", "garcon"),
        ("l‘école", "l'ecole"),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_fold_makes_spelling_variants_equal() -> None:
    assert fold("équipe") == fold("equipe") == fold("ÉQUIPE")


@pytest.mark.parametrize("apostrophe", ["'", "’"])
@pytest.mark.parametrize(
    "template, expected",
    [
        ("j{a}ai", ["je", "ai"]),
        ("l{a}équipe", ["le", "equipe"]),
        ("qu{a}il", ["que", "il"]),
        ("d{a}abord", ["de", "abord"]),
        ("j{a}", ["je"]),
        ("qu{a}", ["que"]),
        ("jusqu{a}au", ["jusque", "au"]),
    ],
)
def test_elisions_with_both_apostrophes(apostrophe: str, template: str, expected: list) -> None:
    assert normalise_token(template.format(a=apostrophe)) == expected


@pytest.mark.parametrize(
    "token, expected",
    [
        ("jai", ["je", "ai"]),
        ("jsuis", ["je", "suis"]),
        ("Chui", ["je", "suis"]),
        ("pcq", ["parce", "que"]),
        ("bcp", ["beaucoup"]),
        ("jsp", ["je", "sais", "pas"]),
        ("tjrs", ["toujours"]),
        ("qqn", ["quelqu", "un"]),
        ("cétait", ["c", "etait"]),
        ("taf", ["taff"]),
        ("boulot", ["boulot"]),
        ("", []),
    ],
)
def test_sms_expansions(token: str, expected: list) -> None:
    assert normalise_token(token) == expected


def test_normalise_words_drops_punctuation_and_expands() -> None:
    words = normalise_words("J’ai géré l'équipe , pcq c'était le rush !".split())
    assert words == ["je", "ai", "gere", "le", "equipe", "parce", "que", "ce", "etait", "le", "rush"]


def test_clean_user_text_strips_control_characters() -> None:
    assert clean_user_text("salut\x00 ça\x07 va\x1b ?\x7f") == "salut ça va ?"
    assert clean_user_text("ligne 1\n\n\tligne 2  ") == "ligne 1 ligne 2"
    # accents, emoji and apostrophes are kept as typed
    assert clean_user_text("J’ai géré 😀") == "J’ai géré 😀"


def test_clean_user_text_bounds_length() -> None:
    assert len(clean_user_text("a" * 10_000)) == 4000
    assert clean_user_text("abcdefghij", max_chars=4) == "abcd"


@pytest.mark.parametrize("empty", [None, "", "   ", "\x00\x01"])
def test_clean_user_text_empty(empty) -> None:
    assert clean_user_text(empty) == ""


# --- bot.story ----------------------------------------------------------------------


def test_complete_story_has_all_parts() -> None:
    parts = analyse(COMPLETE_STORY)
    assert parts == StoryParts(action=True, difficulty=True, result=True)
    assert parts.missing() == []


def test_sms_story_misses_every_part() -> None:
    parts = analyse("jai bossé au mcdo")
    assert parts.missing() == ["action", "difficulty", "result"]


@pytest.mark.parametrize(
    "text, missing",
    [
        # action only
        ("Cet été j'ai gardé mes deux petits cousins tous les après-midis", ["difficulty", "result"]),
        # action and difficulty, no result
        ("Au foot j'ai remplacé le coach un samedi, c'était chaud avec les petits", ["result"]),
        # action and result, no difficulty
        ("J'ai préparé le repas de Noël pour toute la famille, finalement tout le monde était content", ["difficulty"]),
        # SMS spelling still understood
        ("jai aidé ma mère au marché, ct galère pcq ya eu la pluie mais au final on a tout vendu", []),
    ],
)
def test_analyse_finds_what_is_said(text: str, missing: list) -> None:
    assert analyse(text).missing() == missing


@pytest.mark.parametrize(
    "typed, sms",
    [
        ("J'ai servi les clients toute la journée", "jai servi les clients toute la journée"),
        ("J’étais serveur au resto du coin", "jetais serveur au resto du coin"),
        ("J'avais un stage dans une boulangerie", "javais un stage dans une boulangerie"),
        ("je m'occupais de mon petit frère le soir", "je m occupais de mon petit frère le soir"),
    ],
)
def test_action_found_with_apostrophes_as_with_sms(typed: str, sms: str) -> None:
    # regression: "j'ai" and "jai" both normalise to "je ai"; both are an action
    assert analyse(typed).action is True
    assert analyse(sms).action is True


def test_on_s_est_is_an_action() -> None:
    assert analyse("on s'est occupés du stand de la kermesse").action is True


def test_the_market_is_not_a_result() -> None:
    # regression: "marché" folds to "marche", which used to count as "ça a marché"
    assert analyse("j'aidais ma mère au marché le samedi matin").result is False
    for said in ["ça a marché", "et ça marche bien maintenant", "ça marchait trop bien"]:
        assert analyse(said).result is True, said


def test_follow_up_answers_complete_a_story() -> None:
    first = "jai bossé au mcdo tout l'été avec mon cousin"
    assert analyse(first).missing() == ["difficulty", "result"]
    joined = "\n".join([first, "le rush du samedi soir c'était dur", "au final ils m'ont gardé"])
    assert analyse(joined).missing() == []


@pytest.mark.parametrize("text", ["ok", "😀", "je sais pas", "jsp", "oui oui", "", "... !!!"])
def test_not_substantial(text: str) -> None:
    assert is_substantial(text) is False


def test_real_story_is_substantial() -> None:
    assert is_substantial(COMPLETE_STORY) is True
    assert is_substantial("jai bossé au mcdo cet été") is True


def test_short_story_counts_when_a_skill_was_detected() -> None:
    assert is_substantial("j'ai géré") is False
    assert is_substantial("géré le rush", detected_skills=0) is False
    assert is_substantial("géré le rush", detected_skills=1) is True
    assert is_substantial("ok", detected_skills=2) is False


# --- bot.conversation ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Inès", "Inès"),
        ("inès", "Inès"),
        ("moi c'est Inès", "Inès"),
        ("Moi c’est léa !", "Léa"),
        ("je m'appelle jean-paul", "Jean-Paul"),
        ("c'est Yanis 👋", "Yanis"),
        ("Mon prénom c'est Aïcha", "Aïcha"),
        ("Marie Claire", "Marie Claire"),
        ("Sam, et toi ?", "Sam"),
    ],
)
def test_clean_first_name_accepts(text: str, expected: str) -> None:
    assert clean_first_name(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        None, "", "   ", "oui", "non", "Salut", "bonjour", "ok", "123", "Inès93",
        "je sais pas trop moi", "x" * (NAME_MAX + 1), "<script>", "😀",
    ],
)
def test_clean_first_name_refuses(text) -> None:
    assert clean_first_name(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("oui", True), ("Ouais grave", True), ("ouais grave !", True), ("OUI !", True),
        ("c'est moi", True), ("carrément", True), ("yes", True), ("oui c'est vrai", True),
        ("non", False), ("bof", False), ("Non merci", False), ("pas du tout", False),
        ("nan", False), ("pas vraiment", False), ("c'est pas moi", False), ("mouais", False),
        ("euh", None), ("je sais pas", None), ("", None), (None, None), ("🤷", None),
    ],
)
def test_yes_no(text, expected) -> None:
    assert yes_no(text) is expected

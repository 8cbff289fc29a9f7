import pytest

from bot.assessment import understand
from bot.scoring import default_rules


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Jamais", 0), ("parfois", 1), ("Souvent", 2), ("TOUJOURS", 3),
        ("ouais souvent", 2), ("bof", 1), ("3", 2), ("1", 0), ("4", 3), ("0", 0),
        ("tout le temps", 3), ("des fois", 1), ("jamé", 0), ("euh souvent je dirais", 2),
        ("Souvent !", 2), ("ben toujours", 3), ("je crois parfois", 1),
    ],
)
def test_typed_answers_are_understood(text, expected):
    assert understand(text, default_rules()) == expected


@pytest.mark.parametrize("text", ["", "   ", "euh", "je sais pas", "7", "souvent ou jamais", "😀", None])
def test_unclear_answers_give_none(text):
    assert understand(text, default_rules()) is None

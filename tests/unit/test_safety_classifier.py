"""bot.safety.classifier: the training data is sound and apart from the held-out sets,
the decision combines cues and model as documented, the model is deterministic."""
from __future__ import annotations

from typing import List

import pytest
import yaml

from bot.config import ROOT
from bot.safety.classifier import (CHECK, CHECK_IN, CRISIS, SHORT_CHECK_IN, THRESHOLD, VETO, CrisisCheck, CrisisClassifier, default_classifier,
                                   load_examples, story_negatives)
from bot.safety.detector import CATEGORIES, load_detector
from bot.safety.normalise import normalise


def test_training_files_are_sound_and_varied() -> None:
    examples = load_examples()
    sources = {e.source for e in examples}
    both = [s for s in sources
            if sum(e.crisis for e in examples if e.source == s) >= 100
            and sum(not e.crisis for e in examples if e.source == s) >= 100]
    assert len(both) >= 3  # several writers, several briefs (plus the team's own pairs)
    covered = {c for e in examples if e.crisis for c in e.categories}
    assert covered == set(CATEGORIES)
    # every experience story is an ordinary message (answers to the story questions too)
    from tools.yardstick import training_stories

    assert len(story_negatives()) == len(training_stories(ROOT / "data" / "nlu" / "experiences")[0]) >= 2000


def test_no_held_out_message_is_in_the_training_data() -> None:
    """The yardstick stays honest: nothing of tests/heldout/ is copied into data/."""
    trained = {normalise(e.text) for e in load_examples()} | {normalise(t) for t in story_negatives(10 ** 6)}
    for name in ("crisis.yml", "ordinary.yml", "crisis2.yml", "ordinary2.yml"):
        held = yaml.safe_load((ROOT / "tests" / "heldout" / name).read_text(encoding="utf-8"))["messages"]
        copied = [m["text"][:40] for m in held if normalise(m["text"]) in trained]
        assert copied == [], (name, copied[:3])


class FakeModel:
    def __init__(self, probability: float, categories: List[str]) -> None:
        self.p, self.c = probability, categories

    def probability(self, text: str) -> float:
        return self.p

    def categories(self, text: str) -> List[str]:
        return self.c


LONG = "ce soir je veux mourir, je vous laisse tous tranquilles"   # 10 words, a cue
LONG_PLAIN = "un message assez long sans aucun indice dans les mots choisis"  # no cue


@pytest.mark.parametrize("probability, text, expected", [
    (0.01, "je veux mourir", (CRISIS, ["suicide"])),      # short: the cues decide
    (SHORT_CHECK_IN, "jsp", (CHECK, ["distress"])),        # short, no cue: a check-in when sure
    (SHORT_CHECK_IN - 0.01, "bon je dois y aller", (None, [])),
    (VETO, LONG, (CRISIS, ["suicide"])),                   # long: a cue stands unless the model doubts it
    (VETO - 0.01, LONG, (CHECK, ["suicide"])),             # ... then the lines still come, as a check-in
    (THRESHOLD, LONG_PLAIN, (CRISIS, ["distress"])),       # the model alone: its own categories
    (CHECK_IN, LONG_PLAIN, (CHECK, ["distress"])),
    (CHECK_IN - 0.01, LONG_PLAIN, (None, [])),
    (0.99, "/affirm", (None, [])),                          # buttons say nothing
    (0.99, "   ", (None, [])),
])
def test_the_decision(probability: float, text: str, expected) -> None:
    check = CrisisCheck(load_detector(), FakeModel(probability, ["distress"]))  # type: ignore[arg-type]
    found = check.assess(text)
    assert (found.level, list(found.categories)) == expected
    assert check.categories(text) == (expected[1] if expected[0] == CRISIS else [])


def test_the_model_is_deterministic_and_reads_young_people() -> None:
    examples = load_examples()
    a = CrisisClassifier.train(examples[::3], story_negatives(200))
    b = CrisisClassifier.train(examples[::3], story_negatives(200))
    texts = ["jsuis a bout jveux plus etre la", "on a gagné le tournoi de foot dimanche"]
    assert a.probabilities(texts) == b.probabilities(texts)
    model = default_classifier()
    assert model.probability("jsuis a bout jveux plus etre la demain") >= THRESHOLD
    assert model.probability("on a gagné le tournoi de foot dimanche, j'ai marqué deux buts") < THRESHOLD
    assert set(model.categories("il me frappe quand il a bu, j'ai peur de rentrer")) <= set(CATEGORIES)

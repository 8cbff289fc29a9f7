"""Evidence quotes what the person did (bot/skills/evidence.py, detector, aggregation)."""
from __future__ import annotations

import pytest

from bot.skills import aggregate
from bot.skills.evidence import choose_clause, evidence_from_text, is_first_person_action, split_clauses


@pytest.mark.parametrize("text", [
    "j'ai motivé tout le monde", "je restais calme", "jsuis resté calme", "g géré le rush tout seul",
    "on a fini 2e", "je leur ai expliqué", "je ne lâchais rien", "jai appelé les parents",
    "nous on a tout rangé", "du coup je me suis organisée", "j'ai pas lâché", "je suis resté zen",
])
def test_first_person_actions(text):
    assert is_first_person_action(text)


@pytest.mark.parametrize("text", [
    "au début l'équipe perdait tout", "les clients s'énervaient", "le manager m'a félicitée",
    "je sais pas", "c'était la folie le samedi", "mon coach criait sur tout le monde",
    "j'étais attaquant", "j'avais peur", "foot j'étais gardien",
])
def test_context_is_not_an_action(text):
    assert not is_first_person_action(text)


def test_the_action_wins_over_a_better_scoring_context():
    clauses = split_clauses("au début l'équipe perdait tout, j'ai motivé tout le monde et on a fini 2e")
    assert clauses == ["au début l'équipe perdait tout", "j'ai motivé tout le monde", "et on a fini 2e"]
    # the context scores best for the skill, the person's action is chosen
    assert clauses[choose_clause(clauses, [0.9, 0.7, 0.2])] == "j'ai motivé tout le monde"
    # the person's own action before the group's (« on a fini 2e » is the result)
    assert choose_clause(clauses, [0.9, 0.3, 0.6]) == 1
    # among the person's own actions, the best-scoring one
    assert choose_clause(["j'ai motivé tout le monde", "je restais calme"], [0.2, 0.6]) == 1


def test_fallback_to_the_best_clause_without_any_action():
    clauses = ["le samedi c'était la folie", "les clients s'énervaient au comptoir"]
    assert choose_clause(clauses, [0.2, 0.8]) == 1
    assert choose_clause([], []) is None


def test_evidence_from_a_plain_story():
    story = "l'été dernier au mcdo c'était la folie, les clients criaient mais je restais calme et souriante"
    assert evidence_from_text(story) == "je restais calme et souriante"
    assert evidence_from_text("foot") == "foot"
    assert len(evidence_from_text("je " + "travaillais beaucoup " * 40)) <= 111


def test_aggregate_prefers_the_follow_up_answer_where_the_person_acts():
    story = [{"id": "capacite_a_federer", "confidence": 0.8, "evidence": "au début l'équipe perdait tout"}]
    answer = [{"id": "capacite_a_federer", "confidence": 0.6, "evidence": "j'ai motivé les autres à chaque match"}]
    merged = aggregate([story, answer])
    assert merged[0].confidence == 0.8
    assert merged[0].evidence == "j'ai motivé les autres à chaque match"
    # no action anywhere: the best message's evidence
    other = [{"id": "capacite_a_federer", "confidence": 0.5, "evidence": "le club était content"}]
    assert aggregate([story, other])[0].evidence == "au début l'équipe perdait tout"


class _Span:
    def __init__(self, text):
        self.text = text


def test_the_detector_quotes_the_action(monkeypatch):
    import numpy as np

    from bot.skills import detector as det

    d = det.SkillDetector()
    d.skill_ids = ["capacite_a_federer"]
    parts = [_Span("au début l'équipe perdait tout"), _Span("j'ai motivé tout le monde"), _Span("on a fini 2e")]
    monkeypatch.setattr(det, "clauses", lambda doc: parts)
    monkeypatch.setattr(det, "quote", lambda span: span.text)
    monkeypatch.setattr(d, "score", lambda doc: [det.SkillScore("capacite_a_federer", 0.9)])
    monkeypatch.setattr(d, "_probabilities", lambda spans: np.array([[0.95], [0.7], [0.1]]))
    assert d.predict(object(), threshold=0.3)[0].evidence == "j'ai motivé tout le monde"


def test_the_persons_own_action_comes_before_the_groups() -> None:
    from bot.skills.evidence import choose_clause

    clauses = ["on perdait tous les matchs", "j'ai proposé qu'on se retrouve avant chaque match pour parler"]
    assert choose_clause(clauses, [0.9, 0.4]) == 1  # « on perdait » is the context
    assert choose_clause(["on a fini 2e", "l'équipe perdait tout"], [0.3, 0.9]) == 0

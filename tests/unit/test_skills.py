"""bot.skills: proposal logic (plain Python) and the trainable SkillDetector (real spaCy)."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bot.skills import Proposal, SkillDetector, SkillScore, aggregate, propose
from bot.skills.detector import EVIDENCE_MAX_CHARS, clauses, quote

# --- proposal -------------------------------------------------------------------------


def p(skill_id: str, confidence: float, evidence: str | None = None) -> Proposal:
    return Proposal(skill_id, confidence, evidence)


def ids(proposals) -> list:
    return [x.skill_id for x in proposals]


def test_aggregate_keeps_the_max_per_skill_with_its_evidence() -> None:
    merged = aggregate(
        [
            [{"id": "rigueur", "confidence": 0.4, "evidence": "le patron a vérifié"},
             {"id": "autonomie", "confidence": 0.7, "evidence": "seul"}],
            [{"id": "rigueur", "confidence": 0.9, "evidence": "tout relu deux fois"}],
            [{"id": "autonomie", "confidence": 0.2}],
        ]
    )
    assert merged == [p("rigueur", 0.9, "tout relu deux fois"), p("autonomie", 0.7, "seul")]


def test_aggregate_ignores_garbage() -> None:
    merged = aggregate(
        [
            None,
            [],
            [None, "rigueur", 3, {"confidence": 0.9}, {"id": "curiosite", "confidence": "beaucoup"}],
            [{"id": "organisation", "confidence": "0.6"}, {"id": "communication"}],
        ]
    )
    assert merged == [p("organisation", 0.6), p("communication", 0.0)]


def test_aggregate_sorts_by_confidence_then_id() -> None:
    merged = aggregate([[{"id": "b", "confidence": 0.5}, {"id": "a", "confidence": 0.5},
                         {"id": "c", "confidence": 0.8}]])
    assert ids(merged) == ["c", "a", "b"]


def test_proposal_dict_round_trip() -> None:
    original = p("rigueur", 0.75, "j'ai tout vérifié")
    assert Proposal.from_dict(original.as_dict()) == original


def test_propose_the_two_likeliest_above_the_threshold() -> None:
    chosen = propose([p("a", 0.9), p("b", 0.3), p("c", 0.6), p("d", 0.55)])
    assert ids(chosen) == ["a", "c"]


def test_propose_the_best_one_when_none_reaches_the_bar() -> None:
    # one above the bar: no top-up with a weaker one (precision over quantity)
    assert ids(propose([p("a", 0.8), p("b", 0.45), p("c", 0.42), p("d", 0.1)])) == ["a"]
    # none above the bar: the best one above the fill threshold
    assert ids(propose([p("a", 0.45), p("b", 0.41), p("c", 0.40)])) == ["a"]
    assert ids(propose([p("a", 0.29)])) == []
    # the earlier rule is still a call away
    assert ids(propose([p("a", 0.45), p("b", 0.41)], fill_threshold=0.4, min_count=2)) == ["a", "b"]


def test_propose_at_most_two() -> None:
    many = [p(f"s{i}", 0.99 - i * 0.05) for i in range(7)]
    assert ids(propose(many)) == ["s0", "s1"]
    assert len(propose(many, max_count=4)) == 4


def test_propose_excludes() -> None:
    chosen = propose([p("a", 0.9), p("b", 0.8), p("c", 0.45)], exclude=["a"])
    assert ids(chosen) == ["b"]


def test_propose_nothing() -> None:
    assert propose([]) == []
    assert propose([p("a", 0.2), p("b", 0.1)]) == []


def test_propose_custom_thresholds() -> None:
    cands = [p("a", 0.7), p("b", 0.65), p("c", 0.2)]
    assert ids(propose(cands, threshold=0.8, fill_threshold=0.6, min_count=2)) == ["a", "b"]
    assert ids(propose(cands, threshold=0.8, fill_threshold=0.6, min_count=1)) == ["a"]


# --- detector -------------------------------------------------------------------------

STRESS, EQUIPE, ORGA = "gestion_du_stress", "travail_en_equipe", "organisation"
SKILLS = [STRESS, EQUIPE, ORGA]

TRAIN = [
    ("Au fast-food c'était le rush, les clients criaient mais je suis resté calme.", [STRESS]),
    ("Pendant mon examen j'ai paniqué, puis j'ai respiré un grand coup et je me suis calmé.", [STRESS]),
    ("Un client s'est énervé contre moi, j'ai gardé mon calme sans m'énerver.", [STRESS]),
    ("Le jour du match j'avais la pression mais je suis resté zen et concentré.", [STRESS]),
    ("Mon petit frère s'est blessé, j'ai pas paniqué, je suis resté calme et j'ai appelé les secours.", [STRESS]),
    ("Avant mon oral j'étais stressé, j'ai soufflé et je suis resté calme.", [STRESS]),
    ("Au foot on jouait ensemble, je faisais des passes à mes coéquipiers.", [EQUIPE]),
    ("Avec mes collègues on s'entraidait en cuisine, on bossait en équipe.", [EQUIPE]),
    ("Pour le projet de classe on s'est réparti le travail en groupe avec mes camarades.", [EQUIPE]),
    ("Au bénévolat j'aidais les autres bénévoles, on faisait tout ensemble en équipe.", [EQUIPE]),
    ("Au basket je jouais collectif avec mon équipe et on se faisait des passes.", [EQUIPE]),
    ("En cuisine on travaillait en équipe avec les collègues, chacun aidait l'autre.", [EQUIPE]),
    ("J'ai fait un planning pour ranger tout l'appartement avant le déménagement.", [ORGA]),
    ("Je notais tout dans mon agenda et je préparais mes affaires la veille.", [ORGA]),
    ("J'ai organisé l'anniversaire de ma soeur, j'ai tout planifié à l'avance avec une liste.", [ORGA]),
    ("J'ai fait une liste des tâches et un planning pour réviser mes examens.", [ORGA]),
    ("Pour le tournoi j'ai organisé les horaires et le planning des matchs.", [ORGA]),
    ("Pendant le rush on est restés calmes ensemble et on s'est entraidés en équipe.", [STRESS, EQUIPE]),
    ("bonjour", []),
    ("merci beaucoup", []),
    ("salut ça va", []),
    ("oui", []),
    ("au revoir", []),
    ("c'est quoi une compétence", []),
]

UNSEEN = [
    ("Au boulot un client m'a crié dessus, j'ai respiré et je suis restée calme.", STRESS),
    ("Au hand on jouait vraiment en équipe, je passais la balle à mes coéquipières.", EQUIPE),
    ("J'ai préparé un planning et une liste pour organiser la fête du quartier.", ORGA),
]


@pytest.fixture(scope="module")
def detector(nlp) -> SkillDetector:
    docs = list(nlp.pipe(t for t, _ in TRAIN))
    return SkillDetector().fit(docs, [labels for _, labels in TRAIN], SKILLS)


@pytest.mark.parametrize("text, expected", UNSEEN)
def test_detector_ranks_the_right_skill_first(detector: SkillDetector, nlp, text: str, expected: str) -> None:
    scores = detector.score(nlp(text))
    assert [s.id for s in scores][0] == expected, scores
    assert sorted(s.id for s in scores) == sorted(SKILLS)
    assert [s.confidence for s in scores] == sorted((s.confidence for s in scores), reverse=True)
    assert all(0.0 <= s.confidence <= 1.0 for s in scores)
    assert scores[0].confidence > 0.5
    assert scores[0].confidence - scores[1].confidence > 0.1


@pytest.mark.parametrize("text", ["merci", "bonjour à toi", "ok"])
def test_detector_sees_no_skill_in_small_talk(detector: SkillDetector, nlp, text: str) -> None:
    assert detector.predict(nlp(text), threshold=0.5) == []
    assert all(s.confidence < 0.5 for s in detector.score(nlp(text)))


def test_detector_quotes_evidence_from_the_text(detector: SkillDetector, nlp) -> None:
    text = (
        "L'été dernier j'ai bossé au fast-food avec une super équipe de collègues, "
        "mais un soir de rush un client a crié et je suis resté calme."
    )
    found = {s.id: s for s in detector.predict(nlp(text), threshold=0.3)}
    assert STRESS in found, found
    evidence = found[STRESS].evidence
    assert evidence and evidence in text
    assert "calme" in evidence and "équipe" not in evidence
    assert len(evidence) <= EVIDENCE_MAX_CHARS + 1


def test_detector_single_clause_evidence_is_the_whole_message(detector: SkillDetector, nlp) -> None:
    text = "Je suis resté calme pendant le rush"
    found = detector.predict(nlp(text), threshold=0.3)
    assert found and found[0].id == STRESS
    assert found[0].evidence == text


def test_predict_respects_threshold_and_max(detector: SkillDetector, nlp) -> None:
    doc = nlp(UNSEEN[0][0])
    assert detector.predict(doc, threshold=0.0, max_skills=2) == detector.predict(doc, 0.0, 6)[:2]
    assert len(detector.predict(doc, threshold=0.0)) == 3
    assert detector.predict(doc, threshold=1.01) == []


def test_empty_doc_scores_nothing(detector: SkillDetector, nlp) -> None:
    assert detector.score(nlp("")) == []
    assert detector.score(nlp("  ... !!")) == []


def test_untrained_detector_scores_nothing(nlp) -> None:
    assert SkillDetector().score(nlp("je suis resté calme")) == []


def test_fit_refuses_bad_data(nlp) -> None:
    with pytest.raises(ValueError, match="no labelled story"):
        SkillDetector().fit([], [], SKILLS)
    # a skill without any positive story cannot be learnt
    docs = [nlp(t) for t, _ in TRAIN[:8]]
    labels = [ls for _, ls in TRAIN[:8]]
    with pytest.raises(ValueError, match=f"'{ORGA}' needs both positive and negative"):
        SkillDetector().fit(docs, labels, [STRESS, ORGA])


def test_save_load_round_trip_without_pickle(detector: SkillDetector, nlp, tmp_path: Path) -> None:
    target = tmp_path / "model"
    detector.save(target)
    assert sorted(f.name for f in target.iterdir()) == ["detector.json", "detector.npz"]

    meta = json.loads((target / "detector.json").read_text(encoding="utf-8"))
    assert meta["skill_ids"] == SKILLS
    assert meta["featurizer"]["vector_width"] == 300
    assert all(isinstance(v, int) for v in meta["featurizer"]["word_vocabulary"].values())
    with np.load(target / "detector.npz", allow_pickle=False) as arrays:
        assert set(arrays.files) == {"weights", "bias", "word_idf", "char_idf"}
        for name in arrays.files:
            assert arrays[name].dtype != object
        assert arrays["weights"].shape[0] == len(SKILLS)
    with zipfile.ZipFile(target / "detector.npz") as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())

    loaded = SkillDetector.load(target)
    assert loaded.skill_ids == SKILLS
    for text, _ in UNSEEN + [("merci", None)]:
        doc = nlp(text)
        assert loaded.score(doc) == detector.score(doc)
        assert loaded.predict(doc, 0.3) == detector.predict(doc, 0.3)


def test_score_as_dict() -> None:
    assert SkillScore("rigueur", 0.123456, "j'ai relu").as_dict() == {
        "id": "rigueur", "confidence": 0.1235, "evidence": "j'ai relu"
    }
    assert SkillScore("rigueur", 0.5).as_dict() == {"id": "rigueur", "confidence": 0.5}


# --- clauses and quotes ---------------------------------------------------------------


def test_clauses_split_on_punctuation_and_mais(nlp) -> None:
    doc = nlp(
        "Samedi dernier j'ai servi tous les clients du restaurant, mais le rush était vraiment "
        "très dur pour moi; au final on a réussi à tout servir à temps."
    )
    assert [c.text for c in clauses(doc)] == [
        "Samedi dernier j'ai servi tous les clients du restaurant",
        "mais le rush était vraiment très dur pour moi",
        "au final on a réussi à tout servir à temps",
    ]


def test_clauses_split_on_mais_without_comma(nlp) -> None:
    doc = nlp("j'ai rangé ma chambre mais ma soeur a tout dérangé encore une fois")
    assert [c.text for c in clauses(doc)] == ["j'ai rangé ma chambre", "mais ma soeur a tout dérangé encore une fois"]


def test_clauses_merge_very_short_pieces(nlp) -> None:
    assert [c.text for c in clauses(nlp("ok, mais non"))] == ["ok, mais non"]
    assert [c.text for c in clauses(nlp("Bonjour"))] == ["Bonjour"]
    assert clauses(nlp("")) == []


def test_quote_cuts_long_clauses_on_a_word(nlp) -> None:
    long = nlp("j'ai " + " ".join(["vraiment"] * 30) + " tout rangé")
    quoted = quote(long[:])
    assert quoted.endswith("…")
    assert len(quoted) <= EVIDENCE_MAX_CHARS + 1
    assert quoted[:-1].split()[-1] == "vraiment"

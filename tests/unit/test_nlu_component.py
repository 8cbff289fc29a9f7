"""bot.nlu.soft_skills.SoftSkillClassifier through Rasa's real graph API (no `rasa train`).

Training data is read from YAML by Rasa's own reader, so the labels come in the
exact ``metadata: skills`` format the trainers write in data/nlu.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.soft_skills import SOFT_SKILLS, SoftSkillClassifier, example_labels
from bot.nlu.tokenizer import FrenchTokenizer
from bot.referentiel import default_referentiel

NLU_YAML = """
version: "3.1"
nlu:
- intent: tell_experience
  examples:
  - text: Au fast-food c'était le rush, les clients criaient mais je suis resté calme.
    metadata:
      skills: [gestion_du_stress]
  - text: Pendant mon examen j'ai paniqué, puis j'ai respiré un grand coup et je me suis calmé.
    metadata:
      skills: [gestion_du_stress]
  - text: Un client s'est énervé contre moi, j'ai gardé mon calme sans m'énerver.
    metadata:
      skills: [gestion_du_stress]
  - text: Le jour du match j'avais la pression mais je suis resté zen et concentré.
    metadata:
      skills: [gestion_du_stress]
  - text: Avant mon oral j'étais stressé, j'ai soufflé et je suis resté calme.
    metadata:
      skills: [gestion_du_stress]
  - text: Au foot on jouait ensemble, je faisais des passes à mes coéquipiers.
    metadata:
      skills: [travail_en_equipe]
  - text: Avec mes collègues on s'entraidait en cuisine, on bossait en équipe.
    metadata:
      skills: [travail_en_equipe]
  - text: Pour le projet de classe on s'est réparti le travail en groupe avec mes camarades.
    metadata:
      skills: [travail_en_equipe]
  - text: Au basket je jouais collectif avec mon équipe et on se faisait des passes.
    metadata:
      skills: [travail_en_equipe]
  - text: En cuisine on travaillait en équipe avec les collègues, chacun aidait l'autre.
    metadata:
      skills: [travail_en_equipe]
  - text: Pendant le rush on est restés calmes ensemble et on s'est entraidés en équipe.
    metadata:
      skills: [gestion_du_stress, travail_en_equipe]
  - text: j'ai fait plein de trucs cet été sans label
- intent: greet
  examples: |
    - bonjour
    - salut ça va
    - coucou
- intent: thank
  examples: |
    - merci beaucoup
    - merci
- intent: affirm
  examples: |
    - oui
    - ouais grave
"""

CONFIG = {**SoftSkillClassifier.get_default_config()}


@pytest.fixture(scope="module")
def spacy_nlp(nlp) -> SpacyNLP:
    """Rasa's SpacyNLP around the session's spaCy model (created like `create` does,
    without loading fr_core_news_md a second time)."""
    SpacyNLP.ensure_proper_language_model(nlp)
    return SpacyNLP(SpacyModel(model=nlp, model_name="fr_core_news_md"),
                    {**SpacyNLP.get_default_config(), "model": "fr_core_news_md"})


@pytest.fixture
def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path / "model_storage")


def training_data(spacy_nlp: SpacyNLP, yaml_text: str = NLU_YAML) -> TrainingData:
    data = RasaYAMLReader().reads(yaml_text)
    return spacy_nlp.process_training_data(data, spacy_nlp.provide())


def parse(spacy_nlp: SpacyNLP, component: SoftSkillClassifier, text: str) -> Dict[str, Any]:
    message = Message(data={TEXT: text})
    spacy_nlp.process([message], spacy_nlp.provide())
    component.process([message])
    return message.as_dict(only_output_properties=True)


@pytest.fixture(scope="module")
def trained(spacy_nlp: SpacyNLP, tmp_path_factory: pytest.TempPathFactory):
    """(storage, resource) after one training, shared by the module's tests."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("trained"))
    resource = Resource("soft_skill_classifier")
    context = ExecutionContext(GraphSchema({}), "test")
    component = SoftSkillClassifier.create(CONFIG, storage, resource, context)
    returned = component.train(training_data(spacy_nlp))
    assert returned == resource
    return storage, resource


@pytest.fixture
def loaded(trained, context: ExecutionContext) -> SoftSkillClassifier:
    storage, resource = trained
    return SoftSkillClassifier.load(CONFIG, storage, resource, context)


def test_training_data_labels_are_read_from_example_metadata(spacy_nlp: SpacyNLP) -> None:
    data = training_data(spacy_nlp)
    labels = {m.get(TEXT): example_labels(m) for m in data.training_examples}
    assert labels["Pendant le rush on est restés calmes ensemble et on s'est entraidés en équipe."] == [
        "gestion_du_stress", "travail_en_equipe"
    ]
    assert labels["bonjour"] is None
    assert labels["j'ai fait plein de trucs cet été sans label"] is None
    assert all(m.get(SPACY_DOCS[TEXT]) is not None for m in data.training_examples)


def test_trained_component_outputs_soft_skills(spacy_nlp: SpacyNLP, loaded: SoftSkillClassifier) -> None:
    text = "Au boulot un client m'a crié dessus, j'ai respiré et je suis restée calme."
    output = parse(spacy_nlp, loaded, text)
    skills: List[Dict[str, Any]] = output[SOFT_SKILLS]
    assert skills, output
    assert skills[0]["id"] == "gestion_du_stress"
    known = set(default_referentiel().ids)
    assert all(s["id"] in known for s in skills)
    confidences = [s["confidence"] for s in skills]
    assert confidences == sorted(confidences, reverse=True)
    assert all(CONFIG["threshold"] <= c <= 1.0 for c in confidences)
    assert skills[0]["evidence"] in text
    assert len(skills) == len({s["id"] for s in skills})


def test_team_story(spacy_nlp: SpacyNLP, loaded: SoftSkillClassifier) -> None:
    skills = parse(spacy_nlp, loaded, "Au hand on jouait en équipe, je passais la balle à mes coéquipières.")[SOFT_SKILLS]
    assert skills and skills[0]["id"] == "travail_en_equipe"


@pytest.mark.parametrize("text", ["/greet", "/affirm", '/tell_experience{"x": 1}'])
def test_payloads_get_no_skill(spacy_nlp: SpacyNLP, loaded: SoftSkillClassifier, text: str) -> None:
    assert parse(spacy_nlp, loaded, text)[SOFT_SKILLS] == []


@pytest.mark.parametrize("text", ["merci", "bonjour"])
def test_small_talk_gets_no_skill(spacy_nlp: SpacyNLP, loaded: SoftSkillClassifier, text: str) -> None:
    assert parse(spacy_nlp, loaded, text)[SOFT_SKILLS] == []


def test_message_without_spacy_doc_gets_no_skill(loaded: SoftSkillClassifier) -> None:
    message = Message(data={TEXT: "je suis resté calme pendant le rush"})
    loaded.process([message])
    assert message.get(SOFT_SKILLS) == []


def test_model_files_are_written_to_the_resource(trained) -> None:
    storage, resource = trained
    with storage.read_from(resource) as directory:
        assert sorted(p.name for p in Path(directory).iterdir()) == ["detector.json", "detector.npz"]


def test_unknown_label_is_refused_and_named(spacy_nlp: SpacyNLP, storage: LocalModelStorage,
                                            context: ExecutionContext) -> None:
    bad = NLU_YAML.replace("skills: [travail_en_equipe]\n  - text: Pour", "skills: [leadership]\n  - text: Pour", 1)
    assert "leadership" in bad
    component = SoftSkillClassifier.create(CONFIG, storage, Resource("bad"), context)
    with pytest.raises(ValueError, match="leadership"):
        component.train(training_data(spacy_nlp, bad))


def test_label_that_is_not_a_list_is_refused(spacy_nlp: SpacyNLP, storage: LocalModelStorage,
                                             context: ExecutionContext) -> None:
    bad = NLU_YAML.replace("skills: [gestion_du_stress]", "skills: gestion_du_stress", 1)
    component = SoftSkillClassifier.create(CONFIG, storage, Resource("bad"), context)
    with pytest.raises(ValueError, match="must be a list of skill ids"):
        component.train(training_data(spacy_nlp, bad))


def test_untrained_resource_loads_and_detects_nothing(spacy_nlp: SpacyNLP, storage: LocalModelStorage,
                                                       context: ExecutionContext) -> None:
    component = SoftSkillClassifier.load(CONFIG, storage, Resource("never_trained"), context)
    assert parse(spacy_nlp, component, "je suis resté calme pendant le rush")[SOFT_SKILLS] == []


def test_french_tokenizer_folds_lemmas(spacy_nlp: SpacyNLP) -> None:
    message = Message(data={TEXT: "J’ai géré l'Équipe"})
    spacy_nlp.process([message], spacy_nlp.provide())
    tokenizer = FrenchTokenizer(FrenchTokenizer.get_default_config())
    tokens = tokenizer.tokenize(message, TEXT)
    lemmas = [t.lemma for t in tokens]
    assert "je" in lemmas
    assert "equipe" in lemmas
    assert all(lemma == lemma.lower() and "é" not in lemma for lemma in lemmas)


# --- the real NLU data --------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_data():
    from rasa.shared.nlu.training_data.loading import load_data

    root = Path(__file__).resolve().parents[2]
    return load_data(str(root / "data" / "nlu")), load_data(str(root / "tests" / "nlu"))


def test_real_nlu_labels_are_all_in_the_referentiel(real_data) -> None:
    """What `rasa train` would refuse, caught in seconds; every skill can be learnt."""
    from collections import Counter

    known = set(default_referentiel().ids)
    for data in real_data:
        counts: Counter = Counter()
        for message in data.training_examples:
            labels = example_labels(message)
            if labels is not None:
                counts.update(labels)
        assert set(counts) - known == set()
        assert set(counts) == known, known - set(counts)
    train_counts = Counter(
        s for m in real_data[0].training_examples for s in (example_labels(m) or [])
    )
    assert min(train_counts.values()) >= 20, train_counts


def test_test_stories_are_not_training_stories(real_data) -> None:
    train, test = real_data
    seen = {" ".join(m.get(TEXT).lower().split()) for m in train.training_examples}
    leaked = [m.get(TEXT) for m in test.training_examples if " ".join(m.get(TEXT).lower().split()) in seen]
    assert leaked == []

"""Rasa NLU component: multi-label soft-skill detection on told experiences.

Trained by ``rasa train`` with the rest of the pipeline. The labels live with
the French NLU data, as example metadata::

    - intent: tell_experience
      examples:
      - text: |
          l'été dernier j'ai bossé au mcdo ...
        metadata:
          skills: [gestion_du_stress, travail_en_equipe]

Every other NLU example (greetings, questions...) is a negative for all
skills, so "oui" or "merci" shows no skill. At parse time the message gets an
output key ``soft_skills``: ``[{"id", "confidence", "evidence"}]`` sorted by
confidence, above ``threshold``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import INTENT, METADATA, METADATA_EXAMPLE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.config import ROOT
from bot.referentiel import load_referentiel
from bot.skills.detector import SkillDetector
from bot.skills.knowledge import CueMatcher, load_cues

logger = logging.getLogger(__name__)

SOFT_SKILLS = "soft_skills"
LABEL_KEY = "skills"
STORY_INTENT = "tell_experience"


def example_labels(message: Message) -> Optional[List[str]]:
    """The skill labels of a training example, or None when it has none."""
    metadata = message.get(METADATA) or {}
    example = metadata.get(METADATA_EXAMPLE) if isinstance(metadata, dict) else None
    if not isinstance(example, dict) or LABEL_KEY not in example:
        return None
    labels = example[LABEL_KEY]
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(
            f"'metadata: {LABEL_KEY}' must be a list of skill ids, got {labels!r} "
            f"for the example « {str(message.get(TEXT))[:60]}… »"
        )
    return labels


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class SoftSkillClassifier(GraphComponent):
    """Predicts the soft skills a told experience shows (multi-label)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "threshold": 0.3,
            "max_skills": 6,
            "c": 8.0,
            "dense_weight": 1.0,
            "char_weight": 1.0,
            "random_seed": 42,
            "referentiel": "data/referentiel",
            # cue expressions per skill (bot.skills.knowledge); "" to train without
            "cues": "",
            "cue_weight": 1.0,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        detector: Optional[SkillDetector] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SoftSkillClassifier":
        return cls(config, model_storage, resource)

    def _referentiel_ids(self) -> List[str]:
        path = Path(self._config["referentiel"])
        if not path.is_absolute():
            path = ROOT / path
        return load_referentiel(path).ids

    def train(self, training_data: TrainingData) -> Resource:
        known = self._referentiel_ids()
        docs, labels, unknown = [], [], set()
        for message in training_data.training_examples:
            doc = message.get(SPACY_DOCS[TEXT])
            if doc is None:
                continue
            skills = example_labels(message)
            if skills is None:
                if message.get(INTENT) == STORY_INTENT:
                    continue  # an unlabelled story is neither positive nor negative
                skills = []
            unknown.update(s for s in skills if s not in known)
            docs.append(doc)
            labels.append(skills)
        if unknown:
            raise ValueError(
                f"NLU data labels stories with skills missing from the référentiel: "
                f"{sorted(unknown)}. Add data/referentiel/skills/<id>.yml or fix the label."
            )
        used = [s for s in known if any(s in ls for ls in labels)]
        missing = sorted(set(known) - set(used))
        if missing:
            logger.warning("No labelled story for skills %s: they cannot be detected.", missing)
        cues = None
        if self._config.get("cues"):
            path = Path(self._config["cues"])
            expressions = load_cues(path if path.is_absolute() else ROOT / path)
            strangers = sorted(set(expressions) - set(known))
            if strangers:
                raise ValueError(f"{path}: cues for skills missing from the référentiel: {strangers}")
            cues = CueMatcher(used, expressions)
        self._detector = SkillDetector(
            cues=cues,
            cue_weight=self._config["cue_weight"],
            c=self._config["c"],
            dense_weight=self._config["dense_weight"],
            char_weight=self._config["char_weight"],
            random_seed=self._config["random_seed"],
        ).fit(docs, labels, used)
        with self._model_storage.write_to(self._resource) as directory:
            self._detector.save(Path(directory))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SoftSkillClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                detector = SkillDetector.load(Path(directory))
        except (ValueError, FileNotFoundError):
            logger.warning("No trained soft-skill detector found; it will detect nothing.")
            detector = None
        return cls(config, model_storage, resource, detector)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            message.set(SOFT_SKILLS, self._predict(message), add_to_output=True)
        return messages

    def _predict(self, message: Message) -> List[Dict[str, Any]]:
        text = message.get(TEXT) or ""
        doc = message.get(SPACY_DOCS[TEXT])
        if self._detector is None or doc is None or text.startswith("/"):
            return []
        scores = self._detector.predict(
            doc, self._config["threshold"], self._config["max_skills"]
        )
        return [s.as_dict() for s in scores]

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

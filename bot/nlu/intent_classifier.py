"""Rasa NLU intent classifier on the project's French features.

Multinomial logistic regression (fixed seed) over ``bot.nlu.features``: word and
lemma TF-IDF, character 2–5-grams (slang, typos, "mrci", "ouaiiis") and the mean
``fr_core_news_md`` vector. Measured against Rasa's LogisticRegressionClassifier
and DIET on the held-out tests (README, "How skill detection works").
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

from bot.nlu.features import TextFeaturizer, load_linear, save_linear

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class FrenchIntentClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "c": 10.0,
            "char_weight": 1.0,
            "dense_weight": 1.0,
            "random_seed": 42,
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[tuple] = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._model = model  # (intents, featurizer, weights, bias)

    @classmethod
    def create(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FrenchIntentClassifier":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            m for m in training_data.intent_examples if m.get(SPACY_DOCS[TEXT]) is not None
        ]
        intents = sorted({m.get(INTENT) for m in examples})
        if len(intents) < 2:
            logger.warning("Fewer than two intents: the intent classifier is not trained.")
            return self._resource
        featurizer = TextFeaturizer(
            char_ngrams=(2, 5), char_min_df=1,
            char_weight=self._config["char_weight"], dense_weight=self._config["dense_weight"],
        )
        x = featurizer.fit_transform([m.get(SPACY_DOCS[TEXT]) for m in examples])
        y = [intents.index(m.get(INTENT)) for m in examples]
        model = LogisticRegression(
            C=self._config["c"], class_weight="balanced", max_iter=3000,
            random_state=self._config["random_seed"],
        ).fit(x, y)
        weights = model.coef_.astype(np.float32)
        bias = model.intercept_.astype(np.float32)
        with self._model_storage.write_to(self._resource) as directory:
            save_linear(Path(directory), "intents", {"intents": intents}, featurizer, weights, bias)
        self._model = (intents, featurizer, weights, bias)
        return self._resource

    @classmethod
    def load(
        cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
        execution_context: ExecutionContext, **kwargs: Any,
    ) -> "FrenchIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                meta, featurizer, weights, bias = load_linear(Path(directory), "intents")
            return cls(config, model_storage, resource, (meta["intents"], featurizer, weights, bias))
        except (ValueError, FileNotFoundError):
            logger.warning("No trained intent classifier found.")
            return cls(config, model_storage, resource)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            if self._model is None or doc is None:
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
                continue
            intents, featurizer, weights, bias = self._model
            logits = np.asarray(featurizer.transform([doc]) @ weights.T + bias)[0]
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            order = np.argsort(-probs, kind="stable")[: self._config["ranking_length"]]
            ranking = [{"name": intents[i], "confidence": float(probs[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages

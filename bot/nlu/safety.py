"""Rasa NLU component: the safety layer's view of each message.

Runs after the intent classifier and the soft-skill classifier, before the
FallbackClassifier (``config.yml``). When ``bot.safety`` finds a crisis (suicidal
thoughts, self-harm, harassment, violence, sexual violence, a child in danger, no
place to sleep, hunger, acute distress) the intent becomes ``crisis`` with
confidence 1.0, the message data key ``safety`` lists the categories (exposed by
``/model/parse``), and ``soft_skills`` and entities are cleared: such a message is
never a story, never evidence, never a first name. A message clearly in English,
Spanish or Arabic in Latin script gets the intent ``other_language``. Button
payloads (« /… ») are left alone.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.soft_skills import SOFT_SKILLS
from bot.safety.classifier import CRISIS, CrisisCheck, assess
from bot.safety.language import FR, guess_language

SAFETY = "safety"
CRISIS = "crisis"
OTHER_LANGUAGE = "other_language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SafetyDetector(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"languages": True}

    def __init__(self, config: Dict[Text, Any], detector: Optional[CrisisCheck] = None) -> None:
        self._config = config
        # cues + classifier (bot.safety.classifier); the default one shares its answers
        # with the channel's check-in (one reading per message)
        self._assess = detector.assess if detector is not None else assess
        if detector is None:
            assess("")  # train the classifier when the model loads, not on the first message

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SafetyDetector":
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process(message)
        return messages

    def _process(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not isinstance(text, str) or text.lstrip().startswith("/"):
            return
        found = self._assess(text)
        categories = list(found.categories) if found.level == CRISIS else []
        if categories:
            self._set_intent(message, CRISIS)
            message.set(SAFETY, {"categories": categories}, add_to_output=True)
            message.set(SOFT_SKILLS, [], add_to_output=True)
            message.set(ENTITIES, [], add_to_output=True)
            return
        language = guess_language(text) if self._config.get("languages", True) else FR
        if language != FR:
            self._set_intent(message, OTHER_LANGUAGE)
            message.set(SOFT_SKILLS, [], add_to_output=True)
            message.set(ENTITIES, [], add_to_output=True)
        message.set(SAFETY, {"categories": [], "language": language}, add_to_output=True)

    @staticmethod
    def _set_intent(message: Message, name: str) -> None:
        # the ranking holds this intent only: with the classifier's scores after it, the
        # FallbackClassifier's ambiguity check (top two closer than 0.08) would turn a
        # crisis into nlu_fallback whenever the classifier was itself confident
        intent = {"name": name, "confidence": 1.0}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)

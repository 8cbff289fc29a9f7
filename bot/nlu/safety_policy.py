"""Rasa policy: the safety actions win in every state.

Right after a user message whose intent is ``crisis``, ``ask_human`` or
``other_language`` it predicts ``action_crisis_support``, ``action_talk_to_human``
or ``action_other_language`` with confidence 1.0, then ``action_listen`` after it.

Why it wins everywhere (Rasa 3.6, ``rasa/core/policies/ensemble.py``,
``_pick_best_policy``): predictions flagged ``is_no_user_prediction`` — the
RulePolicy's "happy path" of an active form or of the two-stage fallback loop —
overrule every other prediction whatever its confidence. This policy flags its
predictions the same way, so it competes with the form's happy path on
(confidence, priority): both are 1.0 and its priority (config.yml) is above the
RulePolicy's. The actions end the active loop themselves (``ActiveLoop(None)``).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

SAFETY_ACTIONS: Dict[str, str] = {
    "crisis": "action_crisis_support",
    "ask_human": "action_talk_to_human",
    "other_language": "action_other_language",
}


def next_safety_action(latest_action: Optional[str], intent: Optional[str]) -> Optional[str]:
    """The action this policy predicts, or None when it has nothing to say."""
    if latest_action == ACTION_LISTEN_NAME and intent in SAFETY_ACTIONS:
        return SAFETY_ACTIONS[intent]
    if latest_action in SAFETY_ACTIONS.values():
        return ACTION_LISTEN_NAME
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class SafetyPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 10}

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain,
              **kwargs: Any) -> Resource:
        missing = [a for a in SAFETY_ACTIONS.values() if a not in domain.action_names_or_texts]
        if missing:
            raise ValueError(f"SafetyPolicy needs these actions in domain.yml: {missing}")
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
        action = next_safety_action(tracker.latest_action_name, intent)
        probabilities = self._default_predictions(domain)
        if action is None or action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)

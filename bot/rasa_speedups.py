"""Measured fixes for the Rasa server's hot paths (``make bench`` + py-spy).

1. Action-server responses.
Rasa 3.6 validates every action server response with ``jsonschema.validate``,
which re-checks the schema itself against the Draft 2020-12 meta-schema on
every call. Under load (``make bench``, 20 users) that took 67 % of the Rasa
server's CPU (py-spy). We validate against the same schema with a validator
built once: same checks, same errors, a fraction of the cost.

2. spaCy's named-entity recogniser. Rasa's ``SpacyNLP`` runs every spaCy pipe but
the parser; nothing of ours reads spaCy's entities (names come from our CRF and
the forms), and in fr_core_news_md the NER has its own tok2vec: it doubled the
spaCy time per message (6.0 → 2.9 ms for a 20-word message). Disabled at serving
time; the features are the same (vectors, lemmas and POS do not depend on it).

3. The rule lookup (issue 12, py-spy under ``make bench``). ``RulePolicy`` parses each
rule key (a JSON list of states) through ``_rule_key_to_state``, an ``lru_cache`` of
1,000 entries; our model has 1,045 rule keys (889 rules, 156 for forms' unhappy paths),
so the cache thrashed and every prediction re-parsed the JSON of every rule. The cache
is made unbounded (the keys are fixed by the model). And ``_get_possible_keys`` walked
the whole conversation's states although no rule is longer than 4 states: it now stops
once the turn index passes the longest remaining rule, where Rasa's own check
(``_is_rule_applicable``) would return True for every key anyway. Same predictions
(``rasa test core`` and ``tests/unit/test_tracker_store.py`` check it).

Applied when Rasa loads our tracker store (``endpoints.yml``), before the model.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Optional, Set, Text

from jsonschema import ValidationError
from jsonschema.validators import validator_for
import functools
import json

from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import PREVIOUS_ACTION, SHOULD_NOT_BE_SET
from rasa.shared.nlu.constants import ACTION_NAME
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.constants import DOCS_BASE_URL

UNUSED_SPACY_PIPES = ("ner",)
_load_spacy = SpacyNLP.load_model


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    try:
        _validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid. For more information about "
            f"the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def _load_spacy_without_unused_pipes(spacy_model_name: Text) -> SpacyModel:
    loaded = _load_spacy(spacy_model_name)
    for pipe in UNUSED_SPACY_PIPES:
        if pipe in loaded.model.pipe_names:
            loaded.model.disable_pipe(pipe)
    return loaded


ORIGINAL_GET_POSSIBLE_KEYS = RulePolicy._get_possible_keys  # Rasa's own, kept for the tests


@functools.lru_cache(maxsize=None)
def _rule_key_to_state(rule_key: Text) -> Any:
    return json.loads(rule_key)


_BY_LAST_ACTION: Dict[int, Any] = {}  # id(lookup) -> (lookup, {previous action name or None: keys})


def _last_action(key: Text) -> Optional[Text]:
    """The previous action a rule's last state requires, when it names one."""
    name = _rule_key_to_state(key)[-1].get(PREVIOUS_ACTION, {}).get(ACTION_NAME)
    return name if isinstance(name, str) and name != SHOULD_NOT_BE_SET else None


def _candidates(lookup: Dict[Text, Text], state: Any) -> Set[Text]:
    """The keys whose last state can match ``state``: a rule whose last state names a
    previous action other than the conversation's fails Rasa's _does_rule_match_state."""
    entry = _BY_LAST_ACTION.get(id(lookup))
    if entry is None or entry[0] is not lookup:
        index: Dict[Optional[Text], Set[Text]] = {}
        for key in lookup:
            index.setdefault(_last_action(key), set()).add(key)
        entry = _BY_LAST_ACTION[id(lookup)] = (lookup, index)
    index = entry[1]
    current = (state.get(PREVIOUS_ACTION) or {}).get(ACTION_NAME)
    return index.get(None, set()) | (index.get(current, set()) if current else set())


def _get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: Any) -> Any:
    """RulePolicy._get_possible_keys with the same result: the current state is first
    matched against the rules that can fit its previous action (an index), and the walk
    back stops when no remaining rule reaches further (where Rasa's _is_rule_applicable
    is True for every key)."""
    possible_keys = set(lookup.keys())
    for i, state in enumerate(reversed(states)):
        if not possible_keys or i >= max(len(_rule_key_to_state(key)) for key in possible_keys):
            break
        pool = _candidates(lookup, state) if i == 0 else possible_keys
        possible_keys = {key for key in pool if self._is_rule_applicable(key, i, state)}
    return possible_keys


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
    RulePolicy._rule_key_to_state = staticmethod(_rule_key_to_state)  # type: ignore[assignment]
    RulePolicy._get_possible_keys = _get_possible_keys  # type: ignore[assignment]
    SpacyNLP.load_model = staticmethod(_load_spacy_without_unused_pipes)  # type: ignore[assignment]

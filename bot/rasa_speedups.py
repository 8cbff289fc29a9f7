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

Applied when Rasa loads our tracker store (``endpoints.yml``), before the model.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
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


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[assignment]
    SpacyNLP.load_model = staticmethod(_load_spacy_without_unused_pipes)  # type: ignore[assignment]

"""spaCy tokenizer whose lemmas are folded (no accents, elisions expanded).

"équipe", "equipe" and "Équipe" then give the same lemma feature to the
CountVectorsFeaturizer, and "j'" / "j’" both become "je".
"""
from __future__ import annotations

from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.spacy_tokenizer import SpacyTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.text import normalise_token


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class FrenchTokenizer(SpacyTokenizer):
    """SpacyTokenizer + French normalisation of lemmas."""

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        for token in tokens:
            words = normalise_token(token.lemma or token.text)
            if words:
                token.lemma = " ".join(words) if len(words) > 1 else words[0]
        return tokens

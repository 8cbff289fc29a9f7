"""Safety layer: crisis detection, help lines, language guess (plain Python, no Rasa).

- ``normalise``: how young people write (no accents, SMS, slang) -> one form;
- ``detect_crisis``: categories of a crisis message: cue patterns and figurative-idiom
  guards read from ``data/safety/cues.yml`` with a classifier trained on
  ``data/safety/examples/`` (both trainer-editable; ``bot.safety.classifier``);
- ``guess_language``: en / es / ar-latn (arabizi) / fr;
- ``helplines``: ``data/safety/helplines.yml`` and the lines for each category.
"""
from bot.safety.classifier import CrisisCheck, CrisisClassifier, detect_crisis
from bot.safety.detector import CATEGORIES, CrisisDetector, load_detector
from bot.safety.helplines import HelpLine, Helplines, load_helplines
from bot.safety.language import guess_language
from bot.safety.normalise import normalise

__all__ = [
    "CATEGORIES", "CrisisCheck", "CrisisClassifier", "CrisisDetector", "detect_crisis", "load_detector", "HelpLine", "Helplines",
    "load_helplines", "guess_language", "normalise",
]

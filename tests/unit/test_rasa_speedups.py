"""bot.rasa_speedups keeps Rasa's predictions: the rule lookup, patched, finds exactly
the keys Rasa's own code finds, on conversations made of the trained model's rule states."""
from __future__ import annotations

import json
import random
import tarfile
from pathlib import Path

import pytest
from rasa.core.policies.rule_policy import RulePolicy

from bot import rasa_speedups

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "atouts.tar.gz"


def lookup() -> dict:
    with tarfile.open(MODEL) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("rule_policy.json"))
        return json.load(archive.extractfile(member))["lookup"]


@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
def test_the_patched_rule_lookup_finds_the_same_keys() -> None:
    rules = lookup()
    policy = RulePolicy.__new__(RulePolicy)  # _is_rule_applicable needs no trained state
    original = rasa_speedups.ORIGINAL_GET_POSSIBLE_KEYS
    assert original is not rasa_speedups._get_possible_keys
    rng = random.Random(0)
    keys = list(rules["rules"]) + list(rules["rules_for_loop_unhappy_path"])
    assert len(keys) > 1000  # more than Rasa's own cache of 1,000 parsed keys
    checked = 0
    for key in rng.sample(keys, 200):
        states = json.loads(key)
        prefix = json.loads(rng.choice(keys))  # an older part of the conversation
        for conversation in (states, prefix + states, prefix[:1] + states[1:]):
            for table in ("rules", "rules_for_loop_unhappy_path"):
                expected = original(policy, rules[table], conversation)
                assert rasa_speedups._get_possible_keys(policy, rules[table], conversation) == expected
                checked += bool(expected)
    assert checked > 100  # most conversations match some rule: the comparison is not empty

"""`make evaluate`: intent and soft-skill quality of the trained model.

Three yardsticks, from the most to the least independent:
1. tests/heldout/stories.yml — stories written apart from the training data, from
   another brief (never tuned on): the figures the README reports, with 95 %
   bootstrap intervals; fails if any is a near-duplicate of a training story;
2. grouped cross-validation on the training stories (tools.yardstick);
3. tests/nlu — the team's own held-out set (intents; skills for comparison).
Writes results/evaluation.{json,md}. The guard (tests/heldout/quality.yml) fails
the run when the independent figures fall below the floors or below the
accepted previous model by more than the margin.
Skill metrics use the same proposal rule as the bot (bot.skills.propose).
"""
from __future__ import annotations

import argparse
import asyncio
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from bot.config import ROOT

INTENT_TARGET = 0.90
RECALL3_TARGET = 0.75
PRECISION_TARGET = 0.65


def load_examples(paths: Sequence[Path]) -> List[Tuple[str, str, List[str] | None]]:
    """(text, intent, skills or None) for every example of the test files."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for path in paths:
        for message in load_data(str(path)).training_examples:
            meta = (message.get("metadata") or {}).get("example") or {}
            skills = meta.get("skills") if isinstance(meta, dict) else None
            examples.append((message.get("text"), message.get("intent"), skills))
    return examples


def intent_report(gold: List[str], predicted: List[str]) -> Dict[str, Any]:
    labels = sorted(set(gold))
    per: Dict[str, Dict[str, float]] = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}
    macro = {k: sum(v[k] for v in per.values()) / len(per) for k in ("precision", "recall", "f1")}
    accuracy = sum(1 for g, p in zip(gold, predicted) if g == p) / len(gold)
    return {"per_intent": per, "macro": macro, "accuracy": accuracy, "count": len(gold)}


def skill_report(gold: List[List[str]], ranked: List[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """recall@3, precision of the proposed skills, per-skill F1 (tools.yardstick)."""
    from tools.yardstick import story_metrics

    return story_metrics(gold, ranked)


def classifier_intent(parse: Dict[str, Any]) -> str:
    """The intent classifier's best guess; the FallbackClassifier may then have
    replaced it by nlu_fallback (counted separately as the fallback rate)."""
    for item in parse.get("intent_ranking") or []:
        if item.get("name") and item["name"] != "nlu_fallback":
            return item["name"]
    return (parse.get("intent") or {}).get("name") or "None"


async def _parse_all(model: Path, texts: List[str]) -> List[Dict[str, Any]]:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # no message text in the output

    agent = Agent.load(str(model))
    return [await agent.parse_message(t) for t in texts]


def evaluate(model: Path, test_dir: Path) -> Dict[str, Any]:
    examples = load_examples(sorted(test_dir.glob("*.yml")))
    parses = asyncio.run(_parse_all(model, [t for t, _, _ in examples]))
    gold_intents = [i for _, i, _ in examples]
    predicted = [classifier_intent(p) for p in parses]
    fallbacks = sum(1 for p in parses if (p.get("intent") or {}).get("name") == "nlu_fallback")
    stories = [(s, p.get("soft_skills") or []) for (_, _, s), p in zip(examples, parses) if s]
    errors = defaultdict(list)
    for (text, gold, _), pred in zip(examples, predicted):
        if gold != pred:
            errors[gold].append({"text": text, "predicted": pred})
    return {
        "model": str(model),
        "intents": {**intent_report(gold_intents, predicted), "fallback_rate": fallbacks / len(parses)},
        "skills": skill_report([s for s, _ in stories], [r for _, r in stories]),
        "intent_errors": errors,
    }


def table(result: Dict[str, Any]) -> str:
    it, sk = result["intents"], result["skills"]
    ok = lambda v, t: "✅" if v >= t else "❌"  # noqa: E731
    lines = ["| intent | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for name, m in sorted(it["per_intent"].items()):
        lines.append(f"| {name} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |")
    lines.append(f"| **macro** | {it['macro']['precision']:.2f} | {it['macro']['recall']:.2f} | "
                 f"**{it['macro']['f1']:.3f}** {ok(it['macro']['f1'], INTENT_TARGET)} | {it['count']} |")
    lines += ["", "| skill | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for name, m in sk["per_skill"].items():
        lines.append(f"| {name} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['support']} |")
    lines += [
        "",
        f"- skill recall@3: **{sk['recall_at_3']:.3f}** (target ≥ {RECALL3_TARGET}) {ok(sk['recall_at_3'], RECALL3_TARGET)}",
        f"- precision of proposed skills: **{sk['proposal_precision']:.3f}** (target ≥ {PRECISION_TARGET}) "
        f"{ok(sk['proposal_precision'], PRECISION_TARGET)}",
        f"- skills proposed per story: {sk['proposals_per_story']:.2f} on {sk['count']} held-out stories",
        f"- intent macro-F1: **{it['macro']['f1']:.3f}** (target ≥ {INTENT_TARGET}), accuracy {it['accuracy']:.3f}",
        f"- messages answered by the fallback (« tu peux reformuler ? ») instead: {it['fallback_rate']:.1%}",
    ]
    return "\n".join(lines)


GUARD = ROOT / "tests" / "heldout" / "quality.yml"
GUARDED = ("recall_at_3", "proposal_precision", "min_skill_f1")


def independent(model: Path, cv: bool = True) -> Dict[str, Any]:
    """The independent story set through the trained model (+ grouped CV)."""
    from tools import yardstick

    test = yardstick.heldout_stories()
    train, negatives = yardstick.training_stories()
    duplicates = yardstick.near_duplicates(test, train)
    parses = asyncio.run(_parse_all(model, [s.text for s in test]))
    gold = [s.skills for s in test]
    ranked = [p.get("soft_skills") or [] for p in parses]
    result: Dict[str, Any] = {
        "stories": yardstick.story_metrics(gold, ranked),
        "intervals": yardstick.bootstrap(gold, ranked),
        "read_as_story": sum(1 for p in parses if classifier_intent(p) == "tell_experience") / len(parses),
        "near_duplicates": duplicates,
        "max_similarity": yardstick.max_similarity(test, train),
    }
    if cv:
        result["grouped_cv"] = yardstick.grouped_cv(train, negatives, yardstick.detector_fit_predict)
    return result


def guard(result: Dict[str, Any], path: Path = GUARD) -> List[str]:
    """Problems that fail `make evaluate` (empty list: pass)."""
    import yaml

    rules = yaml.safe_load(path.read_text(encoding="utf-8"))
    stories = result["stories"]
    problems = []
    if result["near_duplicates"]:
        problems.append(f"{len(result['near_duplicates'])} held-out stories are near-duplicates of training "
                        f"stories (e.g. « {result['near_duplicates'][0]['test'][:60]}… »)")
    for key in GUARDED:
        value = stories[key]
        floor = rules["floors"].get(key)
        previous = (rules.get("accepted") or {}).get(key)
        if floor is not None and value < floor:
            problems.append(f"{key} = {value:.3f} is below the floor {floor}")
        if previous is not None and value < previous - rules["margin"]:
            problems.append(f"{key} = {value:.3f} fell more than {rules['margin']} below the accepted "
                            f"model ({previous})")
    ceiling = rules["floors"].get("no_proposal_max")
    if ceiling is not None and stories["no_proposal"] > ceiling:
        problems.append(f"no_proposal = {stories['no_proposal']:.3f} is above {ceiling}")
    return problems


def independent_table(result: Dict[str, Any]) -> str:
    m, ci = result["stories"], result["intervals"]
    lines = [
        f"Independent stories (tests/heldout/stories.yml, {m['count']}; max similarity to a training "
        f"story {result['max_similarity']:.2f}, near-duplicates {len(result['near_duplicates'])}):",
        "",
        "| measure | value | 95 % interval |",
        "|---|---|---|",
    ]
    for key in ("recall_at_3", "proposal_precision", "no_proposal", "no_correct_proposal"):
        lines.append(f"| {key} | **{m[key]:.3f}** | {ci[key][0]:.3f}–{ci[key][1]:.3f} |")
    lines += [f"| proposals per story | {m['proposals_per_story']:.2f} | |",
              f"| read as a story (intent) | {result['read_as_story']:.3f} | |", "",
              "| skill | precision | recall | F1 | n |", "|---|---|---|---|---|"]
    for name, s in sorted(m["per_skill"].items(), key=lambda kv: kv[1]["f1"]):
        lines.append(f"| {name} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} | {s['support']} |")
    cv = result.get("grouped_cv")
    if cv:
        lines += ["", f"Grouped {cv['folds']}-fold cross-validation on {cv['count']} training stories "
                      f"({cv['groups']} groups): recall@3 {cv['recall_at_3']:.3f}, precision "
                      f"{cv['proposal_precision']:.3f}, no proposal {cv['no_proposal']:.3f}, "
                      f"weakest skill F1 {cv['min_skill_f1']:.2f}"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(ROOT / "models" / "atouts.tar.gz"))
    parser.add_argument("--tests", default=str(ROOT / "tests" / "nlu"))
    parser.add_argument("--out", default=str(ROOT / "results"))
    parser.add_argument("--no-cv", action="store_true", help="skip the grouped cross-validation")
    parser.add_argument("--no-guard", action="store_true", help="report only, never fail")
    args = parser.parse_args()
    result = evaluate(Path(args.model), Path(args.tests))
    result["independent"] = independent(Path(args.model), cv=not args.no_cv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    text = independent_table(result["independent"]) + "\n\nTeam-written held-out set (tests/nlu):\n\n" + table(result)
    (out / "evaluation.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    problems = [] if args.no_guard else guard(result["independent"])
    for problem in problems:
        print(f"QUALITY GUARD: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

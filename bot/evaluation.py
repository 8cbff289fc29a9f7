"""`make evaluate`: intent and soft-skill quality of the trained model on the
held-out test files under tests/nlu (never used for training).

Writes results/evaluation.json and results/evaluation.md and prints the table.
Skill metrics use the same proposal rule as the bot (bot.skills.propose).
"""
from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

from bot.config import ROOT
from bot.skills.proposal import aggregate, propose

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
    recalls, proposed_total, proposed_right = [], 0, 0
    tp, fp, fn = Counter(), Counter(), Counter()
    for skills, soft_skills in zip(gold, ranked):
        top3 = {s["id"] for s in soft_skills[:3]}
        recalls.append(len(top3 & set(skills)) / len(skills))
        chosen = {p.skill_id for p in propose(aggregate([soft_skills]))}
        proposed_total += len(chosen)
        proposed_right += len(chosen & set(skills))
        for s in chosen & set(skills):
            tp[s] += 1
        for s in chosen - set(skills):
            fp[s] += 1
        for s in set(skills) - chosen:
            fn[s] += 1
    per_skill = {}
    for s in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[s] / (tp[s] + fp[s]) if tp[s] + fp[s] else 0.0
        r = tp[s] / (tp[s] + fn[s]) if tp[s] + fn[s] else 0.0
        per_skill[s] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                        "support": tp[s] + fn[s]}
    return {
        "recall_at_3": sum(recalls) / len(recalls),
        "proposal_precision": proposed_right / proposed_total if proposed_total else 0.0,
        "proposals_per_story": proposed_total / len(gold),
        "per_skill": per_skill,
        "count": len(gold),
    }


def classifier_intent(parse: Dict[str, Any]) -> str:
    """The intent classifier's best guess; the FallbackClassifier may then have
    replaced it by nlu_fallback (counted separately as the fallback rate)."""
    for item in parse.get("intent_ranking") or []:
        if item.get("name") and item["name"] != "nlu_fallback":
            return item["name"]
    return (parse.get("intent") or {}).get("name") or "None"


async def _parse_all(model: Path, texts: List[str]) -> List[Dict[str, Any]]:
    from rasa.core.agent import Agent

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=str(ROOT / "models" / "atouts.tar.gz"))
    parser.add_argument("--tests", default=str(ROOT / "tests" / "nlu"))
    parser.add_argument("--out", default=str(ROOT / "results"))
    args = parser.parse_args()
    result = evaluate(Path(args.model), Path(args.tests))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    text = table(result)
    (out / "evaluation.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""An honest yardstick for skill detection (`make evaluate` calls it).

- ``near_duplicates``: every held-out story against every training story
  (TF-IDF cosine on folded words and character 4-grams). A test story that is a
  light rewrite of a training one makes the held-out figure worthless: fail.
- ``grouped_cv``: k-fold cross-validation of the detector on the training
  stories where near-identical stories stay in one fold (groups by cosine
  similarity), so a fold is never tested on a paraphrase of what it learnt.
  This is the figure to tune on; the independent set is only measured.
- ``bootstrap``: 95 % confidence intervals of the story-level metrics.

Plain Python + spaCy + scikit-learn; no Rasa server needed.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
import yaml
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from bot.nlu.text import fold
from bot.skills.proposal import aggregate, propose

ROOT = Path(__file__).resolve().parent.parent
NEAR_DUPLICATE = 0.80   # cosine above which a test story counts as a rewrite of a training one
SAME_GROUP = 0.55       # cosine above which two training stories stay in one CV fold


@dataclass(frozen=True)
class Story:
    text: str
    skills: Tuple[str, ...]


def training_stories(nlu_dir: Path = ROOT / "data" / "nlu") -> Tuple[List[Story], List[str]]:
    """Labelled ``tell_experience`` stories, and every other NLU example (negatives)."""
    stories: List[Story] = []
    negatives: List[str] = []
    for path in sorted(nlu_dir.rglob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            intent = block.get("intent")
            examples = block.get("examples")
            if not intent or examples is None:
                continue
            if isinstance(examples, str):
                items = [{"text": line[2:].strip()} for line in examples.splitlines() if line.startswith("- ")]
            else:
                items = examples
            for item in items:
                text = str(item.get("text", "")).strip()
                skills = (item.get("metadata") or {}).get("skills")
                if intent == "tell_experience" and skills:
                    stories.append(Story(text, tuple(skills)))
                elif intent != "tell_experience":
                    negatives.append(_strip_annotations(text))
    return stories, negatives


def _strip_annotations(text: str) -> str:
    """'moi c'est [Inès](first_name)' -> "moi c'est Inès"."""
    import re

    return re.sub(r"\[([^\]]+)\]\([^)]*\)|\[([^\]]+)\]\{[^}]*\}", lambda m: m.group(1) or m.group(2), text)


def heldout_stories(path: Path = ROOT / "tests" / "heldout" / "stories.yml") -> List[Story]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Story(m["text"], tuple(m["skills"])) for m in data["messages"]]


def _similarity(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    words = TfidfVectorizer(preprocessor=fold, ngram_range=(1, 2), sublinear_tf=True)
    chars = TfidfVectorizer(preprocessor=fold, analyzer="char_wb", ngram_range=(4, 4), sublinear_tf=True)
    words.fit(list(a) + list(b))
    chars.fit(list(a) + list(b))
    return (cosine_similarity(words.transform(a), words.transform(b))
            + cosine_similarity(chars.transform(a), chars.transform(b))) / 2


def near_duplicates(test: Sequence[Story], train: Sequence[Story],
                    threshold: float = NEAR_DUPLICATE) -> List[Dict[str, Any]]:
    sim = _similarity([s.text for s in test], [s.text for s in train])
    pairs = []
    for i, j in zip(*np.nonzero(sim >= threshold)):
        pairs.append({"test": test[i].text, "train": train[j].text, "similarity": round(float(sim[i, j]), 3)})
    return sorted(pairs, key=lambda p: -p["similarity"])


def max_similarity(test: Sequence[Story], train: Sequence[Story]) -> float:
    return float(_similarity([s.text for s in test], [s.text for s in train]).max())


def groups(stories: Sequence[Story], threshold: float = SAME_GROUP) -> List[int]:
    """Union-find over pairs of stories more similar than ``threshold``."""
    sim = _similarity([s.text for s in stories], [s.text for s in stories])
    parent = list(range(len(stories)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(sim, 1) >= threshold)):
        parent[find(int(i))] = find(int(j))
    return [find(i) for i in range(len(stories))]


def story_metrics(gold: Sequence[Sequence[str]], ranked: Sequence[Sequence[Dict[str, Any]]]) -> Dict[str, Any]:
    """recall@3, precision of the proposed skills (the bot's own rule), per-skill F1,
    share of stories with no proposal and with no correct proposal."""
    recalls, proposed, right = [], 0, 0
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    none = wrong = 0
    for skills, scores in zip(gold, ranked):
        top3 = {s["id"] for s in list(scores)[:3]}
        recalls.append(len(top3 & set(skills)) / len(skills))
        chosen = {p.skill_id for p in propose(aggregate([scores]))}
        proposed += len(chosen)
        right += len(chosen & set(skills))
        none += not chosen
        wrong += not (chosen & set(skills))
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
    n = max(len(gold), 1)
    return {
        "recall_at_3": sum(recalls) / n,
        "proposal_precision": right / proposed if proposed else 0.0,
        "proposals_per_story": proposed / n,
        "no_proposal": none / n,
        "no_correct_proposal": wrong / n,
        "min_skill_f1": min((m["f1"] for m in per_skill.values()), default=0.0),
        "per_skill": per_skill,
        "count": len(gold),
    }


def bootstrap(gold: Sequence[Sequence[str]], ranked: Sequence[Sequence[Dict[str, Any]]],
              rounds: int = 500, seed: int = 13) -> Dict[str, Tuple[float, float]]:
    """95 % percentile intervals of the headline metrics (stories resampled)."""
    rng = random.Random(seed)
    keys = ("recall_at_3", "proposal_precision", "no_proposal", "no_correct_proposal")
    samples: Dict[str, List[float]] = {k: [] for k in keys}
    n = len(gold)
    for _ in range(rounds):
        idx = [rng.randrange(n) for _ in range(n)]
        m = story_metrics([gold[i] for i in idx], [ranked[i] for i in idx])
        for k in keys:
            samples[k].append(m[k])
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in samples.items()}


def grouped_cv(stories: Sequence[Story], negatives: Sequence[str],
               fit_predict: Callable[[List[Story], List[str], List[str]], List[List[Dict[str, Any]]]],
               folds: int = 5, seed: int = 42) -> Dict[str, Any]:
    """Cross-validated story metrics; ``fit_predict(train, negatives, test_texts)``
    trains a detector and returns the ranked scores of the test texts."""
    gold, ranked, distinct = cv_predictions(stories, negatives, fit_predict, folds, seed)
    result = story_metrics(gold, ranked)
    result["groups"] = distinct
    result["folds"] = folds
    return result


def cv_predictions(stories: Sequence[Story], negatives: Sequence[str],
                   fit_predict: Callable[[List[Story], List[str], List[str]], List[List[Dict[str, Any]]]],
                   folds: int = 5, seed: int = 42) -> Tuple[List[Sequence[str]], List[List[Dict[str, Any]]], int]:
    """(gold labels, ranked scores, number of groups) of a grouped k-fold run."""
    group_of = groups(stories)
    distinct = sorted(set(group_of))
    random.Random(seed).shuffle(distinct)
    fold_of_group = {g: i % folds for i, g in enumerate(distinct)}
    gold: List[Sequence[str]] = []
    ranked: List[List[Dict[str, Any]]] = []
    for k in range(folds):
        train = [s for s, g in zip(stories, group_of) if fold_of_group[g] != k]
        test = [s for s, g in zip(stories, group_of) if fold_of_group[g] == k]
        if not test:
            continue
        ranked.extend(fit_predict(train, list(negatives), [s.text for s in test]))
        gold.extend(s.skills for s in test)
    return gold, ranked, len(distinct)


def sweep_proposal_rule(gold: Sequence[Sequence[str]], ranked: Sequence[Sequence[Dict[str, Any]]]
                        ) -> List[Dict[str, Any]]:
    """The proposal rule's settings (bot.skills.proposal) on cross-validated scores: what
    each gives — to choose them on the training stories, never on a held-out set."""
    rows = []
    for threshold in (0.4, 0.5, 0.6, 0.7):
        for fill in (0.2, 0.3, 0.4, 0.5):
            if fill > threshold:
                continue
            for min_count in (1, 2):
                for max_count in (2, 3, 4):
                    proposed = right = none = hit = 0
                    for skills, scores in zip(gold, ranked):
                        chosen = {p.skill_id for p in propose(aggregate([scores]), threshold, fill, min_count,
                                                              max_count)}
                        proposed += len(chosen)
                        right += len(chosen & set(skills))
                        none += not chosen
                        hit += bool(chosen & set(skills))
                    n = max(len(gold), 1)
                    rows.append({"threshold": threshold, "fill": fill, "min": min_count, "max": max_count,
                                 "precision": right / proposed if proposed else 0.0,
                                 "recall": right / max(sum(len(g) for g in gold), 1),
                                 "no_proposal": none / n, "at_least_one_correct": hit / n,
                                 "per_story": proposed / n})
    return rows


# -- the detector as trained by `rasa train`, without Rasa ---------------------------
def _config() -> Dict[str, Any]:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"].endswith("SoftSkillClassifier"):
            return component
    raise LookupError("no SoftSkillClassifier in config.yml")


_NLP: Any = None


def nlp() -> Any:
    """fr_core_news_md as Rasa's SpacyNLP runs it (lower-cased text, no NER)."""
    global _NLP
    if _NLP is None:
        import spacy

        _NLP = spacy.load("fr_core_news_md", disable=["ner"])
    return _NLP


def docs(texts: Sequence[str]) -> List[Any]:
    return list(nlp().pipe([t.lower() for t in texts], batch_size=64))


def detector_fit_predict(train: List[Story], negatives: List[str], test: List[str]) -> List[List[Dict[str, Any]]]:
    from bot.skills.detector import SkillDetector

    from bot.skills.knowledge import CueMatcher, load_cues

    config = _config()
    ids = sorted({s for story in train for s in story.skills})
    cues = None
    if config.get("cues"):
        cues = CueMatcher(ids, load_cues(ROOT / config["cues"]))
    detector = SkillDetector(c=config.get("c", 8.0), random_seed=config.get("random_seed", 42),
                             cues=cues, cue_weight=float(config.get("cue_weight", 1.0)))
    detector.fit(docs([s.text for s in train] + list(negatives)),
                 [list(s.skills) for s in train] + [[] for _ in negatives], ids)
    threshold = float(config.get("threshold", 0.3))
    return [[s.as_dict() for s in detector.score(d) if s.confidence >= threshold] for d in docs(test)]


def main() -> int:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--heldout", action="store_true", help="also train on all and score the held-out set")
    parser.add_argument("--sweep", action="store_true",
                        help="the proposal rule's settings on the cross-validated scores (to choose them)")
    args = parser.parse_args()
    stories, negatives = training_stories()
    test = heldout_stories()
    dups = near_duplicates(test, stories)
    print(f"{len(stories)} training stories, {len(negatives)} negatives, {len(test)} held-out stories; "
          f"near-duplicates: {len(dups)} (max similarity {max_similarity(test, stories):.2f})")
    if args.sweep:
        gold, ranked, _ = cv_predictions(stories, negatives, detector_fit_predict, folds=args.folds)
        print("| propose ≥ | fill ≥ | min | max | precision | recall | no proposal | ≥ 1 correct | per story |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in sweep_proposal_rule(gold, ranked):
            print(f"| {r['threshold']} | {r['fill']} | {r['min']} | {r['max']} | {r['precision']:.3f} | "
                  f"{r['recall']:.3f} | {r['no_proposal']:.3f} | {r['at_least_one_correct']:.3f} | "
                  f"{r['per_story']:.2f} |")
        return 0
    cv = grouped_cv(stories, negatives, detector_fit_predict, folds=args.folds)
    print("grouped CV:", json.dumps({k: v for k, v in cv.items() if k != "per_skill"}, indent=1))
    print({k: round(v["f1"], 2) for k, v in sorted(cv["per_skill"].items(), key=lambda kv: kv[1]["f1"])})
    if args.heldout:
        ranked = detector_fit_predict(stories, negatives, [s.text for s in test])
        m = story_metrics([s.skills for s in test], ranked)
        print("held-out:", json.dumps({k: v for k, v in m.items() if k != "per_skill"}, indent=1))
        print({k: round(v["f1"], 2) for k, v in sorted(m["per_skill"].items(), key=lambda kv: kv[1]["f1"])})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

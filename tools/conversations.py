"""Skill detection through the real conversation (`make evaluate` calls it).

The independent stories of ``tools.yardstick`` are single messages parsed by the model.
A young person does not stop there: the story form asks what they did, what was hard,
how it ended, and the bot proposes the skills of the whole story. This yardstick plays
``tests/heldout/conversations.yml`` (conversations written apart from the training data,
never copied into ``data/``) over HTTP against the launcher's stack — REST channel,
trained model, action server, app database — answering each question the form asks with
the person's scripted answer, and reads what the bot proposed from the tracker:

- stories where at least one proposed skill is expected (issue 11: ≥ 95 %);
- stories that end with no proposal at all (the bot falls back to « choisis ») (≤ 3 %);
- precision of the proposed skills, recall of the expected ones, skills proposed per story;
- per skill: how often it is proposed when expected.

Run: ``python -m tools.conversations [--rasa-url URL]`` (without a URL it starts its own
stack on free ports).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from bot.safety.evaluate import Rasa

ROOT = Path(__file__).resolve().parent.parent
CONVERSATIONS = ROOT / "tests" / "heldout" / "conversations.yml"
PARTS = ("action", "difficulty", "result")
ASKED_PART = {"experience_action": "action", "experience_difficulty": "difficulty",
              "experience_result": "result", "experience_probe": None}
NOTHING_MORE = "c'est tout"
MAX_TURNS = 6


@dataclass(frozen=True)
class Conversation:
    id: str
    skills: Tuple[str, ...]
    opening: str
    answers: Dict[str, str]


@dataclass
class Played:
    conversation: Conversation
    proposed: List[str] = field(default_factory=list)
    picked: bool = False          # nothing clear: the bot showed the « choisis » picker
    turns: int = 0
    error: str = ""

    @property
    def correct(self) -> List[str]:
        return [s for s in self.proposed if s in self.conversation.skills]


def joined(conversation: Conversation) -> str:
    return " ".join([conversation.opening] + [conversation.answers[p] for p in PARTS if conversation.answers.get(p)])


def rewrites_of_training(conversations: Sequence[Conversation]) -> List[Dict[str, Any]]:
    """Held-out conversations (whole or one message) that are light rewrites of a training
    story (tools.yardstick.near_duplicates): any makes the figure worthless."""
    from tools.yardstick import Story, near_duplicates, training_stories

    train, _ = training_stories()
    texts = [Story(joined(c), c.skills) for c in conversations]
    texts += [Story(t, c.skills) for c in conversations for t in [c.opening, *c.answers.values()] if len(t) > 40]
    return near_duplicates(texts, train)


def guard(report: Dict[str, Any], path: Path = ROOT / "tests" / "heldout" / "quality.yml") -> List[str]:
    """Problems that fail `make evaluate` (tests/heldout/quality.yml, ``conversations``)."""
    rules = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("conversations") or {}
    problems = []
    if report.get("near_duplicates"):
        problems.append(f"{len(report['near_duplicates'])} held-out conversation texts are near-duplicates of "
                        "training stories")
    if report["errors"]:
        problems.append(f"{report['errors']} conversations failed over HTTP")
    floor = rules.get("at_least_one_correct_min")
    if floor is not None and report["at_least_one_correct"] < floor:
        problems.append(f"at_least_one_correct = {report['at_least_one_correct']:.3f} is below the floor {floor}")
    ceiling = rules.get("no_proposal_max")
    if ceiling is not None and report["no_proposal"] > ceiling:
        problems.append(f"no_proposal = {report['no_proposal']:.3f} is above {ceiling}")
    floor = rules.get("precision_min")
    if floor is not None and report["precision"] < floor:
        problems.append(f"precision = {report['precision']:.3f} is below the floor {floor}")
    return problems


def load(path: Path = CONVERSATIONS) -> List[Conversation]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Conversation(str(c["id"]), tuple(c["skills"]), str(c["opening"]),
                         {p: str(c.get(p) or "") for p in PARTS})
            for c in data["conversations"]]


def proposals_in(events: Sequence[Dict[str, Any]]) -> Tuple[List[str], bool]:
    """What the bot proposed for the story: the first non-empty ``pending_skills`` (all the
    proposals, set by ``action_propose_skills`` before the first card), or the picker."""
    for event in events:
        if event.get("event") != "slot":
            continue
        if event.get("name") == "pending_skills" and event.get("value"):
            return [p.get("skill_id") or p.get("id") for p in event["value"]], False
        if event.get("name") == "no_skill_step" and event.get("value") == "pick":
            return [], True
    return [], False


def next_answer(conversation: Conversation, asked: Optional[str], used: List[str]) -> Tuple[Optional[str], str]:
    """The scripted answer to the question the form asks (``requested_slot``); for the
    targeted question or one already answered, the next part not said yet."""
    part = ASKED_PART.get(asked or "")
    if part is None or part in used:
        part = next((p for p in PARTS if p not in used and conversation.answers.get(p)), None)
    if part is None:
        return None, NOTHING_MORE
    return part, conversation.answers[part] or NOTHING_MORE


def play(rasa: Rasa, conversation: Conversation) -> Played:
    sender = f"yardstick-{conversation.id}-{uuid.uuid4().hex[:8]}"
    played = Played(conversation)
    try:
        for text in ("salut", "/affirm", "Sam"):  # privacy notice: yes; first name
            rasa.say(sender, text)
        rasa.say(sender, conversation.opening)
        used: List[str] = []
        for _ in range(MAX_TURNS):
            tracker = rasa.tracker(sender)
            played.proposed, played.picked = proposals_in(tracker.get("events") or [])
            if played.proposed or played.picked:
                break
            if (tracker.get("active_loop") or {}).get("name") != "experience_form":
                break
            part, text = next_answer(conversation, (tracker.get("slots") or {}).get("requested_slot"), used)
            if part:
                used.append(part)
            rasa.say(sender, text)
            played.turns += 1
        else:
            played.proposed, played.picked = proposals_in(rasa.tracker(sender).get("events") or [])
    except Exception as exc:  # reported, counted as a failure: never silently dropped
        played.error = f"{type(exc).__name__}: {exc}"
    return played


def wilson(successes: int, total: int, z: float = 1.96) -> Tuple[float, float]:
    if total == 0:
        return 0.0, 0.0
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def metrics(results: Sequence[Played]) -> Dict[str, Any]:
    n = len(results)
    hit = sum(1 for r in results if r.correct)
    none = sum(1 for r in results if not r.proposed)
    proposed = sum(len(r.proposed) for r in results)
    correct = sum(len(r.correct) for r in results)
    expected = sum(len(r.conversation.skills) for r in results)
    per_skill: Dict[str, Dict[str, int]] = {}
    for r in results:
        for skill in r.conversation.skills:
            row = per_skill.setdefault(skill, {"expected": 0, "found": 0, "proposed": 0})
            row["expected"] += 1
            row["found"] += skill in r.proposed
        for skill in r.proposed:
            per_skill.setdefault(skill, {"expected": 0, "found": 0, "proposed": 0})["proposed"] += 1
    return {
        "count": n,
        "at_least_one_correct": hit / n if n else 0.0,
        "at_least_one_correct_ci": wilson(hit, n),
        "no_proposal": none / n if n else 0.0,
        "no_proposal_ci": wilson(none, n),
        "precision": correct / proposed if proposed else 0.0,
        "recall": correct / expected if expected else 0.0,
        "proposed_per_story": proposed / n if n else 0.0,
        "follow_up_answers_per_story": sum(r.turns for r in results) / n if n else 0.0,
        "errors": sum(1 for r in results if r.error),
        "per_skill": {
            skill: {**row,
                    "recall": row["found"] / row["expected"] if row["expected"] else 0.0,
                    "precision": row["found"] / row["proposed"] if row["proposed"] else 0.0}
            for skill, row in sorted(per_skill.items())
        },
    }


def markdown(m: Dict[str, Any]) -> str:
    lo, hi = m["at_least_one_correct_ci"]
    nlo, nhi = m["no_proposal_ci"]
    lines = [
        f"Conversations over HTTP (tests/heldout/conversations.yml, {m['count']}; "
        f"{m['follow_up_answers_per_story']:.1f} follow-up answers per story, {m['errors']} errors):",
        "",
        "| measure | value | target |",
        "| --- | --- | --- |",
        f"| stories with at least one correct skill proposed | **{m['at_least_one_correct']:.1%}** "
        f"({lo:.1%}–{hi:.1%}) | ≥ 95 % |",
        f"| stories with no proposal | **{m['no_proposal']:.1%}** ({nlo:.1%}–{nhi:.1%}) | ≤ 3 % |",
        f"| precision of proposed skills | **{m['precision']:.3f}** | ≥ 0.75 |",
        f"| recall of expected skills | {m['recall']:.3f} | — |",
        f"| skills proposed per story | {m['proposed_per_story']:.2f} | — |",
        "",
        "| skill | expected | found | proposed | recall | precision |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for skill, row in m["per_skill"].items():
        lines.append(f"| {skill} | {row['expected']} | {row['found']} | {row['proposed']} | "
                     f"{row['recall']:.2f} | {row['precision']:.2f} |")
    return "\n".join(lines) + "\n"


def evaluate(rasa: Rasa, conversations: Sequence[Conversation], workers: int = 3) -> Tuple[Dict[str, Any], List[Played]]:
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda c: play(rasa, c), conversations))
    return metrics(results), results


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.conversations", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "atouts.tar.gz"))
    parser.add_argument("--out", default=str(ROOT / "results"))
    parser.add_argument("--rasa-url", default="", help="use a running Rasa server instead of starting the stack")
    parser.add_argument("--set", default=str(CONVERSATIONS))
    parser.add_argument("--no-guard", action="store_true", help="report only, never fail")
    args = parser.parse_args(argv)
    conversations = load(Path(args.set))
    duplicates = rewrites_of_training(conversations)

    stack = None
    if args.rasa_url:
        rasa = Rasa(args.rasa_url, os.environ.get("ATOUTS_RASA_TOKEN", ""))
    else:
        from bot.launcher import throwaway_stack

        stack = throwaway_stack(Path(args.model), "atouts-conversations-")
        rasa = Rasa(f"http://127.0.0.1:{stack.config.rasa_port}", stack.rasa_token)
    try:
        report, results = evaluate(rasa, conversations)
    finally:
        if stack is not None:
            stack.stop()
    report["near_duplicates"] = duplicates
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # the per-conversation outcomes stay in results/ (git-ignored): the set is not read
    detail = [{"id": r.conversation.id, "expected": list(r.conversation.skills), "proposed": r.proposed,
               "picked": r.picked, "turns": r.turns, "error": r.error} for r in results]
    (out / "conversations.json").write_text(json.dumps({"metrics": report, "conversations": detail},
                                                       ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "conversations.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    problems = guard(report)
    for problem in problems:
        print(f"QUALITY GUARD: {problem}", file=sys.stderr)
    return 1 if problems and not args.no_guard else 0


if __name__ == "__main__":
    sys.exit(main())

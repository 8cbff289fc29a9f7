"""`make review`: what young people confirmed, turned down or corrected, as candidate
training stories a trainer accepts, edits or rejects (issue 11).

Nothing enters the training data without a trainer's decision:

1. ``python -m bot.review export`` (``make review``) writes ``review/candidates.yml``
   (git-ignored): the stories of the people who said yes to « tes récits peuvent aider
   Atouts à mieux repérer les compétences des autres ? », each with the skills they
   confirmed as ``skills`` (the suggested labels), those they turned down, and
   ``decision: todo``. No sender id, no row id: a keyed reference (HMAC of the experience
   with the server's key), the person's first name, e-mail addresses, phone numbers and
   links masked. Stories already decided are not proposed again.
2. The trainer reads each one, fixes ``skills`` if needed (the 14 référentiel ids) and
   sets ``decision`` to ``accept`` or ``reject``; ``todo`` stays for later. Other names
   of people in a story are the trainer's to mask (``[prénom]``) before accepting.
3. ``python -m bot.review apply`` (``make review-apply``) appends the accepted ones to
   ``data/nlu/experiences/reviewed.yml`` (with their reference) and the rejected
   references to ``data/review/rejected.yml``; then ``make train``.

Once accepted and committed a story is part of the open training data: the question
the person answers says so, and that a no (or « n'utilise plus mes récits ») before the
review keeps it out.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

import yaml

from bot.config import ROOT
from bot.privacy.keyed_hash import Keyed
from bot.privacy.redaction import redact_text
from bot.referentiel import load_referentiel
from bot.storage import Store, TrainingCandidate

CANDIDATES = ROOT / "review" / "candidates.yml"
REVIEWED = ROOT / "data" / "nlu" / "experiences" / "reviewed.yml"
REJECTED = ROOT / "data" / "review" / "rejected.yml"
DECISIONS = ("todo", "accept", "reject")
NAME_MASK = "[prénom]"
PHONE_MASK = "[numéro masqué]"
URL_MASK = "[lien masqué]"
PHONE = re.compile(r"(?<!\d)(?:\+33\s?|0033\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")
URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
HEADER = """\
# Candidate training stories (bot.review). Generated: do not commit (review/ is git-ignored).
# For each one: check `skills` (ids of data/referentiel/skills), mask any other person's
# name as [prénom], then set `decision: accept` or `decision: reject`; `todo` waits.
# Then: make review-apply && make train
"""


def reference(keyed: Keyed, experience_id: int) -> str:
    return keyed.hash("training-candidate", str(experience_id))[:20]


def mask(text: str, first_name: Optional[str]) -> str:
    """The person's first name, e-mail addresses, phone numbers and links out of a story."""
    text = redact_text(text)
    text = URL.sub(URL_MASK, text)
    text = PHONE.sub(PHONE_MASK, text)
    name = (first_name or "").strip()
    if len(name) >= 2 and name != "-":
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NAME_MASK, text, flags=re.IGNORECASE)
    return " ".join(text.split())


def _load(path: Path) -> Any:
    if not path.exists():
        return None
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def decided_refs(reviewed: Path = REVIEWED, rejected: Path = REJECTED) -> Set[str]:
    refs: Set[str] = set()
    data = _load(reviewed) or {}
    for block in data.get("nlu") or []:
        for item in block.get("examples") or []:
            ref = (item.get("metadata") or {}).get("review")
            if ref:
                refs.add(str(ref))
    refs.update(str(r) for r in (_load(rejected) or {}).get("rejected") or [])
    return refs


def candidates_file(candidates: Iterable[TrainingCandidate], decided: Set[str]) -> Dict[str, Any]:
    items = []
    for c in candidates:
        if c.ref in decided:
            continue
        text = mask(c.text, c.first_name)
        if not text.strip():
            continue
        items.append({"ref": c.ref, "text": text, "skills": list(c.confirmed),
                      "turned_down": list(c.rejected), "decision": "todo"})
    return {"candidates": items}


def export(store: Store, keyed: Keyed, out: Path = CANDIDATES, reviewed: Path = REVIEWED,
           rejected: Path = REJECTED) -> int:
    data = candidates_file(store.training_candidates(lambda exp_id: reference(keyed, exp_id)),
                           decided_refs(reviewed, rejected))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(HEADER + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100),
                   encoding="utf-8")
    return len(data["candidates"])


class ReviewError(ValueError):
    pass


def check(items: Sequence[Dict[str, Any]], skill_ids: Set[str]) -> List[str]:
    """Every problem of the trainer's file, all at once (nothing is applied if any)."""
    problems = []
    for i, item in enumerate(items):
        where = f"candidate {i + 1} ({item.get('ref', '?')})"
        decision = item.get("decision")
        if decision not in DECISIONS:
            problems.append(f"{where}: decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
            continue
        if decision != "accept":
            continue
        skills = item.get("skills")
        if not isinstance(skills, list) or not 1 <= len(skills) <= 3:
            problems.append(f"{where}: an accepted story needs 1 to 3 skills")
        elif set(skills) - skill_ids:
            problems.append(f"{where}: unknown skill(s) {sorted(set(skills) - skill_ids)}")
        if not isinstance(item.get("text"), str) or not item["text"].strip():
            problems.append(f"{where}: empty text")
    return problems


def _append_examples(path: Path, accepted: Sequence[Dict[str, Any]]) -> None:
    data = _load(path) or {"version": "3.1", "nlu": [{"intent": "tell_experience", "examples": []}]}
    examples = data["nlu"][0].setdefault("examples", [])
    for item in accepted:
        examples.append({"text": " ".join(item["text"].split()) + "\n",
                         "metadata": {"skills": list(item["skills"]), "review": item["ref"]}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Stories young people allowed, accepted by a trainer (make review).\n"
                    + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")


def apply(candidates: Path = CANDIDATES, reviewed: Path = REVIEWED, rejected: Path = REJECTED,
          skill_ids: Optional[Set[str]] = None) -> Dict[str, int]:
    items = (_load(candidates) or {}).get("candidates") or []
    ids = skill_ids if skill_ids is not None else set(load_referentiel().ids())
    problems = check(items, ids)
    if problems:
        raise ReviewError("\n".join(problems))
    decided = decided_refs(reviewed, rejected)
    accepted = [i for i in items if i["decision"] == "accept" and i["ref"] not in decided]
    refused = [i["ref"] for i in items if i["decision"] == "reject" and i["ref"] not in decided]
    if accepted:
        _append_examples(reviewed, accepted)
    if refused:
        data = _load(rejected) or {}
        data["rejected"] = list(data.get("rejected") or []) + refused
        rejected.parent.mkdir(parents=True, exist_ok=True)
        rejected.write_text("# Keyed references of candidate stories a trainer rejected (make review).\n"
                            + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    left = [i for i in items if i["decision"] == "todo"]
    candidates.write_text(HEADER + yaml.safe_dump({"candidates": left}, allow_unicode=True, sort_keys=False,
                                                  width=100), encoding="utf-8")
    return {"accepted": len(accepted), "rejected": len(refused), "left": len(left)}


def main(argv: Optional[Sequence[str]] = None) -> int:
    from bot.config import Settings

    parser = argparse.ArgumentParser(prog="python -m bot.review", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("export", "apply"))
    parser.add_argument("--file", default=str(CANDIDATES))
    args = parser.parse_args(argv)
    if args.command == "export":
        settings = Settings.from_env()
        store = Store(settings.db_url)
        store.migrate()
        count = export(store, Keyed(settings.var_dir), Path(args.file))
        print(f"{count} candidate stories in {args.file}: set each decision, then make review-apply")
        return 0
    try:
        counts = apply(Path(args.file))
    except ReviewError as exc:
        print(f"nothing applied:\n{exc}", file=sys.stderr)
        return 1
    print(f"{counts['accepted']} accepted into {REVIEWED.relative_to(ROOT)}, {counts['rejected']} rejected, "
          f"{counts['left']} left to review" + (" — now: make train" if counts["accepted"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

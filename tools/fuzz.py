"""`python -m tools.fuzz` (make fuzz): a seeded, bounded conversation fuzzer on the real stack.

It starts the assistant like the end-to-end tests do (action server, Rasa server on the
trained model, web app; fresh SQLite databases in a temporary folder; REST channel), or
uses a running one (``--url``), and plays N random walks of 8-20 turns, each with its own
sender id. A walk mixes: pressing the buttons the bot just offered, pressing buttons of
EARLIER messages (stale), typed menu requests, one-word answers (emoji, the empty string,
a 5,000-character message), stories in several registers, insults, other languages and
crisis messages (lists in ``tests/fuzz/``). At one or two random points of each walk it
tries the way back to the menu, then goes on.

Checks (each walk; any finding makes the exit code 1):

- ``error_reply``: HTTP status other than 200, no answer (timeout, connection), a body
  that is not a list of messages, or a message showing an internal error: a Python
  exception or error name, a leaked ``action_…``/``utter_…`` name, ``None``/``null``, an
  unfilled ``{placeholder}``, the channels' failure message (« Oups, un souci de mon
  côté »), or Rasa's English default texts (« Did you mean '…'? », « Sorry, I didn't get
  that »).
- ``empty_reply``: a user message (the empty string included) that gets no bot message.
- ``repeated_reply``: the same full reply (every text and button title of the turn,
  whitespace-normalised) three times in one walk. Not counted: replies to a request for a
  fixed screen (typed menu requests, buttons to a menu entry, the way-out probes: asking
  three times for one's skills rightly shows them three times) and replies to crisis
  messages (checked for help lines instead).
- ``no_way_back``: at 1-2 random points of each walk the fuzzer tries to get back to the
  menu, in one of two ways a person would: type « menu », and if the reply is not the
  menu, tap the *Menu* button it offers (else type « menu » again); or type « stop », then
  « menu » if needed. The menu must be reached within those two turns. "The menu" is a
  reply whose buttons lead to at least two main entries (tell, skills, test, resources,
  missions, badges, invite, what is a skill, ``/menu``).
- ``crisis_without_help``: a crisis message whose reply gives no help line (3114,
  0 800 235 236, 3018, 119, 3919, 115, 114, 112, 17, in the text, a button or a tel: link).

Warnings (reported, do not fail): a crisis reply without the lines that fit its category,
a help line given to a message that is not a crisis, errors in the server logs.

Results: ``results/fuzz/fuzz-<seed>.json`` (summary and findings), ``fuzz-<seed>.txt``
(readable report with the worst walks' transcripts), ``fuzz-<seed>.jsonl`` (every walk).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
LISTS = ROOT / "tests" / "fuzz"
OUT = ROOT / "results" / "fuzz"
MODEL = ROOT / "models" / "atouts.tar.gz"

CHECKS = ("error_reply", "empty_reply", "repeated_reply", "no_way_back", "crisis_without_help")
WARNINGS = ("crisis_missing_fitting_line", "crisis_quoted_later", "help_line_on_non_crisis", "server_log_errors")

# --- what a reply offers ------------------------------------------------------------------
# Main entries of the assistant: a reply with buttons to two of them is "the menu".
MENU_INTENTS = frozenset({
    "menu", "want_to_tell", "show_my_skills", "start_assessment", "find_resources", "find_missions",
    "show_my_badges", "invite_referent", "ask_what_are_soft_skills",
})
# Buttons that ask for a fixed screen (their answer may rightly be the same each time).
# A farewell button pressed again gets the same farewell, like « stop »: not a loop.
NAVIGATION_INTENTS = MENU_INTENTS | {"help", "stop", "goodbye", "greet", "export_my_data", "manage_invitations"}

HELP_LINES = {
    "3114": r"3\s?114",
    "0800235236": r"0\s?[ .]?800[\s.]?235[\s.]?236",
    "3018": r"30\s?18",
    "119": r"119",
    "3919": r"39\s?19",
    "115": r"115",
    "114": r"114",
    "112": r"112",
    "17": r"17",
}
_HELP_RE = {k: re.compile(r"(?<![\d])" + v + r"(?![\d])") for k, v in HELP_LINES.items()}

ERROR_PATTERNS: List[Tuple[str, re.Pattern]] = [
    ("python traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("exception or error name", re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b|\bException\b")),
    ("leaked action/response name", re.compile(r"\b(?:action|utter|validate)_[a-z_]{3,}\b")),
    ("None / null shown", re.compile(r"\b(?:None|null|undefined|NaN)\b")),
    ("unfilled placeholder", re.compile(r"\{[a-z_]+\}")),
    ("channel failure message", re.compile(r"Oups, un souci de mon côté", re.I)),
    ("Rasa English default", re.compile(
        r"Did you mean '|Sorry, I didn'?t (?:get|understand)|I'm sorry,? I didn'?t (?:get|understand)"
        r"|could you rephrase", re.I)),
]


def payload_intent(payload: Any) -> Optional[str]:
    """`/choose{"skill":"x"}` -> `choose`; free-text payloads -> None."""
    if not isinstance(payload, str) or not payload.startswith("/"):
        return None
    return re.split(r"[{@\s]", payload[1:], maxsplit=1)[0] or None


def buttons_of(messages: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for m in messages or []:
        for b in m.get("buttons") or []:
            if isinstance(b, dict):
                out.append(b)
    return out


def offers_menu(messages: Sequence[Dict[str, Any]]) -> bool:
    """The reply's buttons lead to at least two main entries of the assistant."""
    entries = {payload_intent(b.get("payload")) for b in buttons_of(messages)}
    return len(entries & MENU_INTENTS) >= 2


def menu_button(messages: Sequence[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A button titled « Menu » (or leading to /menu) in the reply, if any."""
    for b in buttons_of(messages):
        if payload_intent(b.get("payload")) == "menu" or re.search(r"\bmenu\b", str(b.get("title", "")), re.I):
            return b
    return None


def reply_text(messages: Sequence[Dict[str, Any]]) -> str:
    """Everything a person sees: texts, button titles, links, image URLs."""
    parts: List[str] = []
    for m in messages or []:
        if m.get("text"):
            parts.append(str(m["text"]))
        for b in m.get("buttons") or []:
            if isinstance(b, dict):
                parts += [str(b.get(k)) for k in ("title", "payload", "url") if b.get(k)]
        if m.get("image"):
            parts.append(str(m["image"]))
        if m.get("custom"):
            parts.append(json.dumps(m["custom"], ensure_ascii=False))
    return "\n".join(parts)


def help_lines_in(messages: Sequence[Dict[str, Any]]) -> List[str]:
    text = reply_text(messages)
    return [k for k, rx in _HELP_RE.items() if rx.search(text)]


def reply_key(messages: Sequence[Dict[str, Any]]) -> str:
    """The full reply, whitespace-normalised: texts and button titles of the turn."""
    parts = []
    for m in messages or []:
        if m.get("text"):
            parts.append(" ".join(str(m["text"]).split()))
        titles = [str(b.get("title", "")) for b in m.get("buttons") or [] if isinstance(b, dict)]
        if titles:
            parts.append("[" + " | ".join(titles) + "]")
        if m.get("image"):
            parts.append(f"<image {m['image']}>")
    return "\n".join(parts)


def has_content(messages: Any) -> bool:
    return isinstance(messages, list) and any(
        isinstance(m, dict) and (m.get("text") or m.get("buttons") or m.get("image") or m.get("custom")
                                 or m.get("attachment"))
        for m in messages)


# --- transcripts ------------------------------------------------------------------------
@dataclass
class Turn:
    kind: str  # start, button, stale_button, menu_request, one_word, huge, story, insult, english, crisis, probe
    text: str  # what was sent (a payload for buttons)
    messages: List[Dict[str, Any]] = field(default_factory=list)
    status: int = 200  # HTTP status; 0: no answer (timeout, connection error)
    error: str = ""  # transport or body problem
    title: str = ""  # the button's title (buttons)
    crisis: Optional[Dict[str, Any]] = None  # the crisis.yml entry (crisis turns)
    probe: Optional[int] = None  # index of the way-out probe this turn belongs to
    ms: float = 0.0


@dataclass
class Probe:
    strategy: str  # "menu" (« menu », then the Menu button or « menu ») or "stop" (« stop », then « menu »)
    turns: List[int] = field(default_factory=list)  # indexes of its turns in the walk


@dataclass
class Walk:
    index: int
    seed: str
    sender: str
    turns: List[Turn] = field(default_factory=list)
    probes: List[Probe] = field(default_factory=list)


@dataclass
class Finding:
    check: str
    walk: int
    turn: int
    detail: str
    key: str = ""  # what is common to findings of one bug (grouping in the report)


# --- the checks (pure: a transcript in, findings out) --------------------------------------
def check_errors(walk: Walk) -> List[Finding]:
    found = []
    for i, t in enumerate(walk.turns):
        if t.status != 200 or t.error:
            found.append(Finding("error_reply", walk.index, i, f"HTTP {t.status or 'no answer'} {t.error}".strip(),
                                 f"HTTP {t.status or 'no answer'}"))
            continue
        for m in t.messages:
            text = str(m.get("text") or "") + " " + " ".join(str(b.get("title", "")) for b in m.get("buttons") or []
                                                              if isinstance(b, dict))
            for label, rx in ERROR_PATTERNS:
                hit = rx.search(text)
                if hit:
                    found.append(Finding("error_reply", walk.index, i, f"{label}: «{hit.group(0)}»",
                                         f"{label}: «{hit.group(0)}»"))
                    break
    return found


def check_empty(walk: Walk) -> List[Finding]:
    return [Finding("empty_reply", walk.index, i, "no bot message")
            for i, t in enumerate(walk.turns) if t.status == 200 and not t.error and not has_content(t.messages)]


def is_fixed_screen_request(turn: Turn) -> bool:
    if turn.probe is not None or turn.kind == "menu_request":
        return True
    if turn.kind in ("button", "stale_button", "start"):
        return payload_intent(turn.text) in NAVIGATION_INTENTS
    return False


ERASED = "J'ai tout effacé"  # after an erasure the bot remembers nothing: a new conversation


def check_repeats(walk: Walk, limit: int = 3) -> List[Finding]:
    seen: Dict[str, List[int]] = {}
    found = []
    for i, t in enumerate(walk.turns):
        if ERASED in reply_text(t.messages):  # the privacy notice rightly comes again
            found += _repeats(seen, walk, limit)
            seen = {}
            continue
        if t.kind == "crisis" or is_fixed_screen_request(t) or not has_content(t.messages):
            continue
        seen.setdefault(reply_key(t.messages), []).append(i)
    return found + _repeats(seen, walk, limit)


def _repeats(seen: Dict[str, List[int]], walk: Walk, limit: int) -> List[Finding]:
    found = []
    for key, turns in seen.items():
        if len(turns) >= limit:
            first = key.splitlines()[0] if key else ""
            found.append(Finding("repeated_reply", walk.index, turns[limit - 1],
                                 f"{len(turns)}× at turns {turns}: «{first[:120]}»", f"«{first[:120]}»"))
    return found


def check_way_out(walk: Walk) -> List[Finding]:
    found = []
    for p in walk.probes:
        if not p.turns:
            continue
        if not any(offers_menu(walk.turns[i].messages) for i in p.turns[:2]):
            steps = " → ".join(f"«{walk.turns[i].title or walk.turns[i].text}»" for i in p.turns)
            last = walk.turns[p.turns[-1]].messages
            found.append(Finding("no_way_back", walk.index, p.turns[0],
                                 f"{steps} did not reach the menu (strategy {p.strategy})",
                                 f"{p.strategy}: ends on «{short(reply_key(last).splitlines()[0] if last else '', 90)}»"))
    return found


def check_crisis(walk: Walk) -> List[Finding]:
    found = []
    for i, t in enumerate(walk.turns):
        if t.kind == "crisis" and not help_lines_in(t.messages):
            found.append(Finding("crisis_without_help", walk.index, i,
                                 f"{(t.crisis or {}).get('category', '?')}: «{t.text}»",
                                 f"answered «{short(reply_key(t.messages).splitlines()[0] if t.messages else '', 70)}»"))
    return found


def check_walk(walk: Walk) -> List[Finding]:
    return check_errors(walk) + check_empty(walk) + check_repeats(walk) + check_way_out(walk) + check_crisis(walk)


QUOTE = re.compile(r"«\s*([^»]{10,}?)\s*»")


def warnings_of(walk: Walk) -> List[Finding]:
    found = []
    crisis_said: List[str] = []
    quoted: set = set()
    for i, t in enumerate(walk.turns):
        lines = help_lines_in(t.messages)
        if t.kind == "crisis" and lines and t.crisis and t.crisis.get("lines"):
            if not set(lines) & set(t.crisis["lines"]):
                found.append(Finding("crisis_missing_fitting_line", walk.index, i,
                                     f"{t.crisis.get('category')}: gave {lines}, fits {t.crisis['lines']}",
                                     f"{t.crisis.get('category')}: gave {lines}"))
        elif t.kind != "crisis" and lines:
            found.append(Finding("help_line_on_non_crisis", walk.index, i, f"{lines} for «{t.text[:80]}»"))
        # a crisis message must never become a story's evidence: quoted back later
        quotes = [q for m in t.messages for q in QUOTE.findall(str(m.get("text") or ""))]
        for q in quotes:
            if q.lower() not in quoted and any(q.lower() in c for c in crisis_said):
                quoted.add(q.lower())
                found.append(Finding("crisis_quoted_later", walk.index, i, f"quotes «{short(q, 100)}»",
                                     "a crisis message quoted back as a story"))
                break
        if t.kind == "crisis":
            crisis_said.append(t.text.lower())
    return found


# --- message lists ----------------------------------------------------------------------
@dataclass
class Lists:
    menu_requests: List[str]
    one_word: List[str]
    stories: List[str]
    insults: List[str]
    other_languages: List[str]
    crisis: List[Dict[str, Any]]

    @classmethod
    def load(cls, folder: Path = LISTS) -> "Lists":
        msgs = yaml.safe_load((folder / "messages.yml").read_text(encoding="utf-8"))
        crisis = yaml.safe_load((folder / "crisis.yml").read_text(encoding="utf-8"))["crisis"]
        lists = cls(crisis=crisis, **{k: [str(x) for x in msgs[k]] for k in
                                      ("menu_requests", "one_word", "stories", "insults", "other_languages")})
        for name, items in asdict(lists).items():
            if not items:
                raise SystemExit(f"tests/fuzz: the list {name} is empty")
        return lists


def huge_message(rng: random.Random, size: int = 5000) -> str:
    words = ("alors", "en", "fait", "au", "taf", "j'ai", "aidé", "le", "chef", "et", "c'était", "long",
             "mais", "bon", "du", "coup", "on", "a", "fini", "tard", "😅", "genre", "vraiment")
    out: List[str] = []
    while sum(len(w) + 1 for w in out) < size:
        out.append(rng.choice(words))
    return " ".join(out)[:size]


# --- the walker -------------------------------------------------------------------------
WEIGHTS = {  # kinds of user turns after the first one
    "button": 34, "stale_button": 8, "menu_request": 14, "one_word": 13, "huge": 1,
    "story": 13, "insult": 4, "english": 4, "crisis": 6,
}
START_WEIGHTS = {"greet": 40, "story": 15, "menu_request": 12, "one_word": 8, "english": 5, "crisis": 8,
                 "insult": 4, "stale_button": 0, "button": 0, "huge": 0}


class Walker:
    def __init__(self, url: str, lists: Lists, timeout: float = 60.0) -> None:
        self.url, self.lists, self.timeout = url, lists, timeout

    async def say(self, http: Any, walk: Walk, turn: Turn) -> Turn:
        import aiohttp

        start = time.perf_counter()
        try:
            async with http.post(self.url, json={"sender": walk.sender, "message": turn.text}) as resp:
                turn.status = resp.status
                raw = await resp.read()
            if turn.status == 200:
                body = json.loads(raw.decode("utf-8"))
                if isinstance(body, list):
                    turn.messages = [m for m in body if isinstance(m, dict)]
                else:
                    turn.error = f"body is not a list: {raw[:120]!r}"
            else:
                turn.error = raw[:200].decode("utf-8", "replace")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            turn.status, turn.error = 0, type(exc).__name__
        except (ValueError, UnicodeDecodeError) as exc:
            turn.error = f"unreadable body ({type(exc).__name__})"
        turn.ms = (time.perf_counter() - start) * 1000
        walk.turns.append(turn)
        return turn

    def pick(self, rng: random.Random, walk: Walk, weights: Dict[str, int]) -> Turn:
        last = walk.turns[-1].messages if walk.turns else []
        current = buttons_of(last)
        current_payloads = {b.get("payload") for b in current}
        earlier = [b for t in walk.turns[:-1] for b in buttons_of(t.messages)
                   if b.get("payload") and b.get("payload") not in current_payloads]
        w = dict(weights)
        if not current:
            w["button"] = 0
        if not earlier:
            w["stale_button"] = 0
        kind = rng.choices(list(w), weights=list(w.values()))[0]
        L = self.lists
        if kind == "greet":
            return Turn("start", rng.choice(["/greet", "bonjour", "salut", "wesh", "coucou", "yo"]))
        if kind in ("button", "stale_button"):
            b = rng.choice(current if kind == "button" else earlier)
            return Turn(kind, str(b.get("payload") or b.get("title") or ""), title=str(b.get("title", "")))
        if kind == "crisis":
            c = rng.choice(L.crisis)
            return Turn("crisis", str(c["text"]), crisis=c)
        if kind == "huge":
            return Turn("huge", huge_message(rng))
        source = {"menu_request": L.menu_requests, "one_word": L.one_word, "story": L.stories,
                  "insult": L.insults, "english": L.other_languages}[kind]
        return Turn(kind, rng.choice(source))

    async def probe(self, http: Any, rng: random.Random, walk: Walk) -> None:
        """Try the way back to the menu, as a person would, within two turns."""
        p = Probe("menu" if rng.random() < 0.6 else "stop")
        walk.probes.append(p)
        n = len(walk.probes) - 1
        first = await self.say(http, walk, Turn("probe", "menu" if p.strategy == "menu" else "stop", probe=n))
        p.turns.append(len(walk.turns) - 1)
        if offers_menu(first.messages):
            return
        second = Turn("probe", "menu", probe=n)
        if p.strategy == "menu" and (b := menu_button(first.messages)) is not None:
            second.text, second.title = str(b.get("payload") or b.get("title")), str(b.get("title", ""))
        await self.say(http, walk, second)
        p.turns.append(len(walk.turns) - 1)

    async def walk(self, http: Any, index: int, seed: str, min_turns: int = 8, max_turns: int = 20) -> Walk:
        rng = random.Random(f"{seed}:{index}")
        walk = Walk(index, seed, f"fuzz-{seed}-{index}-{uuid.uuid4().hex[:6]}")
        length = rng.randint(min_turns, max_turns)
        # 1-2 way-out probes at random points: never first (there must be a state to leave),
        # always with room for their two turns, never overlapping
        starts = sorted(rng.sample(range(2, length - 1), k=2))
        if rng.random() < 0.5 or starts[1] - starts[0] < 3:
            starts = starts[:1]
        while len(walk.turns) < length:
            if starts and len(walk.turns) >= starts[0]:
                starts.pop(0)
                await self.probe(http, rng, walk)
                continue
            turn = self.pick(rng, walk, START_WEIGHTS if not walk.turns else WEIGHTS)
            await self.say(http, walk, turn)
        return walk


async def run_walks(url: str, lists: Lists, seed: str, indexes: Iterable[int], concurrency: int,
                    progress: bool = True) -> List[Walk]:
    import aiohttp

    walker, todo = Walker(url, lists), list(indexes)
    done: List[Walk] = []
    queue: asyncio.Queue = asyncio.Queue()
    for i in todo:
        queue.put_nowait(i)
    start = time.monotonic()

    async def worker(http: Any) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            done.append(await walker.walk(http, i, seed))
            if progress and (len(done) % 25 == 0 or len(done) == len(todo)):
                turns = sum(len(w.turns) for w in done)
                el = time.monotonic() - start
                print(f"  {len(done)}/{len(todo)} walks, {turns} turns, {el:.0f} s, {turns / max(el, 1e-9):.1f} turns/s",
                      flush=True)

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=walker.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return sorted(done, key=lambda w: w.index)


# --- report -----------------------------------------------------------------------------
def short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def transcript(walk: Walk, findings: Sequence[Finding] = ()) -> str:
    marks: Dict[int, List[str]] = {}
    for f in findings:
        marks.setdefault(f.turn, []).append(f.check)
    lines = [f"walk {walk.index} (sender {walk.sender}, replay: --seed {walk.seed} --only {walk.index})"]
    for i, t in enumerate(walk.turns):
        what = f"[{t.title}] {t.text}" if t.title else (t.text if t.text else "(empty message)")
        tag = t.kind + (f" probe#{t.probe}" if t.probe is not None else "")
        if t.crisis:
            tag += f" {t.crisis.get('category')}"
        lines.append(f"  {i:>2} 👤 ({tag}) {short(what, 200)}")
        if t.status != 200 or t.error:
            lines.append(f"     ⚠️ HTTP {t.status} {short(t.error, 120)}")
        if not t.messages:
            lines.append("     🤖 (nothing)")
        for m in t.messages:
            text = short(m.get("text") or "", 300)
            titles = [str(b.get("title")) for b in m.get("buttons") or [] if isinstance(b, dict)]
            lines.append(f"     🤖 {text}" + (f"  [{' | '.join(titles)}]" if titles else "")
                         + (f" <image {m.get('image')}>" if m.get("image") else ""))
        if i in marks:
            lines.append(f"     ❌ {', '.join(sorted(set(marks[i])))}")
    return "\n".join(lines)


def summarise(walks: List[Walk], findings: List[Finding], warnings: List[Finding], meta: Dict[str, Any]) -> Dict[str, Any]:
    turns = [t for w in walks for t in w.turns]
    ms = sorted(t.ms for t in turns) or [0.0]
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    kinds = Counter(t.kind for t in turns)
    crisis_turns = [t for t in turns if t.kind == "crisis"]
    return {
        **meta,
        "walks": len(walks),
        "turns": len(turns),
        "turns_by_kind": dict(sorted(kinds.items())),
        "probes": sum(len(w.probes) for w in walks),
        "turns_per_s": round(len(turns) / meta["wall_s"], 2) if meta.get("wall_s") else None,
        "latency_ms": {"p50": round(q[49]), "p95": round(q[94]), "max": round(ms[-1])},
        "failures": {c: sum(1 for f in findings if f.check == c) for c in CHECKS},
        "walks_failing": len({f.walk for f in findings}),
        "crisis_messages": len(crisis_turns),
        "crisis_with_help_line": sum(1 for t in crisis_turns if help_lines_in(t.messages)),
        "warnings": {c: sum(1 for f in warnings if f.check == c) for c in WARNINGS},
        "passed": not findings,
    }


def text_report(summary: Dict[str, Any], walks: List[Walk], findings: List[Finding], warnings: List[Finding],
                worst: int = 8, examples: int = 8) -> str:
    s = summary
    by_walk: Dict[int, List[Finding]] = {}
    for f in findings:
        by_walk.setdefault(f.walk, []).append(f)
    walk_of = {w.index: w for w in walks}
    out = [f"Atouts conversation fuzzer — {s['date']}",
           f"seed {s['seed']} · {s['walks']} walks · {s['turns']} turns · concurrency {s['concurrency']} · "
           f"{s['wall_s']} s · {s['turns_per_s']} turns/s · latency p50 {s['latency_ms']['p50']} ms, "
           f"p95 {s['latency_ms']['p95']} ms",
           f"model: {s.get('model', '?')} · machine: {s.get('machine', '?')}, after "
           f"{s.get('load_average_after') or '?'}",
           "server CPU per turn: " + (", ".join(f"{k} {v} ms" for k, v in s["cpu_ms_per_turn"].items())
                                      if s.get("cpu_ms_per_turn") else "not measured (stack not started by the fuzzer)"),
           "turns by kind: " + ", ".join(f"{k} {v}" for k, v in s["turns_by_kind"].items()),
           f"way-out probes: {s['probes']} · crisis messages: {s['crisis_messages']} "
           f"({s['crisis_with_help_line']} with a help line)",
           "", "RESULT: " + ("PASS (0 findings)" if s["passed"] else f"FAIL ({len(findings)} findings in "
                                                                        f"{s['walks_failing']} walks)"), ""]
    out.append("check                  findings")
    out += [f"  {c:<22} {s['failures'][c]}" for c in CHECKS]
    out.append("warnings (do not fail)")
    out += [f"  {c:<27} {s['warnings'][c]}" for c in WARNINGS]
    for c in CHECKS + WARNINGS:
        group = [f for f in findings + warnings if f.check == c]
        if not group:
            continue
        out += ["", f"== {c}: {len(group)} =="]
        # the most frequent details first (same message → same bug), then examples
        common = Counter(f.key or f.detail for f in group).most_common(examples)
        out += [f"  {n:>4} × {short(d, 200)}" for d, n in common]
        out.append("  examples:")
        for f in group[:examples]:
            w = walk_of.get(f.walk)
            t = w.turns[f.turn] if w and f.turn < len(w.turns) else None
            if t is None:
                continue
            said = f"[{t.title}] {t.text}" if t.title else t.text
            out.append(f"   - walk {f.walk} turn {f.turn}: 👤 {short(said, 90) or '(empty)'} → 🤖 "
                       f"{short(reply_key(t.messages), 160) or '(nothing)'}")
    if by_walk:
        ranked = sorted(by_walk, key=lambda i: (-len({f.check for f in by_walk[i]}), -len(by_walk[i]), i))[:worst]
        out += ["", f"== the {len(ranked)} worst walks (most kinds of findings) =="]
        for i in ranked:
            out += ["", transcript(walk_of[i], by_walk[i])]
    return "\n".join(out) + "\n"


def log_errors(log_dir: Path) -> List[Finding]:
    found = []
    for name in ("rasa", "actions", "web"):
        path = log_dir / f"{name}.log"
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        for n, line in enumerate(lines):
            if "Traceback (most recent call last)" in line or re.search(r"\bERROR\b", line):
                found.append(Finding("server_log_errors", -1, n, f"{name}.log:{n + 1}: {short(line, 200)}"))
    return found


def load_walks(path: Path) -> List[Walk]:
    walks = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        d["turns"] = [Turn(**t) for t in d["turns"]]
        d["probes"] = [Probe(**p) for p in d["probes"]]
        walks.append(Walk(**d))
    return walks


def write_results(out: Path, walks: List[Walk], meta: Dict[str, Any], extra_warnings: Sequence[Finding] = (),
                  write_walks: bool = True) -> Tuple[Dict[str, Any], str, Path]:
    findings = [f for w in walks for f in check_walk(w)]
    warnings = [f for w in walks for f in warnings_of(w)] + list(extra_warnings)
    summary = summarise(walks, findings, warnings, meta)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"fuzz-{meta['seed']}"
    report = text_report(summary, walks, findings, warnings)
    stem.with_suffix(".json").write_text(json.dumps(
        {"summary": summary, "findings": [asdict(f) for f in findings],
         "warnings": [asdict(f) for f in warnings]}, indent=2, ensure_ascii=False), encoding="utf-8")
    stem.with_suffix(".txt").write_text(report, encoding="utf-8")
    if write_walks:
        with stem.with_suffix(".jsonl").open("w", encoding="utf-8") as f:
            for w in walks:
                f.write(json.dumps(asdict(w), ensure_ascii=False) + "\n")
    return summary, report, stem


def rescore(path: Path, out: Path) -> int:
    """Re-check recorded walks (after changing a check) without playing them again."""
    walks = load_walks(path)
    previous = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["summary"] \
        if path.with_suffix(".json").exists() else {}
    meta = {k: previous.get(k) for k in ("date", "seed", "concurrency", "url", "model", "machine", "wall_s",
                                           "cpu_ms_per_turn", "load_average_after")}
    meta["seed"] = meta["seed"] or (walks[0].seed if walks else "?")
    logs = [Finding(**f) for f in (json.loads(path.with_suffix(".json").read_text(encoding="utf-8")).get("warnings", [])
                                   if path.with_suffix(".json").exists() else []) if f["check"] == "server_log_errors"]
    summary, report, stem = write_results(out, walks, meta, logs, write_walks=path.parent.resolve() != out.resolve())
    print(report.split("\n== ")[0].rstrip() + f"\n\nWritten: {stem}.txt, {stem}.json")
    return 0 if summary["passed"] else 1


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (Linux /proc), 0 elsewhere."""
    from bot.bench import _tree

    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14-15)
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


# --- main -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--walks", type=int, default=500)
    parser.add_argument("--seed", default="", help="any string or number (default: a new one, printed)")
    parser.add_argument("--concurrency", type=int, default=3, help="walks played at the same time (2-4 on 2 cores)")
    parser.add_argument("--only", type=int, action="append", help="replay only this walk index (repeatable)")
    parser.add_argument("--url", default="", help="a running Rasa server (e.g. http://127.0.0.1:5005) "
                                                   "instead of starting a fresh stack")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--rescore", type=Path, help="only re-check and re-report the walks of a fuzz-*.jsonl")
    args = parser.parse_args(argv)
    if args.rescore:
        return rescore(args.rescore, args.out)
    if args.walks < 1 or not 1 <= args.concurrency <= 16:
        parser.error("--walks >= 1 and --concurrency within 1-16")
    seed = str(args.seed).strip() or str(random.SystemRandom().randrange(10**6))
    lists = Lists.load()
    indexes = args.only or list(range(args.walks))
    print(f"Fuzzer: seed {seed}, {len(indexes)} walks, concurrency {args.concurrency} "
          f"(replay: make fuzz SEED={seed} WALKS={args.walks})", flush=True)

    stack = tmp = None
    if args.url:
        url = args.url.rstrip("/") + "/webhooks/rest/webhook"
    else:
        from bot.launcher import Stack, StackConfig

        if not args.model.exists():
            print(f"No trained model at {args.model}: run `make train` first.", file=sys.stderr)
            return 2
        tmp = Path(tempfile.mkdtemp(prefix="atouts-fuzz-"))
        var = tmp / "var"
        config = StackConfig(model=args.model, var_dir=var, rasa_port=free_port(), actions_port=free_port(),
                             web_port=free_port(), db_url=f"sqlite:///{var / 'atouts.db'}", mail_smtp_port=free_port(), mail_web_port=free_port(),
                             extra_env={"ATOUTS_ENABLE_REST": "1"})  # the walks talk REST
        stack = Stack(config, log_dir=tmp / "logs")
        print("Starting the stack (action server, Rasa, web app; fresh SQLite)…", flush=True)
        try:
            stack.start(timeout=300)
        except (RuntimeError, SystemExit) as exc:
            print(f"The stack could not start: {exc} (logs: {tmp / 'logs'})", file=sys.stderr)
            return 2
        url = f"http://127.0.0.1:{config.rasa_port}/webhooks/rest/webhook"
    meta: Dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "seed": seed, "concurrency": args.concurrency,
                            "url": url if args.url else "fresh stack",
                            "model": f"{args.model.name}, " + time.strftime(
                                "%Y-%m-%d %H:%M", time.localtime(args.model.stat().st_mtime))
                            if args.model.exists() else "?",
                            "machine": f"{os.cpu_count()} CPUs, load average before "
                                       + " ".join(f"{x:.2f}" for x in os.getloadavg())}
    pids = {k: v for k, v in stack.pids().items() if k != "mail"} if stack else {}
    try:
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.monotonic()
        walks = asyncio.run(run_walks(url, lists, seed, indexes, args.concurrency))
        meta["wall_s"] = round(time.monotonic() - started, 1)
        turns = sum(len(w.turns) for w in walks)
        # CPU the servers spent per turn: what bounds the speed on a machine of our own
        # (Rasa handles a message on one core), whatever else the machine is doing
        meta["cpu_ms_per_turn"] = {name: round((cpu_seconds(pid) - cpu[name]) * 1000 / max(turns, 1), 1)
                                   for name, pid in pids.items()}
        meta["load_average_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        if stack is not None:
            stack.stop()
    logs: List[Finding] = []
    if tmp is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        logs = log_errors(tmp / "logs")
        shutil.copytree(tmp / "logs", args.out / f"logs-{seed}", dirs_exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    # a replay (--only) goes apart, not over the full run's results
    summary, report, stem = write_results(args.out / "replay" if args.only else args.out, walks, meta, logs)
    head = report.split("\n== ")[0]
    print("\n" + head.rstrip() + f"\n\nWritten: {stem}.txt, {stem}.json, {stem}.jsonl"
          + (f", logs-{seed}/" if tmp is not None else ""))
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m bot.bench` (make bench): training time, latency, throughput and memory of
the real stack under N concurrent Repérer conversations on the REST channel, next to a
minimal Rasa bot loaded the same way. A report: exit code 0 even when a target is missed,
non-zero only if the benchmark could not run. Results are printed and written as JSON and
Markdown to bench-results/ (git-ignored); logs stay in a temporary folder."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional

import aiohttp

from bot.config import ROOT
from bot.launcher import BIN, Stack, StackConfig

MODEL, OUT = ROOT / "models" / "atouts.tar.gz", ROOT / "bench-results"
TARGET_USERS, TARGET_P95_MS, TARGET_TRAIN_S, TARGET_RASA_RSS_MB = 20, 250.0, 600.0, 1536.0
MAX_LOOP_TURNS = 25  # confirmations + follow-up answers per conversation
Reply = List[Dict[str, Any]]
NAMES = ["Inès", "Yanis", "Léa", "Moussa", "Chloé", "Kevin", "Aïcha", "Théo"]
STORIES = [
    "l'été dernier j'ai bossé au mcdo, le samedi c'était la folie, les clients s'énervaient mais je "
    "restais calme et j'aidais les autres au comptoir. au final le manager m'a félicitée",
    "j'ai gardé mes petits frères tout l'été parce que ma mère travaillait, c'était dur de tout gérer "
    "les repas et les devoirs mais au final ils ont eu de bonnes notes",
    "en stage dans un garage j'ai dû réparer une voiture tout seul, je ne savais pas faire alors j'ai "
    "cherché des tutos et demandé au chef, finalement le client est reparti content",
    "au club de foot j'entraîne les petits le mercredi, au début personne n'écoutait et c'était le "
    "bazar, j'ai inventé des jeux et maintenant ils viennent tous à l'heure",
    "pour la fête du quartier j'ai organisé un tournoi, il fallait trouver des lots et gérer les "
    "inscriptions avec peu de temps, mais on a réussi et tout le monde était content",
    "au lycée j'étais déléguée, deux élèves se sont embrouillés en classe, j'ai parlé avec chacun "
    "calmement et j'ai trouvé un compromis, depuis ils se parlent à nouveau",
]
FOLLOW_UP = "je me suis occupé de tout, c'était difficile mais au final tout le monde était content"
# Minimal bot. sklearn's logistic regression needs two classes: `goodbye` is only there for that.
BASELINE = {
    "config.yml": "recipe: default.v1\nlanguage: fr\nassistant_id: bench-baseline\npipeline:\n"
                  "  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
                  "  - name: LogisticRegressionClassifier\npolicies:\n  - name: RulePolicy\n",
    "domain.yml": 'version: "3.1"\nintents: [greet, goodbye]\nresponses:\n'
                  '  utter_greet:\n  - text: "Bonjour !"\n  utter_goodbye:\n  - text: "Au revoir !"\n',
    "data/nlu.yml": 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n' + "".join(
        f"    - {w}\n" for w in ("bonjour", "salut", "coucou", "hello", "bonsoir", "yo", "slt", "bonjour à toi",
                                 "salut ça va", "wesh")) + "- intent: goodbye\n  examples: |\n"
                    "    - au revoir\n    - bye\n    - à plus\n    - ciao\n",
    "data/rules.yml": 'version: "3.1"\nrules:\n- rule: greet\n  steps:\n  - intent: greet\n  - action: utter_greet\n'
                      "- rule: goodbye\n  steps:\n  - intent: goodbye\n  - action: utter_goodbye\n",
    "credentials.yml": "rest:\n",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(**extra: str) -> Dict[str, str]:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0", RASA_TELEMETRY_ENABLED="false",
                SQLALCHEMY_SILENCE_UBER_WARNING="1",
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)


def train(project: Path, out: Path, name: str, log: Path) -> float:
    """`rasa train` from scratch (its own empty cache); wall time in seconds."""
    args = [str(BIN / "rasa"), "train", "--fixed-model-name", name, "--out", str(out), "--num-threads", "2"]
    start = time.monotonic()
    with open(log, "wb") as f:
        done = subprocess.run(args, cwd=project, stdout=f, stderr=subprocess.STDOUT, timeout=3600,
                              env=child_env(RASA_CACHE_DIRECTORY=str(out / f"cache-{name}")))
    if done.returncode != 0:
        raise RuntimeError(f"rasa train ({name}) failed, see {log}")
    return round(time.monotonic() - start, 1)


# --- memory: /proc, summed over a process and its descendants ----------------------------
def _tree(pid: int) -> List[int]:
    children: Dict[int, List[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # "pid (comm) state ppid …", comm may hold spaces or parentheses
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    pids, todo = [], [pid]
    while todo:
        pids.append(todo.pop())
        todo.extend(children.get(pids[-1], []))
    return pids


def _status_mb(pids: List[int], key: str) -> float:
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:  # gone meanwhile
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith(key + ":"))
    return round(total / 1024, 1)


class MemoryWatch(threading.Thread):
    """Every 0.5 s: VmHWM (peak) and VmRSS (current) of each process tree; keeps the max."""

    def __init__(self, pids: Dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.halt = pids, threading.Event()
        self.mb = {name: {"peak_rss": 0.0, "max_sampled_rss": 0.0} for name in pids}
        self.start()

    def sample(self) -> None:
        for name, pid in self.pids.items():
            tree, mb = _tree(pid), self.mb[name]
            mb["peak_rss"] = max(mb["peak_rss"], _status_mb(tree, "VmHWM"))
            mb["max_sampled_rss"] = max(mb["max_sampled_rss"], _status_mb(tree, "VmRSS"))

    def run(self) -> None:
        while not self.halt.wait(0.5):
            self.sample()

    def finish(self) -> Dict[str, Dict[str, float]]:
        self.halt.set()
        self.join(5)
        self.sample()
        return self.mb


# --- load: simulated users on POST /webhooks/rest/webhook ---------------------------------
class Load:
    def __init__(self, port: int, think: float) -> None:
        self.url, self.think = f"http://127.0.0.1:{port}/webhooks/rest/webhook", think
        self.ms: Dict[str, List[float]] = {}  # latencies by kind of turn
        self.errors = self.conversations = self.completed = 0

    async def say(self, http: aiohttp.ClientSession, sender: str, text: str, kind: str) -> Reply:
        """One POST, timed; [] on error (non-200, unreadable or empty answer)."""
        await asyncio.sleep(self.think * random.uniform(0.5, 1.5))  # jitter: users out of step
        start, body = time.perf_counter(), None
        try:
            async with http.post(self.url, json={"sender": sender, "message": text}) as resp:
                body = await resp.json(content_type=None) if resp.status == 200 else None
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            pass
        self.ms.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
        if not body or not isinstance(body, list):
            self.errors += 1
            return []
        return body

    async def reperer(self, http: aiohttp.ClientSession, sender: str, rng: random.Random) -> None:
        """Hello, consent, first name, story, each proposed skill (first one yes), profile."""
        self.conversations += 1
        reply: Reply = []
        for kind, text in (("greet", "/greet"), ("consent", "/affirm"), ("name", rng.choice(NAMES)),
                           ("story", rng.choice(STORIES))):
            if not (reply := await self.say(http, sender, text, kind)):
                return
        answered = 0
        for _ in range(MAX_LOOP_TURNS):
            if "/affirm" in {b.get("payload") for m in reply for b in m.get("buttons") or []}:
                text, kind = ("/affirm" if not answered or rng.random() < 0.5 else "/deny"), "confirm"
                answered += 1
            elif answered:
                break
            else:  # a follow-up question on the story
                text, kind = FOLLOW_UP, "follow_up"
            if not (reply := await self.say(http, sender, text, kind)):
                return
        said = " ".join(m.get("text") or "" for m in reply)
        if ("Bravo" in said or "honnête" in said) and await self.say(http, sender, "mes compétences", "profile"):
            self.completed += 1

    async def hello(self, http: aiohttp.ClientSession, sender: str, rng: random.Random) -> None:
        self.conversations += 1
        answered = bool(await self.say(http, sender, "bonjour", "bonjour"))
        self.completed += answered  # not `+= await …`: that reads the counter before awaiting

    def run(self, users: int, per_user: Callable[[int], int],
            conversation: Callable[[aiohttp.ClientSession, str, random.Random], Awaitable[None]]) -> float:
        async def user(http: aiohttp.ClientSession, i: int) -> None:
            rng = random.Random(i)
            for n in range(per_user(i)):
                await conversation(http, f"bench-{i}-{n}-{uuid.uuid4().hex[:6]}", rng)

        async def main() -> float:
            connector, timeout = aiohttp.TCPConnector(limit=users), aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
                start = time.monotonic()
                await asyncio.gather(*(user(http, i) for i in range(users)))
                return time.monotonic() - start

        return asyncio.run(main())

    def stats(self, users: int, wall: float, memory: Dict[str, Dict[str, float]]) -> Dict[str, Any]:
        def pct(ms: List[float]) -> Dict[str, float]:
            q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
            return {"p50": round(q[49]), "p95": round(q[94]), "p99": round(q[98]), "max": round(max(ms))}

        every = [v for vs in self.ms.values() for v in vs]
        return {"users": users, "conversations": self.conversations, "completed": self.completed,
                "turns": len(every), "wall_s": round(wall, 1), "turns_per_s": round(len(every) / wall, 1),
                "latency_ms": pct(every), "errors": self.errors, "memory_mb": memory,
                "latency_by_turn_ms": {k: dict(pct(v), n=len(v)) for k, v in self.ms.items()}}


# --- cost growth: one person, many turns ------------------------------------------------------
HISTORY_QUESTION = "c'est quoi la rigueur"
HISTORY_MARKS = (10, 100, 400)  # turns where cost is read (median of the 21 turns around each)
TARGET_GROWTH = 1.3  # p50 (and CPU) at turn 400 ≤ 1.3 × at turn 10


def _cpu_ms(pid: int) -> float:
    """User + system CPU time of one process so far (ms)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def history_growth(port: int, rasa_pid: int, turns: int = max(HISTORY_MARKS) + 10) -> Dict[str, Any]:
    """One person asks the same simple question `turns` times after onboarding, one
    message at a time: latency and Rasa server CPU per turn, read at HISTORY_MARKS."""
    import json as _json

    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    sender = f"bench-history-{uuid.uuid4().hex[:6]}"

    def say(text: str) -> None:
        request = urllib.request.Request(url, data=_json.dumps({"sender": sender, "message": text}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as resp:
            resp.read()

    for text in ("/greet", "/affirm", "Inès", "/stop"):
        say(text)
    latency, cpu = [], []
    for _ in range(turns):
        before, start = _cpu_ms(rasa_pid), time.perf_counter()
        say(HISTORY_QUESTION)
        latency.append((time.perf_counter() - start) * 1000)
        cpu.append(_cpu_ms(rasa_pid) - before)
    at = {}
    for mark in HISTORY_MARKS:
        lo, hi = max(0, mark - 10), min(len(latency), mark + 11)
        at[str(mark)] = {"p50_ms": round(statistics.median(latency[lo:hi]), 1),
                         "cpu_ms": round(statistics.median(cpu[lo:hi]), 1)}
    first, last = at[str(HISTORY_MARKS[0])], at[str(HISTORY_MARKS[-1])]
    return {"turns": turns, "at": at,
            "latency_ratio": round(last["p50_ms"] / max(first["p50_ms"], 0.1), 2),
            "cpu_ratio": round(last["cpu_ms"] / max(first["cpu_ms"], 0.1), 2)}


def start_baseline(project: Path, model: Path, port: int, log: Path, timeout: float = 300) -> subprocess.Popen:
    args = [str(BIN / "rasa"), "run", "--enable-api", "-i", "127.0.0.1", "--port", str(port),
            "--model", str(model), "--credentials", "credentials.yml"]  # no endpoints: in-memory tracker
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=project, env=child_env(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"baseline Rasa server not ready, see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- report ------------------------------------------------------------------------------
def targets(r: Dict[str, Any]) -> List[Dict[str, str]]:
    a, t, rss = r["atouts"], r["training_s"]["atouts"], r["atouts"]["memory_mb"]["rasa"]["peak_rss"]
    ok = lambda passed: "PASS" if passed else "FAIL"
    return [{"target": f"p95 ≤ {TARGET_P95_MS:.0f} ms at {TARGET_USERS} concurrent conversations",
             "value": f"{a['latency_ms']['p95']} ms at {a['users']} users, {a['errors']} errors",
             "result": ok(a["latency_ms"]["p95"] <= TARGET_P95_MS and a["users"] >= TARGET_USERS and not a["errors"])},
            {"target": f"training ≤ {TARGET_TRAIN_S:.0f} s", "value": "skipped" if t is None else f"{t:.0f} s",
             "result": "SKIPPED" if t is None else ok(t <= TARGET_TRAIN_S)},
            {"target": f"Rasa server peak RSS < {TARGET_RASA_RSS_MB / 1024:.1f} GB", "value": f"{rss:.0f} MB",
             "result": ok(rss < TARGET_RASA_RSS_MB)}] + ([] if "history" not in r else [
            {"target": f"p50 and CPU at turn {HISTORY_MARKS[-1]} ≤ {TARGET_GROWTH} × turn {HISTORY_MARKS[0]}",
             "value": f"{r['history']['latency_ratio']} × / {r['history']['cpu_ratio']} ×",
             "result": ok(max(r["history"]["latency_ratio"], r["history"]["cpu_ratio"]) <= TARGET_GROWTH)}]) + [
            {"target": f"p95 ≤ {TARGET_P95_MS:.0f} ms at 60 users", "value": f"{x['latency_ms']['p95']} ms, "
             f"{x['turns_per_s']} turns/s, {x['errors']} errors",
             "result": ok(x["latency_ms"]["p95"] <= TARGET_P95_MS and not x["errors"])}
            for x in r.get("saturation") or [] if x["users"] == 60]


def markdown(r: Dict[str, Any]) -> str:
    a, b, t = r["atouts"], r["baseline"], r["training_s"]
    rows = [("users", "users"), ("conversations (completed)", ""), ("turns", "turns"), ("wall (s)", "wall_s"),
            ("turns/s", "turns_per_s")] + [(f"{k} (ms)", k) for k in ("p50", "p95", "p99", "max")] + [("errors", "errors")]
    cell = lambda s, k: f"{s['conversations']} ({s['completed']})" if not k else s["latency_ms"].get(k, s.get(k))
    mem = lambda s, p: "—" if p not in s["memory_mb"] else "{peak_rss:.0f} / {max_sampled_rss:.0f}".format(**s["memory_mb"][p])
    secs = lambda v: "skipped" if v is None else f"{v:.0f}"
    lines = [f"# Atouts benchmark, {r['date']}", "", f"{r['machine']}; think time {r['think_s']} s; model {r['model']}.", "",
             "| | Atouts | baseline |", "|---|---|---|"]
    lines += [f"| {label} | {cell(a, k)} | {cell(b, k)} |" for label, k in rows]
    lines += [f"| RSS {p}, peak / max sampled (MB) | {mem(a, p)} | {mem(b, p)} |" for p in ("rasa", "actions", "web")]
    lines += [f"| training (s) | {secs(t['atouts'])} | {secs(t['baseline'])} |",
              "| startup until ready (s) | {atouts:.0f} | {baseline:.0f} |".format(**r["startup_s"]), "",
              "| Atouts turn | n | p50 | p95 | max (ms) |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['n']} | {v['p50']} | {v['p95']} | {v['max']} |" for k, v in a["latency_by_turn_ms"].items()]
    if "history" in r:
        lines += ["", f"Cost growth (one person, « {HISTORY_QUESTION} » {r['history']['turns']} times, one at a time):", "",
                  "| turn | p50 (ms) | Rasa CPU per turn (ms) |", "|---|---|---|"]
        lines += [f"| {k} | {v['p50_ms']} | {v['cpu_ms']} |" for k, v in r["history"]["at"].items()]
    if r.get("saturation"):
        lines += ["", f"Saturation (one Repérer conversation per user, think time {r['think_s']} s):", "",
                  "| users | turns | turns/s | p50 (ms) | p95 (ms) | errors |", "|---|---|---|---|---|---|"]
        lines += [f"| {x['users']} | {x['turns']} | {x['turns_per_s']} | {x['latency_ms']['p50']} | "
                  f"{x['latency_ms']['p95']} | {x['errors']} |" for x in r["saturation"]]
    lines += ["", "| target | value | result |", "|---|---|---|"]
    return "\n".join(lines + [f"| {x['target']} | {x['value']} | {x['result']} |" for x in r["targets"]]) + "\n"


def bench(args: argparse.Namespace, tmp: Path, r: Dict[str, Any]) -> None:
    logs, base_dir, models = tmp / "logs", tmp / "baseline", tmp / "models"
    logs.mkdir()
    for name, text in BASELINE.items():
        (base_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (base_dir / name).write_text(text, encoding="utf-8")
    print(f"Benchmark logs: {logs}", flush=True)
    if not args.no_train:
        print("Training Atouts from scratch (rasa train --num-threads 2)…", flush=True)
        r["training_s"]["atouts"] = train(ROOT, models, "bench", logs / "train-atouts.log")
    print("Training the baseline bot…", flush=True)
    r["training_s"]["baseline"] = train(base_dir, models, "baseline", logs / "train-baseline.log")

    print(f"Atouts stack: {args.users} users × {args.rounds} Repérer conversations…", flush=True)
    var = tmp / "var"
    config = StackConfig(model=MODEL, var_dir=var, rasa_port=free_port(), actions_port=free_port(),
                         web_port=free_port(), db_url=f"sqlite:///{var / 'atouts.db'}",
                         mail_smtp_port=free_port(), mail_web_port=free_port(),
                         extra_env={"ATOUTS_ENABLE_REST": "1"})  # the simulated users talk REST
    stack = Stack(config, log_dir=logs)
    try:
        started = time.monotonic()
        stack.start(timeout=300)
        r["startup_s"] = {"atouts": round(time.monotonic() - started, 1)}
        pids = {k: v for k, v in stack.pids().items() if k != "mail"}
        watch = MemoryWatch(pids)
        load = Load(config.rasa_port, args.think)
        wall = load.run(args.users, lambda i: args.rounds, load.reperer)
        r["atouts"] = load.stats(args.users, wall, watch.finish())
        if not args.no_history:
            print("Cost growth: one person, 410 turns…", flush=True)
            r["history"] = history_growth(config.rasa_port, pids["rasa"])
        r["saturation"] = []
        for users in args.saturation:
            print(f"Saturation: {users} users × 1 Repérer conversation…", flush=True)
            load = Load(config.rasa_port, args.think)
            wall = load.run(users, lambda i: 1, load.reperer)
            stats = load.stats(users, wall, {})
            r["saturation"].append({k: stats[k] for k in ("users", "turns", "turns_per_s", "latency_ms", "errors")})
    finally:
        stack.stop()

    total, port = r["atouts"]["turns"], free_port()
    print(f"Baseline bot: {total} one-turn conversations…", flush=True)
    started = time.monotonic()
    proc = start_baseline(base_dir, models / "baseline.tar.gz", port, logs / "baseline.log")
    r["startup_s"]["baseline"] = round(time.monotonic() - started, 1)
    try:
        watch = MemoryWatch({"rasa": proc.pid})
        load = Load(port, args.think)
        wall = load.run(args.users, lambda i: total // args.users + (i < total % args.users), load.hello)
        r["baseline"] = load.stats(args.users, wall, watch.finish())
    finally:
        stop(proc)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=TARGET_USERS, help="concurrent simulated users")
    parser.add_argument("--rounds", type=int, default=2, help="Repérer conversations per user")
    parser.add_argument("--think", type=float, default=3.0, help="mean seconds a user waits before each message (±50 %%)")
    parser.add_argument("--no-train", action="store_true", help="do not time a full Atouts training")
    parser.add_argument("--no-history", action="store_true", help="skip the cost-growth run (one person, 410 turns)")
    parser.add_argument("--saturation", type=lambda v: [int(x) for x in v.split(",") if x], default=[20, 60, 120],
                        help="user counts of the saturation curve (comma-separated; empty to skip)")
    args = parser.parse_args(argv)
    if args.users < 1 or args.rounds < 1:
        parser.error("--users and --rounds must be at least 1")
    if not MODEL.exists():
        print(f"No trained model at {MODEL}: run `make train` first.", file=sys.stderr)
        return 2
    r: Dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "think_s": args.think,
                         "machine": f"{os.cpu_count()} CPUs, load average before "
                                    + " ".join(f"{x:.2f}" for x in os.getloadavg()),
                         "model": f"{MODEL.name}, {MODEL.stat().st_size / 1e6:.1f} MB, "
                                  + time.strftime("%Y-%m-%d %H:%M", time.localtime(MODEL.stat().st_mtime)),
                         "training_s": {"atouts": None, "baseline": None}}
    tmp = Path(tempfile.mkdtemp(prefix="atouts-bench-"))
    try:
        bench(args, tmp, r)
    except (RuntimeError, SystemExit, OSError, subprocess.SubprocessError) as exc:
        print(f"The benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp / "models", ignore_errors=True)  # keep the logs
    r["targets"] = targets(r)
    OUT.mkdir(exist_ok=True)
    stem, report = OUT / f"bench-{time.strftime('%Y%m%d-%H%M%S')}", markdown(r)
    stem.with_suffix(".json").write_text(json.dumps(r, indent=2, ensure_ascii=False), encoding="utf-8")
    stem.with_suffix(".md").write_text(report, encoding="utf-8")
    print("\n" + report + f"\nWritten: {stem}.json, {stem}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

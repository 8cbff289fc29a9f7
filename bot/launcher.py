"""Start the whole assistant with embedded defaults: action server, Rasa server
and the web app (chat page). Used by ``make run`` and by the end-to-end tests.

Ctrl-C stops everything cleanly.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from bot.config import ROOT
from bot.service_secrets import ACTIONS_SECRET, RASA_TOKEN, stack_secrets

BIN = Path(sys.executable).parent
MAIL_CATCHER_FLAG = "ATOUTS_MAIL_CATCHER"
RETENTION_EVERY = 24 * 3600.0  # seconds between two runs of bot.privacy.retention


WEB_VENV_PYTHON = ROOT / ".venv-web" / "bin" / "python"


def web_python(env: Dict[str, str]) -> str:
    """The interpreter of the web app and the mail catcher: their own environment
    (``.venv-web``, ``requirements-web.txt``: maintained aiohttp and Python, not held by
    Rasa 3.6's pins), or ``ATOUTS_WEB_PYTHON``; the Rasa environment's only when neither
    exists (a checkout set up before the split), with a warning."""
    chosen = env.get("ATOUTS_WEB_PYTHON") or (str(WEB_VENV_PYTHON) if WEB_VENV_PYTHON.exists() else "")
    if chosen:
        return chosen
    print("no .venv-web (make setup): the web app runs on Rasa's environment and its aiohttp", file=sys.stderr)
    return sys.executable


@dataclass
class StackConfig:
    model: Path = ROOT / "models" / "atouts.tar.gz"
    var_dir: Path = ROOT / "var"
    rasa_port: int = 5005
    actions_port: int = 5055
    web_port: int = 8080
    host: str = "127.0.0.1"
    cors: str = ""  # empty: the web app's own origins (see cors_origins)
    db_url: Optional[str] = None
    extra_env: Dict[str, str] = field(default_factory=dict)
    # local mail catcher (bot.mailcatcher), used when ATOUTS_SMTP_HOST is not configured
    mail_smtp_port: int = 1025
    mail_web_port: int = 8025

    @classmethod
    def from_env(cls) -> "StackConfig":
        env = os.environ
        return cls(
            model=Path(env.get("ATOUTS_MODEL", str(ROOT / "models" / "atouts.tar.gz"))),
            var_dir=Path(env.get("ATOUTS_VAR_DIR", str(ROOT / "var"))),
            rasa_port=int(env.get("ATOUTS_RASA_PORT", "5005")),
            actions_port=int(env.get("ATOUTS_ACTIONS_PORT", "5055")),
            web_port=int(env.get("ATOUTS_WEB_PORT", "8080")),
            host=env.get("ATOUTS_WEB_HOST", "127.0.0.1"),
            cors=env.get("ATOUTS_CORS_ORIGINS", ""),
            mail_smtp_port=int(env.get("ATOUTS_MAILCATCHER_SMTP_PORT", "1025")),
            mail_web_port=int(env.get("ATOUTS_MAILCATCHER_PORT", "8025")),
        )

    @property
    def tracker_db(self) -> Path:
        return self.var_dir / "rasa_tracker.db"

    @property
    def app_db_url(self) -> str:
        return self.db_url or os.environ.get("ATOUTS_DB_URL") or f"sqlite:///{self.var_dir / 'atouts.db'}"


def cors_origins(config: StackConfig, env: Dict[str, str]) -> List[str]:
    """Origins the Rasa server accepts (HTTP CORS and Socket.IO): ATOUTS_CORS_ORIGINS, else
    the web app's own (the chat page and the partner widget's iframe are served by it,
    so partner sites never talk to Rasa directly)."""
    if config.cors.strip():
        return config.cors.replace(",", " ").split()
    public = urllib.parse.urlsplit(env.get("ATOUTS_PUBLIC_URL", f"http://localhost:{config.web_port}"))
    own = [f"{public.scheme}://{public.netloc}", f"http://localhost:{config.web_port}",
           f"http://127.0.0.1:{config.web_port}"]
    return list(dict.fromkeys(own))


ACTIONS_AUTH = {"Authorization": "Bearer ${%s}" % ACTIONS_SECRET}


def write_endpoints(config: StackConfig) -> Path:
    """endpoints.yml with this stack's action URL and tracker database. The action
    server's secret stays a ``${ATOUTS_ACTIONS_SECRET}`` reference (Rasa expands it from
    its environment): the file never holds it."""
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{config.actions_port}/webhook"
    endpoints["action_endpoint"]["headers"] = {**(endpoints["action_endpoint"].get("headers") or {}),
                                               **ACTIONS_AUTH}
    if endpoints.get("tracker_store", {}).get("dialect") == "sqlite":
        endpoints["tracker_store"]["db"] = str(config.tracker_db)
    path = config.var_dir / "endpoints.runtime.yml"
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True), encoding="utf-8")
    return path


# Connectors enabled by configuration: (credentials.yml key, the variable that turns it on).
# Their secrets stay in the environment (read by the connector), never in a file.
OPTIONAL_CHANNELS = (
    ("channels.telegram.TelegramInput", "ATOUTS_TELEGRAM_TOKEN"),
    ("channels.messenger.MessengerInput", "ATOUTS_MESSENGER_PAGE_TOKEN"),
)


REST_CHANNEL = "channels.rest.RestInput"
SOCKETIO_CHANNEL = "channels.socketio.SocketIOInput"
# Largest request body the Rasa server reads (Sanic's default is 100 MB); the platform
# webhooks have their own, smaller limits.
RASA_MAX_BODY = "1000000"


def rest_enabled(env: Dict[str, str]) -> bool:
    return env.get("ATOUTS_ENABLE_REST", "").strip().lower() in ("1", "true", "yes", "oui")


def write_credentials(config: StackConfig, env: Dict[str, str]) -> Path:
    """credentials.yml plus the connectors whose token is configured, the Socket.IO
    channel's allowed origins, and REST only with ATOUTS_ENABLE_REST=1 (tests, benchmarks)."""
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8")) or {}
    for key, variable in OPTIONAL_CHANNELS:
        if env.get(variable, "").strip():
            credentials.setdefault(key, None)
    if rest_enabled(env):
        credentials.setdefault(REST_CHANNEL, None)
    else:
        credentials.pop(REST_CHANNEL, None)
    if isinstance(credentials.get(SOCKETIO_CHANNEL), dict):
        credentials[SOCKETIO_CHANNEL].setdefault("allowed_origins", cors_origins(config, env))
    path = config.var_dir / "credentials.runtime.yml"
    path.write_text(yaml.safe_dump(credentials, allow_unicode=True), encoding="utf-8")
    return path


class Stack:
    """The three processes of the assistant."""

    def __init__(self, config: StackConfig, log_dir: Optional[Path] = None) -> None:
        self.config = config
        self.log_dir = log_dir
        self.processes: List[subprocess.Popen] = []
        self.secrets: Dict[str, str] = {}  # ATOUTS_ACTIONS_SECRET, ATOUTS_RASA_TOKEN (see start)

    @property
    def rasa_token(self) -> str:
        return self.secrets.get(RASA_TOKEN, "")

    def env(self) -> Dict[str, str]:
        c = self.config
        env = dict(os.environ)
        env.update(
            {
                "ATOUTS_DB_URL": c.app_db_url,
                "ATOUTS_VAR_DIR": str(c.var_dir),
                "ATOUTS_WARM_UP": "1",  # the action server loads everything before serving
                "ATOUTS_RASA_URL": f"http://127.0.0.1:{c.rasa_port}",
                "ATOUTS_PUBLIC_RASA_URL": os.environ.get(
                    "ATOUTS_PUBLIC_RASA_URL", f"http://localhost:{c.rasa_port}"
                ),
                "ATOUTS_PUBLIC_URL": os.environ.get(
                    "ATOUTS_PUBLIC_URL", f"http://localhost:{c.web_port}"
                ),
                "ATOUTS_WEB_PORT": str(c.web_port),
                "ATOUTS_WEB_HOST": c.host,
                "TF_CPP_MIN_LOG_LEVEL": "2",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
                "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            }
        )
        env.update(c.extra_env)
        if not env.get("ATOUTS_SMTP_HOST", "").strip():  # mails go to the local catcher
            env.update({"ATOUTS_SMTP_HOST": "127.0.0.1", "ATOUTS_SMTP_PORT": str(c.mail_smtp_port),
                        "ATOUTS_SMTP_STARTTLS": "0", "ATOUTS_SMTP_USER": "", "ATOUTS_SMTP_PASSWORD": "",
                        MAIL_CATCHER_FLAG: "1"})
        if env.get("ATOUTS_TELEMETRY", "").strip() != "1":  # Rasa telemetry off unless asked
            env["RASA_TELEMETRY_ENABLED"] = "false"
        env.update(self.secrets)
        return env

    @property
    def mail_catcher(self) -> bool:
        return self.env().get(MAIL_CATCHER_FLAG) == "1"

    def _spawn(self, name: str, args: List[str], env: Optional[Dict[str, str]] = None) -> None:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "wb")
        self.processes.append(
            subprocess.Popen(
                args, cwd=ROOT, env={**self.env(), **(env or {})}, stdout=out, stderr=subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        )

    def start(self, timeout: float = 240.0) -> "Stack":
        c = self.config
        if not c.model.exists():
            raise SystemExit(f"No trained model at {c.model}: run `make train` first.")
        c.var_dir.mkdir(parents=True, exist_ok=True)
        # from the environment, else generated once into var/keys/ (0600); never logged
        self.secrets = stack_secrets(c.var_dir, {**os.environ, **c.extra_env})
        endpoints = write_endpoints(c)
        credentials = write_credentials(c, self.env())
        if self.mail_catcher:
            self._spawn("mail", [web_python(self.env()), "-m", "bot.mailcatcher", "--smtp-port", str(c.mail_smtp_port),
                                 "--http-port", str(c.mail_web_port)])
        # our entry points: the action server on loopback with the shared secret, Rasa
        # with its API token (neither secret on a command line)
        self._spawn("actions", [sys.executable, "-m", "bot.action_server", "--actions", "actions",
                                "--port", str(c.actions_port)])
        self._spawn("rasa", [sys.executable, "-m", "bot.rasa_server", "--enable-api",
                             "--cors", *cors_origins(c, self.env()),
                             "--interface", c.host,
                             "--model", str(c.model), "--endpoints", str(endpoints),
                             "--credentials", str(credentials),
                             "--port", str(c.rasa_port)],
                    # Sanic reads SANIC_* at start: the body limit of every Rasa route
                    env={"SANIC_REQUEST_MAX_SIZE": self.env().get("ATOUTS_RASA_MAX_BODY") or RASA_MAX_BODY})
        self._spawn("web", [web_python(self.env()), "-m", "bot.web"])
        self.wait_ready(timeout)
        self.warm_up()
        return self

    WARM_UP = ("/greet", "/deny", "/skip", "/delete_my_data", "/affirm")

    def warm_up(self) -> None:
        """One short conversation before anyone comes: Rasa builds its caches on first use
        (policies, forms, the action-response check), which otherwise makes the first real
        conversations wait. It refuses consent (nothing stored) and erases itself (no
        tracker left). Over REST when it is enabled, else over Socket.IO like a browser."""
        try:
            if rest_enabled(self.env()):
                self._warm_up_rest()
            else:
                import asyncio

                asyncio.run(asyncio.wait_for(self._warm_up_socketio(), timeout=120))
        except Exception as exc:  # noqa: BLE001 - best effort: serving works without it
            print(f"warm-up skipped ({type(exc).__name__})", file=sys.stderr)

    def _warm_up_rest(self) -> None:
        url = f"http://127.0.0.1:{self.config.rasa_port}/webhooks/rest/webhook"
        for text in self.WARM_UP:
            body = json.dumps({"sender": "atouts-warm-up", "message": text}).encode()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as resp:
                resp.read()

    async def _warm_up_socketio(self) -> None:
        import asyncio

        import socketio

        replies: "asyncio.Queue[object]" = asyncio.Queue()
        confirmed: "asyncio.Future[str]" = asyncio.get_running_loop().create_future()
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("bot_uttered", lambda data: replies.put_nowait(data))
        sio.on("session_confirm", lambda token: confirmed.done() or confirmed.set_result(token))
        await sio.connect(f"http://127.0.0.1:{self.config.rasa_port}", transports=["websocket"])
        try:
            await sio.emit("session_request", {})  # the server issues the session
            token = await asyncio.wait_for(confirmed, timeout=30)
            for text in self.WARM_UP:
                await sio.emit("user_uttered", {"message": text, "session_id": token})
                await asyncio.wait_for(replies.get(), timeout=30)
                await asyncio.sleep(0.5)  # the rest of the turn's messages
                while not replies.empty():
                    replies.get_nowait()
        finally:
            await sio.disconnect()

    SERVICES = {"bot.action_server": "actions", "bot.rasa_server": "rasa", "bot.web": "web",
                "bot.mailcatcher": "mail"}

    def pids(self) -> Dict[str, int]:
        """Process id of each running service, by the module it runs (not by start order:
        the mail catcher is optional and the web app has its own interpreter)."""
        return {self.SERVICES[arg]: p.pid for p in self.processes for arg in p.args if arg in self.SERVICES}

    def urls(self) -> Dict[str, str]:
        c = self.config
        urls = {
            "actions": f"http://127.0.0.1:{c.actions_port}/health",
            "rasa": f"http://127.0.0.1:{c.rasa_port}/status?token={urllib.parse.quote(self.rasa_token)}",
            "web": f"http://127.0.0.1:{c.web_port}/health",
        }
        if self.mail_catcher:
            urls["mail"] = f"http://127.0.0.1:{c.mail_web_port}/health"
        return urls

    def run_retention(self) -> Optional[subprocess.Popen]:
        """`python -m bot.privacy.retention` in the background (app database + tracker)."""
        try:
            return subprocess.Popen([sys.executable, "-m", "bot.privacy.retention",
                                     "--tracker-db", str(self.config.tracker_db)],
                                    cwd=ROOT, env=self.env(), start_new_session=True)
        except OSError as exc:
            print(f"retention not run ({type(exc).__name__})", file=sys.stderr)
            return None

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.urls())
        while pending:
            for proc in self.processes:
                if proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"a service stopped while starting: {proc.args[:3]}")
            for name, url in list(pending.items()):
                try:
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        if resp.status == 200:
                            pending.pop(name)
                except (urllib.error.URLError, ConnectionError, OSError):
                    pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"services not ready after {timeout:.0f}s: {sorted(pending)}")
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for proc in self.processes:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes = []

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def throwaway_stack(model: Path, prefix: str, extra_env: Optional[Dict[str, str]] = None,
                    timeout: float = 600) -> "Stack":
    """The whole stack (Rasa, actions, web app, mail catcher) on free ports, in a temporary
    directory with its own SQLite databases and the REST channel on: what the evaluation
    tools talk to over HTTP. Started; the caller stops it."""
    import tempfile

    var = Path(tempfile.mkdtemp(prefix=prefix))
    config = StackConfig(model=model, var_dir=var, rasa_port=free_port(), actions_port=free_port(),
                         web_port=free_port(), db_url=f"sqlite:///{var / 'atouts.db'}",
                         mail_smtp_port=free_port(), mail_web_port=free_port(),
                         extra_env={"ATOUTS_ENABLE_REST": "1", **(extra_env or {})})
    stack = Stack(config, log_dir=var / "logs")
    stack.start(timeout=timeout)
    return stack


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    config = StackConfig.from_env()
    stack = Stack(config)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    print("Démarrage d'Atouts (serveur Rasa, actions, page web)… ça prend une vingtaine de secondes.")
    try:
        stack.start()
    except (RuntimeError, SystemExit) as exc:
        print(f"Impossible de démarrer : {exc}", file=sys.stderr)
        return 1
    print(
        f"\n✅ Atouts est prêt. Ouvre http://localhost:{config.web_port} pour discuter.\n"
        f"   API Rasa : http://localhost:{config.rasa_port} (jeton : ATOUTS_RASA_TOKEN, sinon "
        f"{config.var_dir / 'keys' / 'rasa_api.token'})  ·  Ctrl-C pour tout arrêter.\n"
    )
    if stack.mail_catcher:
        print(f"   Mails (invitations, codes des référents) : http://localhost:{config.mail_web_port}\n")
    retention_at = time.monotonic()  # first run now, then daily
    retention: Optional[subprocess.Popen] = None
    try:
        while not stopping:
            if time.monotonic() >= retention_at and (retention is None or retention.poll() is not None):
                retention = stack.run_retention()
                retention_at = time.monotonic() + RETENTION_EVERY
            if any(p.poll() is not None for p in stack.processes):
                print("Un service s'est arrêté : on arrête tout.", file=sys.stderr)
                break
            time.sleep(0.5)
    finally:
        if retention is not None and retention.poll() is None:
            retention.terminate()
        stack.stop()
        print("Atouts est arrêté.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""End-to-end fixtures: the real Rasa server, action server and web app on the
trained model (models/atouts.tar.gz, built once by `make test`), with fresh
SQLite databases in a temporary folder."""
from __future__ import annotations

import json
import socket
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import pytest

from bot.config import ROOT
from bot.launcher import Stack, StackConfig
from tests.fakes.engagement import fake_engagement  # noqa: F401 - fixtures
from tests.fakes.graph import fake_graph  # noqa: F401 - fixtures
from tests.fakes.telegram import fake_telegram  # noqa: F401 - fixtures

MODEL = ROOT / "models" / "atouts.tar.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.rasa = f"http://127.0.0.1:{stack.config.rasa_port}"
        self.web = f"http://127.0.0.1:{stack.config.web_port}"
        self.rasa_token = stack.rasa_token  # Rasa's API needs it (tests/security checks without)

    def authorized(self, url: str) -> str:
        """Rasa API URLs get the token, as the web app sends it; channel routes
        (/webhooks/…) and the web app do not need it."""
        if not url.startswith(self.rasa + "/") or url.startswith(self.rasa + "/webhooks/") or "token=" in url:
            return url
        return f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode({'token': self.rasa_token})}"

    def post(self, url: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        url = self.authorized(url)
        request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def get(self, url: str) -> tuple[int, bytes, Dict[str, str]]:
        url = self.authorized(url)
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, err.read(), dict(err.headers)

    def say(self, sender: str, text: str) -> List[Dict[str, Any]]:
        """One user message over the REST channel; the bot's answers."""
        status, body = self.post(
            f"{self.rasa}/webhooks/rest/webhook",
            json.dumps({"sender": sender, "message": text}).encode(),
        )
        assert status == 200, (status, body[:300])
        return json.loads(body)

    def parse(self, text: str) -> Dict[str, Any]:
        status, body = self.post(f"{self.rasa}/model/parse", json.dumps({"text": text}).encode())
        assert status == 200, body[:300]
        return json.loads(body)

    def mails(self) -> List[Dict[str, Any]]:
        """The mails the stack sent, as the local mail catcher received them (oldest first)."""
        status, body, _ = self.get(f"http://127.0.0.1:{self.stack.config.mail_web_port}/messages.json")
        assert status == 200
        return json.loads(body)

    def tracker_rows(self, sender: str) -> int:
        with sqlite3.connect(self.stack.config.tracker_db) as db:
            return db.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,)).fetchone()[0]


@pytest.fixture(scope="session")
def partner_ports() -> Dict[str, int]:
    """Ports of two partner sites for the widget tests: one allowed, one not."""
    return {"allowed": free_port(), "blocked": free_port()}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_telegram, fake_graph, partner_ports, fake_engagement):
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` (make test does it) before the e2e tests.")
    var = tmp_path_factory.mktemp("e2e-var")
    config = StackConfig(
        model=MODEL, var_dir=var, rasa_port=free_port(), actions_port=free_port(),
        web_port=free_port(), db_url=f"sqlite:///{var / 'atouts.db'}",
        mail_smtp_port=free_port(), mail_web_port=free_port(),  # the local mail catcher
        # every request comes from 127.0.0.1 here: the per-address limit is unit-tested
        extra_env={"ATOUTS_ENABLE_REST": "1",  # the tests talk REST (off by default)
                   "ATOUTS_REFERENT_GET_LIMIT": "1000", "ATOUTS_REFERENT_POST_LIMIT": "1000",
                   "ATOUTS_WIDGET_ORIGINS": f"http://127.0.0.1:{partner_ports['allowed']}",
                   "ATOUTS_FOLLOW_UP_SECONDS": "4",  # reminders fire during the test
                   "ATOUTS_SCHEDULER_POLL": "1",  # the web app sends them within a second
                   **fake_engagement.env,  # missions from a local fake of the API Engagement
                   # the connectors talk to local fakes of Telegram and Messenger
                   **fake_telegram.env, **fake_graph.env},
    )
    stack = Stack(config, log_dir=var / "logs")
    stack.start(timeout=300)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def client(stack: Stack) -> Client:
    return Client(stack)


@pytest.fixture()
def store(stack: Stack):
    from bot.storage import Store

    s = Store(stack.config.app_db_url)
    yield s
    s.close()

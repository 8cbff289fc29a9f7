"""Security fixtures: the real stack (Rasa, action server, web app on the trained
model), probed from this machine as an attacker would. Its own stack (the e2e one is
not visible from here), with Telegram and Messenger on against local fakes so the
platform webhooks exist, and REST on (tests/security/test_identity.py starts one as
`make run` does, REST off)."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, Optional, Tuple

import pytest

from bot.launcher import Stack, StackConfig
from tests.e2e.conftest import MODEL, Client, free_port, partner_ports  # noqa: F401 - fixtures
from tests.fakes.engagement import fake_engagement  # noqa: F401 - fixtures
from tests.fakes.graph import fake_graph  # noqa: F401 - fixtures
from tests.fakes.telegram import fake_telegram  # noqa: F401 - fixtures


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_telegram, fake_graph, fake_engagement,
          partner_ports) -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail("No trained model: run `make train` (make test does it) before these tests.")
    var = tmp_path_factory.mktemp("security-var")
    config = StackConfig(
        model=MODEL, var_dir=var, rasa_port=free_port(), actions_port=free_port(),
        web_port=free_port(), db_url=f"sqlite:///{var / 'atouts.db'}", mail_smtp_port=free_port(), mail_web_port=free_port(),
        # REST on for the probes (off as `make run` starts it: test_identity checks that);
        # every request comes from 127.0.0.1 here: per-address limits are tested apart
        extra_env={"ATOUTS_ENABLE_REST": "1",
                   "ATOUTS_REFERENT_GET_LIMIT": "1000", "ATOUTS_REFERENT_POST_LIMIT": "1000",
                   "ATOUTS_WIDGET_ORIGINS": f"http://127.0.0.1:{partner_ports['allowed']}",
                   **fake_engagement.env, **fake_telegram.env, **fake_graph.env},
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


def secrets_of(stack: Stack) -> Tuple[str, str]:
    """(Rasa API token, action server secret) as the stack gives them to its services."""
    env = stack.env()
    return env.get("ATOUTS_RASA_TOKEN", ""), env.get("ATOUTS_ACTIONS_SECRET", "")


def http(method: str, url: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
         raw: Optional[bytes] = None, timeout: float = 60) -> Tuple[int, bytes, Dict[str, str]]:
    """One plain HTTP request (no token added): (status, body, headers)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and "Content-Type" not in request.headers:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)

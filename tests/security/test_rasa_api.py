"""Finding 2 of issue 10: Rasa's HTTP API had no token, so anyone reaching Rasa could
read any conversation, append events, trigger an export and read the link, push bot
messages, replace or retrain the model. Here, over HTTP on the running stack: every
API route answers 401/403 without the token (or with a wrong one), and works with it."""
from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from tests.security.conftest import http, secrets_of

pytestmark = pytest.mark.e2e

VICTIM = "victim-api"
# (method, path, body): the API routes an attacker would use first
API_ROUTES = [
    ("GET", f"/conversations/{VICTIM}/tracker", None),
    ("POST", f"/conversations/{VICTIM}/tracker/events", [{"event": "slot", "name": "first_name", "value": "Pirate"}]),
    ("PUT", f"/conversations/{VICTIM}/tracker/events", []),
    ("POST", f"/conversations/{VICTIM}/trigger_intent?output_channel=latest", {"name": "export_my_data"}),
    ("POST", f"/conversations/{VICTIM}/messages", {"text": "coucou", "sender": "user"}),
    ("POST", f"/conversations/{VICTIM}/execute", {"name": "action_export_my_data"}),
    ("POST", f"/conversations/{VICTIM}/predict", None),
    ("GET", f"/conversations/{VICTIM}/story", None),
    ("POST", "/model/parse", {"text": "bonjour"}),
    ("PUT", "/model", None),
    ("POST", "/model/train", None),
    ("GET", "/status", None),
    ("GET", "/domain", None),
    ("DELETE", "/model", None),  # last: without auth it would unload the model
]


def url(client, path: str, token: str = "") -> str:
    if not token:
        return f"{client.rasa}{path}"
    return f"{client.rasa}{path}{'&' if '?' in path else '?'}token={quote(token)}"


@pytest.fixture(scope="module")
def victim(client):
    """A person with a conversation (and consent, so an export link could be made)."""
    for text in ("/greet", "/affirm"):
        client.say(VICTIM, text)
    return VICTIM


@pytest.mark.parametrize("token", ["", "wrong-token"], ids=["no-token", "wrong-token"])
@pytest.mark.parametrize("method,path,body", API_ROUTES, ids=[f"{m} {p.split('?')[0]}" for m, p, _ in API_ROUTES])
def test_every_api_route_refuses_a_request_without_the_token(client, victim, token, method, path, body) -> None:
    status, answer, _ = http(method, url(client, path, token), body)
    assert status in (401, 403), (method, path, status, answer[:200])
    assert b"mes-donnees" not in answer and b"Pirate" not in answer


def test_the_victims_conversation_was_not_touched(client, victim, stack) -> None:
    token, _ = secrets_of(stack)
    status, body, _ = http("GET", url(client, f"/conversations/{VICTIM}/tracker", token))
    assert status == 200
    assert b"Pirate" not in body and b"mes-donnees" not in body
    assert b"action_export_my_data" not in body


def test_with_the_token_the_api_works(client, stack) -> None:
    token, _ = secrets_of(stack)
    assert token
    sender = "api-with-token"
    client.say(sender, "/greet")
    status, body, _ = http("GET", url(client, "/status", token))
    assert status == 200 and json.loads(body)["model_file"]
    status, body, _ = http("GET", url(client, f"/conversations/{sender}/tracker", token))
    assert status == 200 and json.loads(body)["sender_id"] == sender
    status, _, _ = http("POST", url(client, f"/conversations/{sender}/tracker/events", token),
                        [{"event": "slot", "name": "first_name", "value": "Inès"}])
    assert status == 200
    status, body, _ = http("POST", url(client, f"/conversations/{sender}/trigger_intent", token), {"name": "greet"})
    assert status == 200 and json.loads(body)["messages"]
    status, body, _ = http("POST", url(client, "/model/parse", token), {"text": "bonjour"})
    assert status == 200 and json.loads(body)["intent"]["name"]
    # the token opens the model routes: an empty body now reaches the handler (400), not 401
    for method, path in (("PUT", "/model"), ("POST", "/model/train")):
        status, _, _ = http(method, url(client, path, token))
        assert status == 400, (method, path, status)


def test_the_web_app_uses_the_token_server_side(client, stack, store) -> None:
    """The export page reads the tracker through the API with the token: the
    conversation is in the export (not the « could not be fetched » note)."""
    sender = "rest:export-with-token"  # as REST stores it
    for text in ("/greet", "/affirm"):
        client.say(sender, text)
    link = store.create_export_token(sender, 600)
    assert link is not None
    from tests.e2e.test_challenger import Browser

    browser = Browser()  # the page, then its button (a POST with CSRF) downloads
    status, page = browser.open(f"{client.web}/mes-donnees/{link}")
    assert status == 200 and 'method="post"' in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, body = browser.open(f"{client.web}/mes-donnees/{link}", {"csrf": csrf})
    assert status == 200
    payload = json.loads(body)
    assert "note" not in payload and payload["conversation"], payload.get("note")


def test_after_all_these_calls_the_token_is_in_no_log(stack) -> None:
    """Last of the API tests: every call above carried the token in its URL; none of the
    services' logs (Rasa, action server, web app) shows it."""
    from pathlib import Path

    token, secret = secrets_of(stack)
    logs = list(Path(stack.log_dir).glob("*.log"))
    assert {p.name for p in logs} >= {"rasa.log", "actions.log", "web.log"}
    for log in logs:
        text = log.read_bytes()
        assert token.encode() not in text and secret.encode() not in text, log.name

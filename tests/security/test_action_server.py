"""Finding 1 of issue 10: the action server answered anyone (0.0.0.0:5055, no
authentication) and trusted the ids it was sent. Here, through the real action server
of a running stack: it listens on loopback only, refuses a call without the shared
secret before any action runs, never echoes a request body, and even with the secret
an id pointing at someone else's rows changes nothing of theirs."""
from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import rasa_sdk
import yaml

from bot.config import ROOT
from tests.security.conftest import http, secrets_of

pytestmark = pytest.mark.e2e

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def action_call(action: str, sender: str, slots: Optional[Dict[str, Any]] = None, *,
                entities: Optional[List[Dict[str, Any]]] = None,
                slot_events: Optional[Dict[str, Any]] = None, active_loop: Optional[str] = None,
                text: str = "") -> Dict[str, Any]:
    """The JSON Rasa POSTs to the action server's /webhook."""
    latest = {"text": text, "intent": {}, "entities": entities or [], "intent_ranking": []}
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": latest, "input_channel": "socketio"},
    ]
    for name, value in (slot_events or {}).items():
        events.append({"event": "slot", "name": name, "value": value})
    tracker = {
        "sender_id": sender, "slots": {**(slots or {}), **(slot_events or {})}, "latest_message": latest,
        "events": events, "paused": False, "followup_action": None,
        "active_loop": {"name": active_loop} if active_loop else {},
        "latest_action_name": "action_listen", "latest_input_channel": "socketio",
    }
    return {"next_action": action, "sender_id": sender, "tracker": tracker, "domain": DOMAIN,
            "version": rasa_sdk.__version__}


def webhook(stack) -> str:
    return f"http://127.0.0.1:{stack.config.actions_port}/webhook"


def auth(secret: str) -> Dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def consenting(store, sender: str) -> None:
    store.record_consent(sender, True, "v-test", "socketio")


def claims(store, sender: str) -> List[Dict[str, Any]]:
    return [c for e in store.export_person(sender)["experiences"] for c in e["skills"]]


# --- reachable only by Rasa ------------------------------------------------------------

def test_the_action_server_listens_on_loopback_only(stack) -> None:
    """Bound to 127.0.0.1: another address of this machine (127.0.0.2 is on `lo` too,
    like a LAN address would be) finds nobody there."""
    port = stack.config.actions_port
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # it is up
    with pytest.raises(OSError):
        with socket.create_connection(("127.0.0.2", port), timeout=5):
            pass


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-secret"},
                                     {"Authorization": "Basic YTpi"}], ids=["none", "wrong", "basic"])
def test_a_forged_call_without_the_secret_is_refused_before_any_action_runs(stack, store, headers) -> None:
    victim = "victim-no-secret"
    consenting(store, victim)
    before = store.export_person(victim)
    # export: would hand out the victim's export link; erase: would erase them
    for call in (action_call("action_export_my_data", victim, {"consent": "oui"}),
                 action_call("action_delete_my_data", victim, {"consent": "oui", "delete_confirmed": True})):
        status, body, _ = http("POST", webhook(stack), call, headers=headers)
        assert status in (401, 403), (status, body[:200])
        assert b"mes-donnees" not in body and b"victim" not in body
    after = store.export_person(victim)
    assert after["person"] is not None, "the victim was erased by a forged call"
    assert after["export_tokens"] == before["export_tokens"] == [], "an export link was created"
    for path in ("/actions",):  # the list of actions too
        status, _, _ = http("GET", f"http://127.0.0.1:{stack.config.actions_port}{path}", headers=headers)
        assert status in (401, 403)


def test_rasa_itself_calls_with_the_secret(client) -> None:
    """The real path still works: Rasa sends the secret (endpoints.yml headers)."""
    answers = client.say("secret-ok", "/greet")
    assert answers and all("error" not in json.dumps(a).lower() for a in answers)


def test_errors_never_echo_the_request_body(stack) -> None:
    _, secret = secrets_of(stack)
    marker = "SECRET-STORY-OF-SOMEONE-4242"
    crash = {"next_action": "action_export_my_data", "tracker": marker, "sender_id": marker}  # the executor fails
    for headers, expected in (({}, 401), (auth(secret), 500)):
        status, body, _ = http("POST", webhook(stack), crash, headers=headers)
        assert status == expected and marker.encode() not in body, (status, body[:300])
    status, body, _ = http("POST", webhook(stack), {"next_action": "no_such_action", "tracker": {}}, headers=auth(secret))
    assert status == 404 and marker.encode() not in body
    status, body, _ = http("POST", webhook(stack), raw=b"{not json " + marker.encode(), headers=auth(secret))
    assert status == 400 and marker.encode() not in body


# --- ownership: ids from the request never reach someone else's rows -------------------

def test_a_forged_experience_id_writes_nothing_into_someone_elses_experience(stack, store) -> None:
    _, secret = secrets_of(stack)
    victim, attacker = "victim-exp", "attacker-exp"
    consenting(store, victim)
    consenting(store, attacker)
    victim_exp = store.add_experience(victim, "J'ai organisé la fête du quartier.")
    own_exp = store.add_experience(attacker, "J'ai aidé mon voisin.")
    proposal = {"id": "organisation", "confidence": 0.9, "evidence": "forged evidence"}

    def confirm(experience_id: int) -> int:
        call = action_call("validate_confirm_skills_form", attacker,
                           {"consent": "oui", "experience_id": experience_id, "pending_skills": [proposal],
                                "skill_shown": "organisation"},
                           slot_events={"skill_answer": "oui"}, active_loop="confirm_skills_form", text="oui")
        status, body, _ = http("POST", webhook(stack), call, headers=auth(secret))
        return status

    assert confirm(victim_exp) == 200
    assert claims(store, victim) == [], "a skill claim was written into the victim's experience"
    assert confirm(own_exp) == 200  # the same call on one's own experience does write
    assert [c["skill_id"] for c in claims(store, attacker)] == ["organisation"]


def test_a_forged_invitation_id_is_refused(stack, store) -> None:
    _, secret = secrets_of(stack)
    victim, attacker = "victim-inv", "attacker-inv"
    consenting(store, victim)
    consenting(store, attacker)
    token, info = store.create_invitation(victim, "Karim", "coach", ["organisation"])
    entity = [{"entity": "invitation", "value": str(info.id)}]
    for action in ("action_manage_invitations", "action_referent_answered"):
        call = action_call(action, attacker, {"consent": "oui"}, entities=entity)
        status, body, _ = http("POST", webhook(stack), call, headers=auth(secret))
        assert status == 200
        assert b"Karim" not in body, f"{action} told the attacker about the victim's referent"
    assert [i.state for i in store.invitations_of(victim)] == ["open"]
    assert store.invitation_of(attacker, info.id) is None
    assert store.invitation_of(victim, info.id) is not None


# --- the secret itself --------------------------------------------------------------------

def test_the_secrets_are_generated_private_and_never_logged(stack) -> None:
    token, secret = secrets_of(stack)
    assert len(token) >= 32 and len(secret) >= 32 and token != secret
    keys = Path(stack.config.var_dir) / "keys"
    generated = {"ATOUTS_RASA_TOKEN": (keys / "rasa_api.token", token),
                 "ATOUTS_ACTIONS_SECRET": (keys / "actions.secret", secret)}
    for name, (path, value) in generated.items():
        if os.environ.get(name, "").strip():
            continue  # chosen by whoever runs the tests: nothing generated
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().strip() == value
    logs = list(Path(stack.log_dir).glob("*.log"))
    assert logs
    for log in logs:
        text = log.read_bytes()
        assert token.encode() not in text and secret.encode() not in text, log.name
    # nor on a command line (any local user can read /proc/<pid>/cmdline)
    for proc in stack.processes:
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert token.encode() not in cmdline and secret.encode() not in cmdline
    for path in (ROOT / "endpoints.yml", Path(stack.config.var_dir) / "endpoints.runtime.yml"):
        text = path.read_text(encoding="utf-8")
        assert "${ATOUTS_ACTIONS_SECRET}" in text and secret not in text

"""The pieces behind the security tests, without a running stack: the generated
secrets, the Rasa and action-server entry points' refusals, storage ownership."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bot.action_server import bearer, create_app
from bot.rasa_server import rasa_arguments
from bot.service_secrets import ACTIONS_SECRET, RASA_TOKEN, stack_secrets
from bot.storage import Store
from bot.storage.challenge import row_id


def test_secrets_are_generated_once_private_and_env_wins(tmp_path: Path) -> None:
    first = stack_secrets(tmp_path, {})
    assert set(first) == {ACTIONS_SECRET, RASA_TOKEN}
    assert all(len(v) >= 43 for v in first.values()) and first[ACTIONS_SECRET] != first[RASA_TOKEN]
    keys = tmp_path / "keys"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    for path in keys.glob("*.secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((keys / "rasa_api.token").stat().st_mode) == 0o600
    assert stack_secrets(tmp_path, {}) == first  # reused: a restart keeps them
    chosen = "x" * 40
    assert stack_secrets(tmp_path, {RASA_TOKEN: chosen})[RASA_TOKEN] == chosen


def test_a_truncated_secret_file_is_refused(tmp_path: Path) -> None:
    stack_secrets(tmp_path, {})
    (tmp_path / "keys" / "actions.secret").write_text("short")
    with pytest.raises(ValueError):
        stack_secrets(tmp_path, {})


def test_rasa_api_never_starts_open_and_never_takes_the_token_on_the_command_line() -> None:
    token = "t" * 43
    assert rasa_arguments(["--enable-api", "--port", "5005"], token) == [
        "run", "--enable-api", "--port", "5005", "--auth-token", token]
    assert rasa_arguments(["--port", "5005"], "") == ["run", "--port", "5005"]  # no API: no token needed
    with pytest.raises(ValueError):
        rasa_arguments(["--enable-api"], "")
    with pytest.raises(ValueError):
        rasa_arguments(["--enable-api"], "short")
    with pytest.raises(ValueError):
        rasa_arguments(["--enable-api", "--auth-token", token], token)


def test_the_action_server_needs_a_real_secret() -> None:
    assert bearer("Bearer abc") == b"abc" and bearer("bearer  abc ") == b"abc"
    assert bearer("Basic abc") == b"" and bearer(None) == b"" and bearer("Bearer") == b""
    with pytest.raises(ValueError):
        create_app("")
    with pytest.raises(ValueError):
        create_app("too-short")


@pytest.mark.parametrize("value, expected", [
    (7, 7), ("7", 7), (" 12 ", 12), ("0", None), (0, None), (-3, None), ("-3", None), ("1e3", None),
    ("٣", None), ("9" * 19, None), (True, None), (None, None), (3.0, None), ("abc", None)])
def test_row_ids_from_requests(value, expected) -> None:
    assert row_id(value) == expected


def test_invitations_are_scoped_to_their_owner(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'app.db'}")
    store.migrate()
    for sender in ("victim", "attacker"):
        store.record_consent(sender, True, "v1")
    _, info = store.create_invitation("victim", "Karim", "coach", ["organisation"])
    assert store.invitation_of("victim", info.id) == store.invitation_of("victim", str(info.id))
    assert store.invitation_of("attacker", info.id) is None
    assert store.revoke_invitation("attacker", info.id) is None
    assert store.revoke_invitation("attacker", "9" * 30) is None  # no overflow, no crash
    assert store.invitation_of("victim", info.id).state == "open"
    store.close()


def test_the_runtime_endpoints_refer_to_the_secret_without_holding_it(tmp_path: Path, monkeypatch) -> None:
    import yaml

    from bot.launcher import StackConfig, write_endpoints

    monkeypatch.setenv(ACTIONS_SECRET, "s" * 43)
    path = write_endpoints(StackConfig(var_dir=tmp_path, actions_port=5999))
    text = path.read_text(encoding="utf-8")
    assert "s" * 43 not in text
    action = yaml.safe_load(text)["action_endpoint"]
    assert action["url"] == "http://127.0.0.1:5999/webhook"
    assert action["headers"] == {"Authorization": "Bearer ${ATOUTS_ACTIONS_SECRET}"}
    from rasa.utils.endpoints import read_endpoint_config  # Rasa expands it from its environment

    assert read_endpoint_config(str(path), "action_endpoint").headers == {"Authorization": "Bearer " + "s" * 43}

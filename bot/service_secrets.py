"""The two shared secrets between our own processes (README, "Threat model"):

- ``ATOUTS_ACTIONS_SECRET``: Rasa sends it on every call to the action server
  (``Authorization: Bearer …``, from ``endpoints.yml``); the action server refuses
  any call without it (``bot.action_server``).
- ``ATOUTS_RASA_TOKEN``: Rasa's HTTP API token (``--auth-token``, given by
  ``bot.rasa_server`` so it never appears on a command line); the web app and the
  launcher use it server-side.

Taken from the environment when set; otherwise generated once (256 bits) into
``var/keys/`` (0600 files in a 0700 folder, git-ignored) and reused. Never logged.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Dict, Mapping

from bot.badges._files import locked, write_atomic

ACTIONS_SECRET = "ATOUTS_ACTIONS_SECRET"
RASA_TOKEN = "ATOUTS_RASA_TOKEN"
FILES = {ACTIONS_SECRET: "actions.secret", RASA_TOKEN: "rasa_api.token"}
MIN_LENGTH = 32


def load_or_create(var_dir: Path, name: str) -> str:
    """The secret ``name`` kept under ``var_dir/keys``, created on first use."""
    folder = Path(var_dir) / "keys"
    path = folder / FILES[name]
    with locked(folder / ".lock"):  # the badge key store's lock: same folder
        folder.chmod(0o700)
        if not path.exists():
            write_atomic(path, secrets.token_urlsafe(32).encode("ascii"), 0o600)
        value = path.read_text(encoding="ascii").strip()
    if len(value) < MIN_LENGTH:
        raise ValueError(f"{path} is too short: delete it to have a new one generated")
    return value


def stack_secrets(var_dir: Path, env: Mapping[str, str]) -> Dict[str, str]:
    """{ATOUTS_ACTIONS_SECRET, ATOUTS_RASA_TOKEN}: from ``env`` when set, else from var/."""
    found: Dict[str, str] = {}
    for name in FILES:
        value = (env.get(name) or "").strip()
        found[name] = value or load_or_create(var_dir, name)
    return found

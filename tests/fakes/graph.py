"""Fake Messenger Graph API (filled in by the Messenger connector work)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="session")
def fake_graph():
    """Session-wide fake; ``.env`` holds the ATOUTS_MESSENGER_* variables for the stack."""
    yield SimpleNamespace(env={})

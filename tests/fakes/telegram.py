"""Fake Telegram Bot API (filled in by the Telegram connector work)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="session")
def fake_telegram():
    """Session-wide fake; ``.env`` holds the ATOUTS_TELEGRAM_* variables for the stack."""
    yield SimpleNamespace(env={})

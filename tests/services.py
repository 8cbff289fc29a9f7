"""The machine's real services for tests: PostgreSQL (127.0.0.1:5432) and Redis
(127.0.0.1:6379), as CI runs them (issue 13: test against them for real).

Each PostgreSQL test gets its own throw-away database. Without the service the test
is skipped on a developer machine, and fails where ``ATOUTS_REQUIRE_SERVICES=1``
(``.ci/run`` sets it): CI never passes by skipping them.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest

PG_ADMIN_URL = os.environ.get("ATOUTS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ATOUTS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error.__class__.__name__}: {error})"
    if os.environ.get("ATOUTS_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " — required here (ATOUTS_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@contextmanager
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; its SQLAlchemy URL. Dropped afterwards."""
    import psycopg2

    name = f"atouts_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as error:
        _unavailable("PostgreSQL", error)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1)
        yield f"{base}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def redis_client():  # noqa: ANN201 - redis.Redis
    """A client on a database of its own (15), emptied first."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.RedisError as error:
        _unavailable("Redis", error)
    return client

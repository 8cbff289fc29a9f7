"""Engine and migration plumbing shared by `Store` and the Alembic env.py."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import QueuePool

from bot.privacy.files import private_sqlite

DEFAULT_URL = "sqlite:///var/atouts.db"  # documented default; the absolute path comes from bot.config
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 7_341_902_215  # pg_advisory_lock key: one migrating process at a time


def url_from_env() -> str:
    """ATOUTS_DB_URL, else the embedded default: one rule for every process."""
    from bot.config import Settings

    return Settings.from_env().db_url


def tune_sqlite(dbapi_connection, _record=None) -> None:
    """Foreign keys on (cascades); WAL journal with normal sync: readers don't
    block the writer and a commit costs no fsync of the whole file (durable
    up to the last checkpoint, the usual setting for WAL). Secure delete on every
    connection: deleted rows are overwritten with zeros, whatever the compile-time
    default of the platform's SQLite."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Engine for `url`; SQLite gets foreign keys (hence cascades) and its folder created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite(database)  # created 0600 (and its folder) before SQLite opens it
    options: dict = {}
    if parsed.get_backend_name() == "sqlite" and (parsed.database or ":memory:") != ":memory:":
        # SQLAlchemy 1.4 opens a new connection per session on a SQLite file (NullPool),
        # and tune_sqlite's pragmas ran every time: a small pool instead (issue 12)
        options = {"poolclass": QueuePool, "pool_size": 4, "max_overflow": 4,
                   "connect_args": {"check_same_thread": False}}
    engine = create_engine(parsed, future=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", tune_sqlite)
    return engine


def checkpoint(engine: Engine) -> None:
    """SQLite in WAL mode: copy the write-ahead log into the database and empty it, so that
    erased rows do not linger in old log frames (secure delete zeroes the pages)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def alembic_config(url: str) -> Config:
    """Alembic configuration without any alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection to run migrations on, committed at the end.

    SQLite batch migrations rebuild tables (DROP TABLE), which with foreign keys
    on would fire ON DELETE CASCADE and wipe child rows: keep them off meanwhile
    (the pragma only works outside a transaction).
    """
    sqlite = engine.dialect.name == "sqlite"
    with _one_at_a_time(engine), engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # a session-level advisory lock, released when this connection is returned
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            connection.commit()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        try:
            yield connection
            connection.commit()
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            if engine.dialect.name == "postgresql":
                connection.rollback()
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                connection.commit()


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """SQLite: an exclusive file lock beside the database file (PostgreSQL: see above)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    from bot.badges._files import locked

    with locked(Path(database).with_name(Path(database).name + ".migrate.lock")):
        yield

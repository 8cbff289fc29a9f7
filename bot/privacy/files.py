"""Files holding personal data or secrets are created readable by their owner only."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from sqlalchemy.engine import make_url

PRIVATE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_file(path: Union[str, Path]) -> Path:
    """Create ``path`` empty with mode 0600 if missing (never readable by others, even for
    an instant), else bring it back to 0600; its folder is created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE)
    os.close(fd)
    os.chmod(path, PRIVATE)
    return path


def sqlite_path(url_or_path: str) -> Path | None:
    """The file of a SQLite URL (``sqlite:///x.db``) or a bare path; None for memory/others."""
    if "://" in url_or_path:
        parsed = make_url(url_or_path)
        if parsed.get_backend_name() != "sqlite":
            return None
        database = parsed.database or ""
    else:
        database = url_or_path
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def private_sqlite(url_or_path: str) -> None:
    """The database file (and its WAL companions, if any) 0600, created so before SQLite
    opens it: SQLite gives its -wal/-shm files the database file's mode."""
    path = sqlite_path(url_or_path)
    if path is None:
        return
    private_file(path)
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, PRIVATE)

"""The store's schema, versioned by Alembic revisions in `lib/store/migrations/versions/` (the
one declaration of every table): opening a store brings its database to HEAD, on SQLite and on
PostgreSQL alike, keeping every row. A database already at HEAD costs one small query."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, Engine, inspect
from sqlalchemy.exc import DBAPIError

HEAD: Final = "0002"  # the newest revision (a test holds it to the scripts)
ADVISORY_LOCK: Final = 7_401_023  # PostgreSQL: instances starting together migrate one by one
SCRIPTS: Final = Path(__file__).resolve().parent / "migrations"


def current(conn: Connection) -> str | None:
    """The database's revision (None: never migrated, an older app's file or empty)."""
    try:
        with conn.begin_nested():
            row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except DBAPIError:
        return None
    return str(row[0]) if row else None


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Bring the database to `target`: (revision before, revision after)."""
    from alembic import command
    from alembic.config import Config

    with _one_at_a_time(engine), engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # DDL is transactional there: the next waits
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
        before = current(conn)
        if before == HEAD and target == "head":
            return before, HEAD
        cfg = Config()
        cfg.set_main_option("script_location", str(SCRIPTS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
        after = current(conn)
    return before, after or "base"


@contextlib.contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """SQLite runs DDL outside transactions: processes opening one new file take turns on a
    lock file beside it (a second one then finds the file at HEAD)."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def columns(engine: Engine) -> dict[str, frozenset[str]]:
    """Each table's columns, as the migrated database has them."""
    found = inspect(engine)
    return {
        table: frozenset(c["name"] for c in found.get_columns(table))
        for table in found.get_table_names()
        if table != "alembic_version"
    }

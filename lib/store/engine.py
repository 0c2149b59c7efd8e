"""Where the store lives: a SQLite file (the embedded default) or a PostgreSQL URL (a team's
shared lab), as one SQLAlchemy engine. The store's SQL is written once, with `?` placeholders;
`driver_sql` turns it into what the engine's driver takes.

`AVATARLAB_DB` is a file path, `sqlite:///path`, or `postgresql://user:pass@host:port/db`.
"""

from __future__ import annotations

import os
import re
from typing import Any, Final, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

Dialect = Literal["sqlite", "postgresql"]
POSTGRES_PREFIXES: Final = ("postgresql://", "postgres://", "postgresql+psycopg://")


class StoreError(RuntimeError):
    """The database can't be used; the message says what to do."""


def is_url(target: str) -> bool:
    return "://" in target


def dialect_of(target: str) -> Dialect:
    return "postgresql" if target.startswith(POSTGRES_PREFIXES) else "sqlite"


def shown(target: str) -> str:
    """The target as messages and pages may show it: a URL's password hidden."""
    if not is_url(target):
        return target
    try:
        return make_url(target).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", target)


def _sqlalchemy_url(target: str) -> str:
    if target.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    if is_url(target):
        if not target.startswith(("sqlite://", "postgresql+psycopg://")):
            scheme = target.split("://", 1)[0]
            raise StoreError(
                f"AVATARLAB_DB names a {scheme!r} database: use a SQLite file path or a "
                "postgresql://user:password@host:port/database URL"
            )
        return target
    if target == ":memory:":
        return "sqlite://"
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    return f"sqlite:///{os.path.abspath(target)}"


def make_engine(target: str, *, timeout: float = 5.0) -> Engine:
    """SQLite: one connection shared by the process's threads (the store serialises it; writes
    are tiny). PostgreSQL: a pool, as instances and their threads write concurrently."""
    url = _sqlalchemy_url(target)
    if dialect_of(target) == "postgresql":
        return create_engine(
            url,
            pool_size=8,
            max_overflow=8,
            pool_pre_ping=True,
            connect_args={"connect_timeout": max(1, int(timeout))},
        )
    engine = create_engine(
        url,
        poolclass=StaticPool,
        connect_args={"check_same_thread": False, "timeout": timeout},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


def driver_sql(sql: str, dialect: Dialect) -> str:
    """The store's `?` placeholders as the driver's: psycopg takes `%s` (and a literal `%` is
    written `%%`). The store's SQL has no `?` or `%` inside string literals but LIKE patterns,
    which are always passed as parameters."""
    if dialect == "sqlite":
        return sql
    return sql.replace("%", "%%").replace("?", "%s")


def explain(target: str, exc: BaseException) -> str:
    """What went wrong with the database, and what to do about it."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    where = shown(target)
    if dialect_of(target) == "postgresql":
        if "connect" in text or "Connection refused" in text or "timeout" in text:
            return (
                f"cannot reach the database {where} ({text}): is PostgreSQL running there? "
                "Check the host, port and credentials in AVATARLAB_DB"
            )
        return f"the database {where} failed ({text}): check AVATARLAB_DB and the server's log"
    if "locked" in text or "busy" in text:
        return (
            f"the database {where!r} is locked by another program: close it (or set "
            "AVATARLAB_DB to another file) and try again"
        )
    if "readonly" in text or "read-only" in text:
        return f"the database {where!r} is read-only: make it writable or set AVATARLAB_DB"
    return f"the database {where!r} failed ({text}): move it aside or set AVATARLAB_DB"

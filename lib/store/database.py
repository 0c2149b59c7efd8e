"""The one store: sessions, tasks and events with timestamps, in SQLite (WAL).

SQL is kept portable (standard types, `?` placeholders translated in one place, no SQLite-only
syntax in queries) so a PostgreSQL URL can later replace the file for a shared deployment.
Timestamps are epoch seconds (`time.time()`); durations are derived by readers.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from lib.store.schema import INDEXES, SCHEMA_VERSION, TABLES


class StoreError(RuntimeError):
    """The database can't be used; the message says what to do."""


def _explain(path: str, exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return (
            f"the database {path!r} is locked by another program: close it (or set "
            "AVATARLAB_DB to another file) and try again"
        )
    if "readonly" in text or "read-only" in text:
        return f"the database {path!r} is read-only: make it writable or set AVATARLAB_DB"
    return f"the database {path!r} failed ({text}): move it aside or set AVATARLAB_DB"


def new_id() -> str:
    return uuid.uuid4().hex


class Store:
    def __init__(self, path: str, *, timeout: float = 5.0) -> None:
        """`timeout`: how long a write waits for another program's lock before giving up."""
        self.path = path
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._lock = threading.RLock()
        try:
            # One connection shared by threads, serialised by our lock (writes are tiny).
            self._conn = sqlite3.connect(path, check_same_thread=False, timeout=timeout)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the database {path!r}: {exc}. Move the file aside or set "
                "AVATARLAB_DB to a new path."
            ) from exc

    def _migrate(self) -> None:
        with self._tx() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            for table, cols in TABLES.items():
                body = ", ".join(f"{name} {sqltype}" for name, sqltype in cols)
                cur.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
                # A column added by a later version: nullable, so ADD COLUMN is portable SQL.
                have = {r[1] for r in cur.execute(f"PRAGMA table_info({table})").fetchall()}
                for name, sqltype in cols:
                    if name not in have:
                        cur.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sqltype}")
            for ddl in INDEXES:
                cur.execute(ddl)
            row = cur.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if row[0] is None:
                cur.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] < SCHEMA_VERSION:  # new tables were created above; columns unchanged
                cur.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
                self._conn.commit()
            except sqlite3.OperationalError as exc:
                self._conn.rollback()
                raise StoreError(_explain(self.path, exc)) from exc
            except BaseException:
                self._conn.rollback()
                raise
            finally:
                cur.close()

    @staticmethod
    def _columns(table: str) -> set[str]:
        return {name for name, _ in TABLES[table]}

    def insert(self, table: str, row: Mapping[str, Any]) -> str:
        data = dict(row)
        data.setdefault("id", new_id())
        unknown = set(data) - self._columns(table)
        if unknown:
            raise ValueError(f"unknown columns for {table}: {sorted(unknown)}")
        cols = ", ".join(data)
        marks = ", ".join("?" for _ in data)
        with self._tx() as cur:
            cur.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(data.values()))
        return str(data["id"])

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Many rows with the same columns, in one transaction (imports, seeding)."""
        if not rows:
            return 0
        cols = list(rows[0])
        unknown = set(cols) - self._columns(table)
        if unknown:
            raise ValueError(f"unknown columns for {table}: {sorted(unknown)}")
        marks = ", ".join("?" for _ in cols)
        with self._tx() as cur:
            cur.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                [tuple(r[c] for c in cols) for r in rows],
            )
        return len(rows)

    def update(self, table: str, row_id: str, fields: Mapping[str, Any]) -> None:
        if not fields:
            return
        unknown = set(fields) - self._columns(table)
        if unknown:
            raise ValueError(f"unknown columns for {table}: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as cur:
            cur.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*fields.values(), row_id))

    def add_event(
        self,
        session_id: str,
        kind: str,
        at: float | None = None,
        task_id: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> str:
        return self.insert(
            "avatar_events",
            {
                "session_id": session_id,
                "task_id": task_id,
                "kind": kind,
                "at": time.time() if at is None else at,
                "payload": json.dumps(payload, sort_keys=True) if payload else None,
            },
        )

    def delete_conversation(self, conversation_id: str) -> dict[str, int]:
        """A conversation and everything recorded under it (turns, pieces, notes, its avatar
        sessions with their tasks and events, its model session with its events)."""
        counts: dict[str, int] = {}
        with self._tx() as cur:
            row = cur.execute(
                "SELECT brain_session_id FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                return counts
            brain = row[0]
            turn_ids = "SELECT id FROM turns WHERE conversation_id = ?"
            avatar_ids = "SELECT id FROM avatar_sessions WHERE conversation_id = ?"
            steps = (
                ("chunks", f"turn_id IN ({turn_ids})", (conversation_id,)),
                ("turns", "conversation_id = ?", (conversation_id,)),
                ("conversation_events", "conversation_id = ?", (conversation_id,)),
                ("avatar_tasks", f"session_id IN ({avatar_ids})", (conversation_id,)),
                ("avatar_events", f"session_id IN ({avatar_ids})", (conversation_id,)),
                ("avatar_sessions", "conversation_id = ?", (conversation_id,)),
                ("brain_events", "session_id = ?", (brain,)),
                ("brain_sessions", "id = ?", (brain,)),
                ("conversations", "id = ?", (conversation_id,)),
            )
            for table, where, params in steps:
                counts[table] = cur.execute(f"DELETE FROM {table} WHERE {where}", params).rowcount
        return counts

    def delete_avatar_session(self, session_id: str) -> int:
        """A Studio session with its tasks and events."""
        with self._tx() as cur:
            cur.execute("DELETE FROM avatar_tasks WHERE session_id = ?", (session_id,))
            cur.execute("DELETE FROM avatar_events WHERE session_id = ?", (session_id,))
            return int(
                cur.execute("DELETE FROM avatar_sessions WHERE id = ?", (session_id,)).rowcount
            )

    def frame(self, sql: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query(sql, self._conn, params=params)

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._conn.execute(f"SELECT * FROM {table} WHERE id = ?", (row_id,))
            row = cur.fetchone()
            names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True)) if row else None

    def sessions(self) -> pd.DataFrame:
        return self.frame("SELECT * FROM avatar_sessions ORDER BY requested_at DESC")

    def tasks(self, session_id: str) -> pd.DataFrame:
        return self.frame(
            "SELECT * FROM avatar_tasks WHERE session_id = ? ORDER BY requested_at", (session_id,)
        )

    def events(self, session_id: str) -> pd.DataFrame:
        return self.frame(
            "SELECT * FROM avatar_events WHERE session_id = ? ORDER BY at", (session_id,)
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


_shared: dict[str, Store] = {}
_shared_lock = threading.Lock()


def open_store(path: str | None = None) -> Store:
    """One Store per path per process (the page, runners and CLI share it)."""
    from lib.core.config import db_path

    key = path or db_path()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Store(key)
        return _shared[key]

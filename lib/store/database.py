"""The one store: sessions, tasks and events with timestamps, in SQLite (WAL) by default or in
PostgreSQL for a team (lib.store.engine).

SQL is written once, portable (standard types, `?` placeholders translated in one place, no
dialect-only syntax but where a function says so). Timestamps are epoch seconds (`time.time()`);
durations are derived by readers. The schema is the migrations' (lib.store.migrate).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import pandas as pd
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from lib.store.engine import StoreError, dialect_of, driver_sql, explain, make_engine, shown
from lib.store.migrate import columns, upgrade

__all__ = ["Store", "StoreError", "Tx", "new_id", "open_store"]


def new_id() -> str:
    return uuid.uuid4().hex


class Tx:
    """One transaction's statements, in the store's portable SQL (`?` placeholders)."""

    def __init__(self, conn: Connection, store: Store) -> None:
        self._conn, self._store = conn, store

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        result = self._conn.exec_driver_sql(self._store.sql(sql), tuple(params))
        return [tuple(r) for r in result.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement: the number of rows it changed."""
        return int(self._conn.exec_driver_sql(self._store.sql(sql), tuple(params)).rowcount)


class Store:
    def __init__(self, path: str, *, timeout: float = 5.0) -> None:
        """`path`: a SQLite file, or a database URL (lib.store.engine). `timeout`: how long a
        write waits for another program's lock (SQLite) or a connection (PostgreSQL)."""
        self.path = path
        self.where = shown(path)  # for messages: a URL's password hidden
        self.dialect = dialect_of(path)
        # SQLite: one shared connection, so writes are serialised here; PostgreSQL: a pool.
        self._lock: AbstractContextManager[Any] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )
        try:
            self._engine = make_engine(path, timeout=timeout)
            upgrade(self._engine)
            self._columns = columns(self._engine)
        except (DBAPIError, OSError) as exc:
            raise StoreError(
                f"cannot open the database: {explain(path, exc)}"
                + (
                    ". Move the file aside or set AVATARLAB_DB to a new path."
                    if self.dialect == "sqlite"
                    else ""
                )
            ) from exc

    def sql(self, sql: str) -> str:
        return driver_sql(sql, self.dialect)

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """Statements that must commit together (or not at all)."""
        with self._lock:
            try:
                with self._engine.begin() as conn:
                    yield Tx(conn, self)
            except OperationalError as exc:
                raise StoreError(explain(self.path, exc)) from exc

    def check_columns(self, table: str, names: Sequence[str]) -> None:
        unknown = set(names) - self._columns.get(table, frozenset())
        if unknown:
            raise ValueError(f"unknown columns for {table}: {sorted(unknown)}")

    def insert(self, table: str, row: Mapping[str, Any]) -> str:
        data = dict(row)
        data.setdefault("id", new_id())
        self.check_columns(table, list(data))
        marks = ", ".join("?" for _ in data)
        with self.transaction() as tx:
            tx.execute(
                f"INSERT INTO {table} ({', '.join(data)}) VALUES ({marks})", list(data.values())
            )
        return str(data["id"])

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Many rows with the same columns, in one transaction (imports, seeding)."""
        if not rows:
            return 0
        if "id" in self._columns.get(table, ()) and "id" not in rows[0]:
            rows = [{"id": new_id(), **r} for r in rows]  # as `insert` does
        cols = list(rows[0])
        self.check_columns(table, cols)
        marks = ", ".join("?" for _ in cols)
        with self._lock:
            try:
                with self._engine.begin() as conn:
                    conn.exec_driver_sql(
                        self.sql(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"),
                        [tuple(r[c] for c in cols) for r in rows],
                    )
            except OperationalError as exc:
                raise StoreError(explain(self.path, exc)) from exc
        return len(rows)

    def update(self, table: str, row_id: str, fields: Mapping[str, Any]) -> None:
        if not fields:
            return
        self.check_columns(table, list(fields))
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as tx:
            tx.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (*fields.values(), row_id))

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
        with self.transaction() as tx:
            found = tx.rows(
                "SELECT brain_session_id FROM conversations WHERE id = ?", (conversation_id,)
            )
            if not found:
                return counts
            brain = found[0][0]
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
                counts[table] = tx.execute(f"DELETE FROM {table} WHERE {where}", params)
        return counts

    def delete_avatar_session(self, session_id: str) -> int:
        """A Studio session with its tasks and events."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM avatar_tasks WHERE session_id = ?", (session_id,))
            tx.execute("DELETE FROM avatar_events WHERE session_id = ?", (session_id,))
            return tx.execute("DELETE FROM avatar_sessions WHERE id = ?", (session_id,))

    def frame(self, sql: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
        """A query's rows as a frame, typed as pandas reads SQL (the same on both backends)."""
        with self._lock:
            try:
                with self._engine.connect() as conn:
                    return pd.read_sql_query(self.sql(sql), conn, params=tuple(params))
            except OperationalError as exc:
                raise StoreError(explain(self.path, exc)) from exc

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                with self._engine.connect() as conn:
                    result = conn.exec_driver_sql(
                        self.sql(f"SELECT * FROM {table} WHERE id = ?"), (row_id,)
                    )
                    row = result.first()
                    names = list(result.keys())
            except OperationalError as exc:
                raise StoreError(explain(self.path, exc)) from exc
        return dict(zip(names, tuple(row), strict=True)) if row else None

    def tables(self) -> list[str]:
        return list(self._columns)

    def table_columns(self, table: str) -> frozenset[str]:
        return self._columns[table]

    def count(self, table: str) -> int:
        with self.transaction() as tx:
            return int(tx.rows(f"SELECT COUNT(*) FROM {table}")[0][0])

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
            self._engine.dispose()


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

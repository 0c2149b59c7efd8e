"""Moving a lab: every row of every table from one database to another (a SQLite file to a
team's PostgreSQL), in batches, then verified table by table (row counts and ids)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from lib.store.database import Store

BATCH: Final = 2000


class CopyError(RuntimeError):
    """The copy cannot start, or did not verify: the message says why."""


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    digest: str  # of the sorted ids, the same on both sides when verified


def _ids_digest(store: Store, table: str) -> tuple[int, str]:
    with store.transaction() as tx:
        ids = [str(r[0]) for r in tx.rows(f"SELECT id FROM {table} ORDER BY id")]
    return len(ids), hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def copy_lab(
    source: Store, target: Store, progress: Callable[[str, int], None] | None = None
) -> list[TableCopy]:
    """Copy every table of `source` into an empty `target` (both migrated to the same
    revision); raises CopyError if the target holds rows or a table does not verify."""
    tables = sorted(source.tables())
    if set(tables) != set(target.tables()):
        raise CopyError("the two databases are at different schema versions: migrate both")
    busy = [t for t in tables if target.count(t)]
    if busy:
        raise CopyError(
            f"the target already holds rows (in {', '.join(busy)}): copy into an empty database"
        )
    done: list[TableCopy] = []
    for table in tables:
        cols = sorted(source.table_columns(table))
        offset = 0
        while True:
            with source.transaction() as tx:
                rows = tx.rows(
                    f"SELECT {', '.join(cols)} FROM {table} ORDER BY id LIMIT ? OFFSET ?",
                    (BATCH, offset),
                )
            if not rows:
                break
            target.insert_many(table, [dict(zip(cols, r, strict=True)) for r in rows])
            offset += len(rows)
            if progress:
                progress(table, offset)
        have, theirs = _ids_digest(source, table), _ids_digest(target, table)
        if have != theirs:
            raise CopyError(
                f"{table}: {have[0]} rows in the source but {theirs[0]} in the target after the "
                "copy (or different ids): the target was written to meanwhile?"
            )
        done.append(TableCopy(table, have[0], have[1]))
    return done


def row_counts(store: Store) -> dict[str, Any]:
    return {t: store.count(t) for t in sorted(store.tables())}

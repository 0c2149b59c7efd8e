"""Saved pricing table versions (the `pricing_tables` table): the TOML text of each version with
who saved it and when. The unique index on (name, version) decides between two instances
saving the same version at once, on SQLite and PostgreSQL alike: exactly one row is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from lib.store.database import Store

_COLUMNS = "name, version, raw, created_at, created_by"


@dataclass(frozen=True)
class SavedVersion:
    name: str
    version: int
    raw: str
    created_at: float  # epoch seconds
    created_by: str | None


class VersionTaken(Exception):
    """(name, version) is saved already: `existing` says by whom and when."""

    def __init__(self, existing: SavedVersion) -> None:
        super().__init__(f"version {existing.version} of {existing.name} is saved already")
        self.existing = existing


def _row(row: tuple[object, ...]) -> SavedVersion:
    name, version, raw, created_at, created_by = row
    return SavedVersion(
        str(name),
        int(str(version)),
        str(raw),
        float(str(created_at)),
        None if created_by is None else str(created_by),
    )


def saved_versions(store: Store, name: str | None = None) -> list[SavedVersion]:
    """Every saved version (of `name`, if given), by name then version."""
    where, params = ("WHERE name = ? ", (name,)) if name is not None else ("", ())
    with store.transaction() as tx:
        rows = tx.rows(
            f"SELECT {_COLUMNS} FROM pricing_tables {where}ORDER BY name, version", params
        )
    return [_row(r) for r in rows]


def saved_version(store: Store, name: str, version: int) -> SavedVersion | None:
    with store.transaction() as tx:
        rows = tx.rows(
            f"SELECT {_COLUMNS} FROM pricing_tables WHERE name = ? AND version = ?",
            (name, version),
        )
    return _row(rows[0]) if rows else None


def insert_version(
    store: Store, name: str, version: int, raw: str, created_by: str | None
) -> SavedVersion:
    """Write one version; raises VersionTaken if (name, version) is saved already, whoever got
    there first (the unique index is the arbiter, not a read before the write)."""
    saved = SavedVersion(name, version, raw, time.time(), created_by)
    try:
        store.insert(
            "pricing_tables",
            {
                "name": name,
                "version": version,
                "raw": raw,
                "created_at": saved.created_at,
                "created_by": created_by,
            },
        )
    except IntegrityError:
        existing = saved_version(store, name, version)
        if existing is None:  # not the unique index: some other constraint, let it say which
            raise
        raise VersionTaken(existing) from None
    return saved

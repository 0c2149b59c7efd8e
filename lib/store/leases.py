"""Instances and their leases, and the conditional updates that let many instances share one
database: a row changes state only if it is still in the state the caller saw, so when two
instances race for it exactly one wins (the statement's row count says which)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lib.store.database import Store


@dataclass(frozen=True)
class Lease:
    owner: str
    lease_until: float
    stopped_at: float | None


def hold_lease(store: Store, owner: str, host: str, pid: int, now: float, until: float) -> None:
    """Register this instance, or renew its lease."""
    with store.transaction() as tx:
        renewed = tx.execute(
            "UPDATE instances SET lease_until = ?, stopped_at = NULL WHERE id = ?", (until, owner)
        )
        if not renewed:
            tx.execute(
                "INSERT INTO instances (id, host, pid, started_at, lease_until) "
                "VALUES (?, ?, ?, ?, ?)",
                (owner, host, pid, now, until),
            )


def release_lease(store: Store, owner: str, now: float) -> None:
    """This instance is stopping: its lease ends now (its rows are reapable at once)."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE instances SET lease_until = ?, stopped_at = ? WHERE id = ?", (now, now, owner)
        )


def leases(store: Store, owners: Sequence[str]) -> dict[str, Lease]:
    """The leases of these owners that registered (an owner without a row never did)."""
    wanted = sorted({o for o in owners if o})
    if not wanted:
        return {}
    marks = ",".join("?" for _ in wanted)
    with store.transaction() as tx:
        rows = tx.rows(
            f"SELECT id, lease_until, stopped_at FROM instances WHERE id IN ({marks})", wanted
        )
    return {str(r[0]): Lease(str(r[0]), float(r[1]), r[2]) for r in rows}


def live_instances(store: Store, now: float) -> list[str]:
    with store.transaction() as tx:
        rows = tx.rows("SELECT id FROM instances WHERE lease_until >= ? ORDER BY id", (now,))
    return [str(r[0]) for r in rows]


def claim(
    store: Store,
    table: str,
    row_id: str,
    seen: Mapping[str, Any],
    fields: Mapping[str, Any],
) -> bool:
    """Set `fields` on the row only if its columns still hold the values in `seen` (None is
    matched as NULL): True if this caller changed it, False if another got there first."""
    store.check_columns(table, [*seen, *fields])
    sets = ", ".join(f"{k} = ?" for k in fields)
    conds = " AND ".join(f"{k} IS NULL" if v is None else f"{k} = ?" for k, v in seen.items())
    params = [*fields.values(), row_id, *(v for v in seen.values() if v is not None)]
    with store.transaction() as tx:
        return tx.execute(f"UPDATE {table} SET {sets} WHERE id = ? AND {conds}", params) == 1

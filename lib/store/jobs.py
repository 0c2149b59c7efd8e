"""Sweeps as a shared job queue: one row per configuration × repeat, claimed by one instance at
a time under a lease. PostgreSQL hands each claimer a different row (`FOR UPDATE SKIP LOCKED`);
SQLite has a single writer, so its claims simply take turns. A job whose instance died is
claimed again once its lease has passed, and plays only the turns it had left."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.store.database import Store

ACTIVE = ("queued", "running")  # an experiment whose jobs may still be claimed
# Not finished: a cancelled sweep is "cancelling" until its running jobs have stopped.
UNFINISHED = (*ACTIVE, "cancelling")


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    experiment_id: str
    config: str  # the bridge configuration, JSON
    label: str
    rep: int
    turns_done: int
    attempts: int


def enqueue(store: Store, experiment_id: str, jobs: Sequence[dict[str, Any]]) -> int:
    rows = [
        {"experiment_id": experiment_id, "status": "queued", "attempts": 0, "turns_done": 0, **j}
        for j in jobs
    ]
    return store.insert_many("sweep_jobs", rows)


def claim_next(
    store: Store,
    me: str,
    host: str,
    now: float,
    lease_until: float,
    experiment_id: str | None = None,
) -> ClaimedJob | None:
    """The oldest sweep's next job this instance may run (queued, or running under a lease
    that has passed), now claimed by `me` until `lease_until`; None if there is none."""
    only = "AND e.id = ?" if experiment_id else ""
    lock = "FOR UPDATE OF j SKIP LOCKED" if store.dialect == "postgresql" else ""
    sql = f"""
        UPDATE sweep_jobs SET status = 'running', claimed_by = ?, lease_until = ?,
               attempts = attempts + 1, started_at = COALESCE(started_at, ?)
        WHERE id = (
            SELECT j.id FROM sweep_jobs j JOIN experiments e ON e.id = j.experiment_id
            WHERE e.status IN ('queued', 'running') {only}
              AND (j.status = 'queued' OR (j.status = 'running' AND j.lease_until < ?))
              AND (j.only_host IS NULL OR j.only_host = ?)
              AND (j.only_owner IS NULL OR j.only_owner = ?)
            ORDER BY e.created_at, j.seq LIMIT 1 {lock})
        RETURNING id, experiment_id, config, label, rep, turns_done, attempts"""
    params: list[Any] = [me, lease_until, now]
    if experiment_id:
        params.append(experiment_id)
    params += [now, host, me]
    with store.transaction() as tx:
        rows = tx.rows(sql, params)
        if not rows:
            return None
        job = ClaimedJob(*rows[0])
        tx.execute(
            "UPDATE experiments SET status = 'running' WHERE id = ? AND status = 'queued'",
            (job.experiment_id,),
        )
    return job


def renew(store: Store, job_id: str, me: str, lease_until: float) -> bool:
    """Extend the job's lease; False if it is no longer ours (reclaimed, or cancelled)."""
    with store.transaction() as tx:
        return (
            tx.execute(
                "UPDATE sweep_jobs SET lease_until = ? "
                "WHERE id = ? AND claimed_by = ? AND status = 'running'",
                (lease_until, job_id, me),
            )
            == 1
        )


def turn_played(store: Store, job_id: str, me: str, turns_done: int, conversation_id: str) -> None:
    with store.transaction() as tx:
        tx.execute(
            "UPDATE sweep_jobs SET turns_done = ?, conversation_id = ? "
            "WHERE id = ? AND claimed_by = ?",
            (turns_done, conversation_id, job_id, me),
        )


def finish(store: Store, job_id: str, me: str, status: str, now: float, error: str | None) -> None:
    """The job ended (done, cancelled or error); then its experiment, if it was the last."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE sweep_jobs SET status = ?, finished_at = ?, error = ?, lease_until = NULL "
            "WHERE id = ? AND claimed_by = ? AND status = 'running'",
            (status, now, error, job_id, me),
        )
        found = tx.rows("SELECT experiment_id FROM sweep_jobs WHERE id = ?", (job_id,))
        if found:
            _close_if_finished(tx, str(found[0][0]), now)


def _close_if_finished(tx: Any, experiment_id: str, now: float) -> None:
    left = tx.rows(
        "SELECT COUNT(*) FROM sweep_jobs WHERE experiment_id = ? AND status IN (?, ?)",
        (experiment_id, *ACTIVE),
    )[0][0]
    if left:
        return
    failed = tx.rows(
        "SELECT error FROM sweep_jobs WHERE experiment_id = ? AND status = 'error' ORDER BY seq",
        (experiment_id,),
    )
    tx.execute(
        "UPDATE experiments SET finished_at = ?, error = ?, "
        "status = CASE WHEN status = 'cancelling' THEN 'cancelled' ELSE 'done' END "
        "WHERE id = ? AND status IN ('queued', 'running', 'cancelling')",
        (now, f"{len(failed)} run(s) failed: {failed[0][0]}" if failed else None, experiment_id),
    )


def cancel(store: Store, experiment_id: str, now: float) -> None:
    """Cancel a sweep: its queued jobs never play; running ones stop after their turn, and the
    sweep is "cancelling" until the last of them has stopped (then "cancelled")."""
    with store.transaction() as tx:
        tx.execute(
            "UPDATE sweep_jobs SET status = 'cancelled', finished_at = ? "
            "WHERE experiment_id = ? AND status = 'queued'",
            (now, experiment_id),
        )
        tx.execute(
            "UPDATE experiments SET status = 'cancelling' WHERE id = ? AND status IN (?, ?)",
            (experiment_id, *ACTIVE),
        )
        _close_if_finished(tx, experiment_id, now)


def stop_lost(store: Store, now: float) -> int:
    """Running jobs of cancelled sweeps whose player died (its lease passed): nobody will
    claim them again, so they end here, and their sweep with them."""
    with store.transaction() as tx:
        found = tx.rows(
            "SELECT j.id, j.experiment_id FROM sweep_jobs j JOIN experiments e "
            "ON e.id = j.experiment_id WHERE e.status = 'cancelling' AND j.status = 'running' "
            "AND j.lease_until < ?",
            (now,),
        )
        return _end_found(tx, found, "cancelled", now)


def _end_found(
    tx: Any, found: Sequence[tuple[Any, ...]], status: str, now: float, error: str | None = None
) -> int:
    """End the jobs found, (id, experiment_id) rows, with `status`; then each of their sweeps
    whose last job that was. How many were ended."""
    for job_id, _ in found:
        tx.execute(
            "UPDATE sweep_jobs SET status = ?, finished_at = ?, error = ?, lease_until = NULL "
            "WHERE id = ? AND status IN (?, ?)",
            (status, now, error, job_id, *ACTIVE),
        )
    for exp in {str(e) for _, e in found}:
        _close_if_finished(tx, exp, now)
    return len(found)


def experiment_status(store: Store, experiment_id: str) -> str | None:
    row = store.get("experiments", experiment_id)
    return None if row is None else str(row["status"])


def pinned_owners(store: Store) -> list[str]:
    """The processes that alone can play some unfinished job (they serve its timed model)."""
    with store.transaction() as tx:
        rows = tx.rows(
            "SELECT DISTINCT only_owner FROM sweep_jobs "
            "WHERE status IN ('queued', 'running') AND only_owner IS NOT NULL"
        )
    return [str(r[0]) for r in rows]


def abandon_pinned(store: Store, dead_owners: Sequence[str], now: float) -> int:
    """Jobs only a dead process could run (it served their model): ended as errors."""
    if not dead_owners:
        return 0
    marks = ",".join("?" for _ in dead_owners)
    with store.transaction() as tx:
        found = tx.rows(
            f"SELECT id, experiment_id FROM sweep_jobs WHERE status IN ('queued', 'running') "
            f"AND only_owner IN ({marks})",
            list(dead_owners),
        )
        error = "the process that served this sweep's timed model stopped"
        return _end_found(tx, found, "error", now, error)


def progress(store: Store, experiment_ids: Sequence[str]) -> pd.DataFrame:
    """Per experiment: jobs total / done / running, turns played, and who is working on it
    (the owners of its running jobs, comma-separated)."""
    ids = tuple(experiment_ids)
    if not ids:
        ids = ("",)
    marks = ",".join("?" for _ in ids)
    return store.frame(
        f"""SELECT experiment_id, COUNT(*) AS jobs,
                   SUM(CASE WHEN status IN ('done', 'cancelled', 'error') THEN 1 ELSE 0 END)
                       AS jobs_finished,
                   SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS jobs_running,
                   SUM(turns_done) AS turns_done
            FROM sweep_jobs WHERE experiment_id IN ({marks}) GROUP BY experiment_id""",
        ids,
    )


def workers(store: Store, experiment_id: str) -> list[str]:
    """The instances that have worked on the sweep's jobs (claimed them), in claim order."""
    rows = store.frame(
        "SELECT claimed_by FROM sweep_jobs WHERE experiment_id = ? AND claimed_by IS NOT NULL "
        "ORDER BY started_at",
        (experiment_id,),
    )
    return list(dict.fromkeys(str(x) for x in rows["claimed_by"]))


def listed_experiments(store: Store, finished_since: float) -> list[str]:
    """Sweeps that are jobs, queued or running or finished since `finished_since`, oldest
    first."""
    rows = store.frame(
        """SELECT e.id FROM experiments e
           WHERE (e.status IN ('queued', 'running', 'cancelling') OR e.finished_at >= ?)
             AND EXISTS (SELECT 1 FROM sweep_jobs j WHERE j.experiment_id = e.id)
           ORDER BY e.created_at""",
        (finished_since,),
    )
    return [str(i) for i in rows["id"]]

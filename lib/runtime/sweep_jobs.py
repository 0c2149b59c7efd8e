"""Sweeps as a shared job queue: started from any page of any instance, a sweep is stored as
jobs (configuration × repeat) that every instance's worker claims one at a time, so a big sweep
spreads over the instances; it outlives the page, reloads and the process that started it
(a dead instance's job is claimed again once its lease has passed).

Each instance plays one job at a time (two at once would share its CPU and skew each other's
timings), the oldest sweep's first. What a page shows is read from the database, so progress is
the same on every instance.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from typing import Any, Final, Literal

from lib.runtime.instance import LEASE_S
from lib.runtime.owner import HOST, OWNER
from lib.runtime.script_upload import hold
from lib.runtime.sweep import ResumeError, Sweep, SweepPlan, local_plan, plan_of, play_job, results
from lib.store import jobs
from lib.store.database import Store, StoreError

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "cancelling", "done", "cancelled", "error"]
KEEP_FINISHED_S: Final = 3600.0  # finished sweeps stay listed (their outcome) this long
IDLE_EXIT_S: Final = 5.0  # a worker started by `start` (not `serve`) ends once idle this long
READ_EVERY_S: Final = 0.5  # a view re-reads the database at most this often


class SweepJob:
    """What a page shows of one sweep, read from the database (any instance may be running it)."""

    def __init__(self, store: Store, experiment_id: str) -> None:
        self.store, self.experiment_id = store, experiment_id
        self._read_at = 0.0
        self._row: dict[str, Any] = {}
        self._progress: dict[str, Any] = {}
        self._results: list[dict[str, Any]] | None = None
        self._read()
        plan = json.loads(self._row.get("plan") or "{}")
        self.name = str(self._row.get("name", "sweep"))
        self.turns_per_job = len(plan.get("turns", [])) or 1

    def _read(self) -> None:
        if time.monotonic() - self._read_at < READ_EVERY_S:
            return
        self._row = self.store.get("experiments", self.experiment_id) or {}
        found = jobs.progress(self.store, [self.experiment_id]).to_dict("records")
        self._progress = {str(k): v for k, v in found[0].items()} if found else {}
        self._read_at = time.monotonic()

    @property
    def state(self) -> JobState:
        self._read()
        status = str(self._row.get("status", "error"))
        if status in ("queued", "running", "cancelling", "done", "cancelled"):
            return status  # type: ignore[return-value]
        return "error"

    @property
    def error(self) -> str | None:
        self._read()
        return self._row.get("error")

    @property
    def done(self) -> bool:
        return self.state in ("done", "cancelled", "error")

    @property
    def finished_at(self) -> float | None:
        self._read()
        return self._row.get("finished_at")

    @property
    def total(self) -> int:
        self._read()
        return int(self._progress.get("jobs") or 0) * self.turns_per_job

    @property
    def turns_done(self) -> int:
        self._read()
        return int(self._progress.get("turns_done") or 0)

    @property
    def share(self) -> float:
        return min(1.0, self.turns_done / self.total) if self.total else 0.0

    @property
    def results(self) -> list[dict[str, Any]]:
        if self._results is None and self.done:
            try:
                plan = local_plan(self.experiment_id) or plan_of(self.store, self.experiment_id)
            except ResumeError:
                return []
            self._results = results(self.store, plan, self.experiment_id)
        return self._results or []

    def describe(self) -> str:
        """One line: where the sweep is (or how it ended)."""
        state = self.state
        if state == "queued":
            return "waiting for a free instance (sweeps run one at a time on each)"
        if state == "running":
            running = int(self._progress.get("jobs_running") or 0)
            on = f" · {running} instance{'' if running == 1 else 's'} playing" if running else ""
            return f"{self.turns_done}/{self.total} turns{on}"
        if state == "cancelling":
            return "cancelling: the turns being played finish, then it stops"
        if state == "error":
            return f"stopped: {self.error}. What ran is stored."
        if state == "cancelled":
            return "cancelled; what ran is stored"
        n = len(self.results)
        failed = f" ({self.error})" if self.error else ""
        return f"done, {n} configuration{'' if n == 1 else 's'} compared{failed}"

    def cancel(self) -> None:
        jobs.cancel(self.store, self.experiment_id, time.time())
        self._read_at = 0.0


class SweepWorker:
    """This process's player of sweep jobs: claims the next job any instance enqueued, plays it,
    and claims again. `permanent` workers (the app's) keep polling; others end once idle."""

    def __init__(self, store: Store, *, permanent: bool, poll_s: float = 1.0) -> None:
        self.store, self.permanent, self.poll_s = store, permanent, poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sweep-worker", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _claim(self) -> jobs.ClaimedJob | None:
        now = time.time()
        return jobs.claim_next(self.store, OWNER, HOST, now, now + LEASE_S)

    def _loop(self) -> None:
        idle_since = time.monotonic()
        while not self._stop.is_set():
            try:
                job = self._claim()
            except StoreError as exc:  # the database is away: try again shortly
                log.warning("sweep worker: %s", exc)
                job = None
            if job is not None:
                self._play(job)
                idle_since = time.monotonic()
                continue
            if not self.permanent and time.monotonic() - idle_since > IDLE_EXIT_S:
                return
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _play(self, job: jobs.ClaimedJob) -> None:
        try:
            plan: SweepPlan = local_plan(job.experiment_id) or plan_of(
                self.store, job.experiment_id
            )
        except ResumeError as exc:
            jobs.finish(self.store, job.id, OWNER, "error", time.time(), str(exc))
            return
        error = play_job(self.store, plan, job, threading.Event(), lambda p: None)
        if error:
            log.warning("sweep job %s failed: %s", job.id[:8], error)


class SweepJobs:
    """Starting sweeps from this process, and what pages list of everyone's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[int, SweepWorker] = {}
        self._held: dict[str, contextlib.ExitStack] = {}

    def serve(self, store: Store) -> SweepWorker:
        """This process takes part in everyone's sweeps (the app, at start-up)."""
        return self._worker(store, permanent=True)

    def _worker(self, store: Store, *, permanent: bool) -> SweepWorker:
        with self._lock:
            worker = self._workers.get(id(store))
            if worker is None or not worker.alive or (permanent and not worker.permanent):
                if worker is not None:
                    worker.stop()
                worker = SweepWorker(store, permanent=permanent)
                self._workers[id(store)] = worker
        worker.wake()
        return worker

    def start(
        self,
        store: Store,
        plan: SweepPlan,
        *,
        resume: str | None = None,
        created_by: str | None = None,
    ) -> SweepJob:
        """Enqueue a sweep's jobs; this process's worker (and any other instance's) plays them."""
        sweep = Sweep(store, plan, resume=resume, created_by=created_by)
        held = contextlib.ExitStack()  # an uploaded script's WAVs stay while the sweep is on
        held.enter_context(hold(plan.script.folder))
        with self._lock:
            self._held[sweep.experiment_id] = held
        self._worker(store, permanent=False)
        return SweepJob(store, sweep.experiment_id)

    def jobs(self, store: Store) -> list[SweepJob]:
        """Every instance's sweeps still running or finished within the hour, oldest first."""
        self._release_finished(store)
        rows = jobs.listed_experiments(store, time.time() - KEEP_FINISHED_S)
        return [SweepJob(store, str(eid)) for eid in rows]

    def active(self, store: Store) -> list[SweepJob]:
        return [j for j in self.jobs(store) if not j.done]

    def get(self, store: Store, experiment_id: str) -> SweepJob | None:
        return SweepJob(store, experiment_id) if store.get("experiments", experiment_id) else None

    def _release_finished(self, store: Store) -> None:
        with self._lock:
            held = dict(self._held)
        for eid, stack in held.items():
            if jobs.experiment_status(store, eid) not in jobs.UNFINISHED:
                stack.close()
                with self._lock:
                    self._held.pop(eid, None)


JOBS: Final = SweepJobs()

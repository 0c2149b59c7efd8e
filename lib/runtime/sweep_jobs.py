"""Sweeps as jobs of the app process: started from any page, a sweep outlives the page, reloads
and the browser session that started it, and every page can show its progress or cancel it.

One sweep runs at a time (two at once would share the CPU and skew each other's timings); the
others wait in the order they were started. A crash leaves the experiment "running" under a dead
owner: the reaper marks it interrupted and the Experiments page offers to resume it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Final, Literal

from lib.runtime.script_upload import hold
from lib.runtime.sweep import Progress, Sweep, SweepPlan
from lib.store.database import Store

JobState = Literal["queued", "running", "done", "cancelled", "error"]
KEEP_FINISHED_S: Final = 3600.0  # finished jobs stay listed (their outcome) this long


class SweepJob:
    """One sweep and what a page shows of it; fields are replaced whole (read without a lock)."""

    def __init__(self, store: Store, plan: SweepPlan, *, resume: str | None = None) -> None:
        self.state: JobState = "queued"
        self.progress: Progress | None = None
        self.error: str | None = None
        self.results: list[dict[str, Any]] = []
        self.finished_at: float | None = None
        self.sweep = Sweep(store, plan, self._on_progress, status="queued", resume=resume)
        self.total = self.sweep.turns_left
        self.name = plan.name
        self.experiment_id = self.sweep.experiment_id
        self.folder = plan.script.folder

    @property
    def done(self) -> bool:
        return self.state in ("done", "cancelled", "error")

    @property
    def share(self) -> float:
        return min(1.0, self.progress.done / self.total) if self.progress and self.total else 0.0

    def describe(self) -> str:
        """One line: where the sweep is (or how it ended)."""
        p = self.progress
        if self.state == "queued":
            return "waiting for the sweep before it"
        if self.state == "running":
            if p is None:
                return "starting…"
            where = f"{p.config} · run {p.repeat}" + (f" · {p.turn}" if p.turn else "")
            return f"{p.done}/{self.total} turns · {where}"
        if self.state == "error":
            return f"stopped: {self.error}. What ran is stored."
        if self.state == "cancelled":
            return "cancelled; what ran is stored"
        n = len(self.results)
        return f"done, {n} configuration{'' if n == 1 else 's'} compared"

    def cancel(self) -> None:
        self.sweep.cancel()

    def _on_progress(self, p: Progress) -> None:
        self.progress = p


class SweepJobs:
    """The process's sweeps: started here, run one at a time on their own threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slot = threading.Lock()  # held by the running sweep
        self._jobs: list[SweepJob] = []

    def start(self, store: Store, plan: SweepPlan, *, resume: str | None = None) -> SweepJob:
        job = SweepJob(store, plan, resume=resume)
        # Held from now (not from when the thread runs): the page's next run may clear uploads.
        held = contextlib.ExitStack()
        held.enter_context(hold(job.folder))
        with self._lock:
            now = time.time()
            self._jobs = [
                j
                for j in self._jobs
                if not (j.finished_at and now - j.finished_at > KEEP_FINISHED_S)
            ] + [job]

        def work() -> None:
            try:
                with self._slot:
                    job.state = "cancelled" if job.sweep.cancelled else "running"
                    job.results = job.sweep.run()  # a cancelled sweep stores itself so at once
                    job.state = "cancelled" if job.sweep.cancelled else "done"
            except Exception as exc:  # noqa: BLE001 - shown on every page; what ran is stored
                job.error = f"{type(exc).__name__}: {exc}"
                job.state = "error"
            finally:
                held.close()  # the script's WAV files may go now
                job.finished_at = time.time()

        threading.Thread(target=work, name=f"sweep-{job.experiment_id[:8]}", daemon=True).start()
        return job

    def jobs(self) -> list[SweepJob]:
        """Every job still listed, oldest first."""
        with self._lock:
            return list(self._jobs)

    def active(self) -> list[SweepJob]:
        return [j for j in self.jobs() if not j.done]

    def get(self, experiment_id: str) -> SweepJob | None:
        return next((j for j in self.jobs() if j.experiment_id == experiment_id), None)


JOBS: Final = SweepJobs()

"""A running sweep's progress, drawn the same everywhere: the sidebar of every page, the
Experiments page and the first run's offer. The job lives in the app process (`JOBS`), so the
page only reads it."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lib.runtime.sweep_jobs import JOBS, SweepJob
from lib.ui.plain_text import plain


def job_progress(job: SweepJob, key: str) -> None:
    """Bar, where it is, and Cancel while it runs; how it ended once it has."""
    if not job.done:
        st.progress(job.share, text=plain(f"{job.name} · {job.describe()}"))
        st.button("Cancel sweep", on_click=job.cancel, key=f"{key}-cancel-{job.experiment_id}")
    elif job.state == "error":
        st.error(plain(f"{job.name} {job.describe()}"))
    elif job.state == "cancelled":
        st.warning(plain(f"{job.name}: {job.describe()}"))
    else:
        st.success(plain(f"{job.name}: {job.describe()}"))


def _sidebar_jobs() -> None:
    jobs = JOBS.jobs()
    if not jobs:
        return
    st.markdown("**Sweeps**")
    for job in jobs[-3:]:
        job_progress(job, "sidebar")
    if any(j.done for j in jobs):
        st.page_link(
            "pages/experiments.py", label="Compare in Experiments", icon=":material/science:"
        )


def _latest_jobs(key: str, most: int) -> None:
    for job in JOBS.jobs()[-most:]:
        job_progress(job, key)


def refreshed_while_active(draw: Callable[[], None]) -> None:
    """`draw` as a fragment redrawn every second while a sweep is queued or running (and not
    polled once they have all ended)."""
    active = bool(JOBS.active())
    st.fragment(draw, run_every="1s" if active else None)()


def sweep_sidebar() -> None:
    """The process's sweeps in the sidebar."""
    refreshed_while_active(_sidebar_jobs)


def sweeps_panel(key: str, most: int = 5) -> None:
    """The process's latest sweeps (whoever started them), newest last."""
    if JOBS.jobs():
        refreshed_while_active(lambda: _latest_jobs(key, most))

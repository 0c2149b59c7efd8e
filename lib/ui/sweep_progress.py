"""A running sweep's progress, drawn the same everywhere: the sidebar of every page, the
Experiments page and the first run's offer. The job lives in the app process (`JOBS`), so the
page only reads it."""

from __future__ import annotations

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


def sweep_sidebar() -> None:
    """The process's sweeps in the sidebar; refreshed every second only while one is active."""
    active = bool(JOBS.active())
    st.fragment(_sidebar_jobs, run_every="1s" if active else None)()

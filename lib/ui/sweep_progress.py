"""A running sweep's progress, drawn the same everywhere: the sidebar of every page, the
Experiments page and the first run's offer. Sweeps are jobs in the database (`JOBS`), played by
whichever instances claim them, so every instance's pages read the same progress."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from lib.runtime.sweep_jobs import JOBS, SweepJob
from lib.store.database import Store
from lib.ui.plain_text import plain


def job_progress(job: SweepJob, key: str) -> None:
    """Bar, where it is, and Cancel while it runs; how it ended once it has."""
    if not job.done:
        st.progress(job.share, text=plain(f"{job.name} · {job.describe()}"))
        if job.state != "cancelling":
            st.button("Cancel sweep", on_click=job.cancel, key=f"{key}-cancel-{job.experiment_id}")
    elif job.state == "error":
        st.error(plain(f"{job.name} {job.describe()}"))
    elif job.state == "cancelled":
        st.warning(plain(f"{job.name}: {job.describe()}"))
    else:
        st.success(plain(f"{job.name}: {job.describe()}"))


def _sidebar_jobs(store: Store) -> None:
    jobs = JOBS.jobs(store)
    if not jobs:
        return
    st.markdown("**Sweeps**")
    for job in jobs[-3:]:
        job_progress(job, "sidebar")
    if any(j.done for j in jobs):
        st.page_link(
            "pages/experiments.py", label="Compare in Experiments", icon=":material/science:"
        )


def _latest_jobs(store: Store, key: str, most: int) -> None:
    for job in JOBS.jobs(store)[-most:]:
        job_progress(job, key)


def refreshed_while_active(store: Store, draw: Callable[[], None]) -> None:
    """`draw` as a fragment redrawn every second while a sweep is queued or running (and not
    polled once they have all ended)."""
    active = bool(JOBS.active(store))
    st.fragment(draw, run_every="1s" if active else None)()


def sweep_sidebar(store: Store) -> None:
    """Everyone's sweeps in the sidebar."""
    refreshed_while_active(store, lambda: _sidebar_jobs(store))


def sweeps_panel(store: Store, key: str, most: int = 5) -> None:
    """The latest sweeps (whoever started them, on whichever instance), newest last."""
    if JOBS.jobs(store):
        refreshed_while_active(store, lambda: _latest_jobs(store, key, most))

"""The first run: an empty lab offers the demo sweep on every analytics page, shows it running,
and draws the page again once its turns are recorded."""

from __future__ import annotations

import streamlit as st

from lib.core import config
from lib.runtime.demo_sweep import DEMO_NAME, DEMO_PLAN
from lib.runtime.sweep_jobs import JOBS, SweepJob
from lib.store.database import Store
from lib.store.queries import recorded_nothing
from lib.ui.identity import current_user
from lib.ui.sweep_progress import job_progress


def _demo_job(store: Store) -> SweepJob | None:
    """The latest demo sweep (any browser session, on any instance, may have started it)."""
    return next((j for j in reversed(JOBS.jobs(store)) if j.name == DEMO_NAME), None)


def _start(store: Store) -> None:
    if not (demo := _demo_job(store)) or demo.done:
        JOBS.start(store, DEMO_PLAN, created_by=current_user())


@st.fragment(run_every="1s")
def _running(store: Store) -> None:
    job = _demo_job(store)
    if job is None or job.done:
        st.rerun(scope="app")  # its turns are recorded: draw the page with them
    job_progress(job, "first-run")


def first_run(store: Store, page: str, *, stop: bool = True) -> None:
    """At the top of an analytics page: the running demo's progress; on an empty lab, the offer
    (and, with `stop`, nothing else of the page)."""
    job = _demo_job(store)
    if job is not None and not job.done:
        st.caption("The demo sweep is recording real turns; this page fills in as it runs.")
        _running(store)
        return
    if job is not None and job.state == "error":
        job_progress(job, "first-run")
    if not recorded_nothing(store):
        return
    embedded = config.provider_status(DEMO_PLAN.avatar)
    turns = DEMO_PLAN.turns_total
    st.info(
        f"Nothing is recorded yet, so {page} has nothing to show. The demo sweep holds "
        f"{turns} real conversation turns with the embedded avatar and voice model (about a "
        "minute, no keys needed), comparing two chunk strategies; Latency, Costs, Experiments "
        "and Sessions then show what it recorded."
    )
    st.button(
        "Run the demo sweep",
        type="primary",
        icon=":material/play_arrow:",
        on_click=_start,
        args=(store,),
        disabled=not embedded.usable,
        help=None if embedded.usable else embedded.reason,
        key="first-run-demo",
    )
    if stop:
        st.stop()

"""Experiments: sweep configurations over one script in the background, then compare them.

A sweep is `python -m lib sweep` run from here: each configuration × repeat is a full
conversation (voice model + avatar + bridge) playing the script; everything lands in the store
under the experiment, so the Latency and Costs pages can be filtered to it. The sweep is a job of
the app process: it keeps running while you visit other pages, reload, or close the tab.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lib.brain.providers import brain_status
from lib.bridge.chunking import DEFAULT_STRATEGIES, StrategyError, parse_strategies
from lib.bridge.config import BRIDGE_MODES, BridgeMode
from lib.core import config
from lib.runtime.script import DEMO_SCRIPT, Script, ScriptError, load_script
from lib.runtime.script_upload import MAX_FILE_MB, UploadError, discard, save_uploads
from lib.runtime.sweep import ResumeError, SweepPlan, configurations, plan_of
from lib.runtime.sweep_jobs import JOBS
from lib.store.database import Store
from lib.store.queries import experiments
from lib.ui.compare_panel import compare_panel
from lib.ui.first_run import first_run
from lib.ui.identity import current_user
from lib.ui.page_leave import on_leave, page_key
from lib.ui.plain_text import plain
from lib.ui.sweep_progress import sweeps_panel
from lib.ui.widgets import store_or_stop

UPLOAD_KEY = "experiment_upload"  # the folder the page's upload is saved in


def keep_upload(folder: Path | None) -> None:
    """The page's upload is now `folder` (None: cleared); the one it replaces is removed (unless
    a sweep plays it: then the pruning takes it later)."""
    previous: Path | None = st.session_state.get(UPLOAD_KEY)
    if previous is not None and previous != folder:
        discard(previous)
    st.session_state[UPLOAD_KEY] = folder
    if folder is not None:

        def gone() -> None:  # leaving the page clears the upload too
            discard(folder)

        on_leave(st.session_state, THIS_PAGE, "upload", gone)


def pick_script() -> Script | None:
    source = st.radio("Script", ("Built-in demo", "Upload"), horizontal=True)
    if source == "Built-in demo":
        keep_upload(None)
        st.caption(" · ".join(t.label for t in DEMO_SCRIPT.turns))
        return DEMO_SCRIPT
    files = st.file_uploader(
        "A .toml or .txt script, with the WAV files it names",
        type=["toml", "txt", "wav"],
        accept_multiple_files=True,
        max_upload_size=MAX_FILE_MB,
    )
    files = list(files or [])
    scripts = [f for f in files if not f.name.lower().endswith(".wav")]
    if len(scripts) != 1:
        keep_upload(None)
        if len(scripts) > 1:
            st.error("Upload one script (and its WAV files), not several scripts.")
        return None
    try:
        folder = save_uploads(files)
    except UploadError as exc:
        keep_upload(None)
        st.error(f"Upload not usable — {plain(exc)}")
        return None
    keep_upload(folder)
    try:
        script = load_script(folder / scripts[0].name)
    except ScriptError as exc:
        st.error(f"Script not usable — {plain(exc)}")
        return None
    st.caption(f"{len(script.turns)} turns, persona {script.persona}")
    return script


st.title("Experiments")
THIS_PAGE = page_key(__file__)  # cleanups filed under it run when another page is entered
store = store_or_stop()
first_run(store, "Experiments", stop=False)

running = JOBS.active(store)
with st.expander("New sweep", expanded=not running):
    c1, c2, c3 = st.columns(3)
    brains = ["local"] + (["openai"] if brain_status().name == "openai" else [])
    brain = c1.selectbox(
        "Voice model",
        brains,
        format_func=lambda b: {"local": "embedded (simulated timing)", "openai": "OpenAI Realtime"}[
            b
        ],
    )
    avatars = [n for n in config.PROVIDERS if config.provider_status(n).usable]
    avatar = c2.selectbox("Avatar", avatars, format_func=lambda n: config.PROVIDERS[n].label)
    repeat = int(c3.number_input("Repeats", 1, 20, 2))
    can = [m for m in BRIDGE_MODES if m in config.PROVIDERS[avatar].bridges]
    modes: list[BridgeMode] = st.multiselect(
        "Bridge modes",
        can,
        default=can[:1],
        format_func=config.BRIDGE_NAMES.__getitem__,
        help="The modes this avatar provider can show.",
    )
    chosen = st.multiselect(
        "Chunk strategies", list(DEFAULT_STRATEGIES), default=["whole", "sentence:20"]
    )
    extra = st.text_input(
        "More strategies (comma separated)", placeholder="chars:80, sentence:40+wait:700"
    )
    script = pick_script()
    name = st.text_input("Name", "sweep")
    problem = None
    try:
        strategies = parse_strategies(",".join([*chosen, extra]))
    except StrategyError as exc:
        strategies, problem = [], str(exc)
    if not modes:
        problem = "pick at least one bridge mode"
    if problem:
        st.error(problem)
    plan = None
    if script is not None and not problem:
        plan = SweepPlan(
            brain=brain,
            avatar=avatar,
            bridges=configurations(modes, strategies),
            script=script,
            repeat=repeat,
            name=name.strip() or "sweep",
        )
        st.caption(
            f"{len(plan.bridges)} configurations × {repeat} runs × {len(script.turns)} turns = "
            f"{plan.turns_total} turns (each waits for the avatar to finish its answer)."
        )

    def on_run() -> None:
        if plan is not None:
            JOBS.start(store, plan, created_by=current_user())

    st.button("Run sweep", type="primary", on_click=on_run, disabled=plan is None)
    if running:
        st.caption(
            "A sweep is running: a new one waits for a free instance (each plays one job at a "
            "time, which keeps timings fair)."
        )


def resume_panel(store: Store) -> None:
    """Sweeps a stopped app left unfinished: resumed under the same experiment."""
    cut = experiments(store)
    cut = cut[cut["status"] == "interrupted"]
    for row in cut.head(3).to_dict("records"):
        eid = str(row["id"])
        c1, c2 = st.columns([4, 1])
        c1.warning(plain(f"Sweep {row['name']} ({eid[:8]}) was interrupted: {row['error']}"))
        try:
            plan = plan_of(store, eid)
        except ResumeError as exc:
            c1.caption(plain(f"Cannot resume: {exc}."))
            continue

        def resume(eid: str = eid, plan: SweepPlan = plan) -> None:
            JOBS.start(store, plan, resume=eid, created_by=current_user())

        c2.button("Resume", key=f"resume-{eid}", on_click=resume, width="stretch")


sweeps_panel(store, "experiments")
resume_panel(store)

compare_panel(store)

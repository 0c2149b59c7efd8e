"""`python -m lib bench soak --sessions 4 --minutes 10 --json`: concurrent conversations on
the embedded default, in real browser tabs, for a while.

One Chromium whose fake microphone loops two spoken questions (the project's test utterances)
with pauses; `--sessions` tabs each hold a Conversation (voice model + avatar + bridge). Every
few seconds: decoded fps per stream (WebRTC stats), resident memory of the app and the local
servers. At the end: end-to-end latency of the recorded turns, memory growth after warm-up,
turns recorded vs turns spoken (what the mic played while connected), and the sessions left
open after Stop (on the local server and in the store).

The parts: the microphone file (soak_mic), the local servers (soak_server), the tabs
(soak_tabs), the samples while they talk (soak_sampling, reading /proc with soak_procs), and
the findings and their JSON (soak_results, matching turns to questions with soak_turns).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lib.bench.harness import streamlit_app
from lib.bench.soak_mic import question_texts, soak_wav
from lib.bench.soak_results import recorded, report
from lib.bench.soak_sampling import sample
from lib.bench.soak_server import left_open, start_servers, stop_servers
from lib.bench.soak_tabs import BROWSER_NICE, launch_browser, start_tabs, stop_tabs

Progress = Callable[[str], None]


def run(
    *,
    seconds: float = 0.0,
    repeat: int = 1,
    sessions: int = 4,
    minutes: float = 10.0,
    browser_nice: int = BROWSER_NICE,
    progress: Progress = print,
) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="avatarlab-soak-"))
    wav, loop_s, per_loop = soak_wav(tmp)
    texts = question_texts()
    nominal_s = loop_s / per_loop  # seconds per question as the file plays
    heygen, realtime = start_servers(sessions, minutes)
    try:
        env = {
            "AVATARLAB_LOCAL_HEYGEN_URL": heygen.base_url,
            "AVATARLAB_LOCAL_REALTIME_URL": realtime.base_url,
        }
        with streamlit_app(tmp, env) as app, sync_playwright() as p:
            browser = launch_browser(p, tmp, wav, browser_nice)
            groups = {
                "app": [app.proc.pid],
                "avatar_server": [heygen.proc.pid],
                "realtime_server": [realtime.proc.pid],
            }
            drivers, not_started = start_tabs(browser, app.url, sessions, tmp, progress)
            if not drivers:
                raise RuntimeError("no stream could start: see the progress lines above")
            sampled = sample(drivers, groups, heygen.base_url, minutes, progress)
            tabs = stop_tabs(drivers, tmp, progress)
            browser.close()
            ended = time.monotonic()
        left = left_open(heygen.base_url)
        found = recorded(tmp / "avatarlab.db", texts, nominal_s, sampled, ended)
    finally:
        stop_servers((heygen, realtime), tmp)
    return report(
        sessions=sessions,
        browser_nice=browser_nice,
        minutes=minutes,
        not_started=not_started,
        sampled=sampled,
        found=found,
        tabs=tabs,
        left=left,
        nominal_s=nominal_s,
    )

"""`kill -9` of the app mid-session, then a restart: the reaper stops the session the dead
process left running at the provider (here a local server that outlives the app)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, streamlit_app
from lib.bench.studio_driver import StudioDriver
from lib.store.database import Store
from tests.conftest import live_sessions

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")
REAP_INTERVAL_S = 2


def test_kill_9_mid_session_then_restart_leaves_no_session_of_ours(local_heygen, tmp_path):
    env = {
        "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
        "AVATARLAB_REAP_INTERVAL": str(REAP_INTERVAL_S),
        "AVATARLAB_HEARTBEAT_TIMEOUT": "600",  # only the reaper may stop it here
    }
    before = {s["session_id"] for s in live_sessions(local_heygen.base_url)}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        with streamlit_app(tmp_path, env) as first:
            studio = StudioDriver(browser.new_page())
            studio.open(first.url)
            studio.click("Start")
            studio.live()
            ours = {s["session_id"] for s in live_sessions(local_heygen.base_url)} - before
            assert len(ours) == 1
            os.kill(first.proc.pid, signal.SIGKILL)
            first.proc.wait(10)
        time.sleep(1.0)
        assert ours <= {s["session_id"] for s in live_sessions(local_heygen.base_url)}

        with streamlit_app(tmp_path, env) as second:
            t0 = time.monotonic()
            StudioDriver(browser.new_page()).open(second.url)  # the restarted app runs
            deadline = t0 + REAP_INTERVAL_S + 15
            while ours & {s["session_id"] for s in live_sessions(local_heygen.base_url)}:
                assert time.monotonic() < deadline, "the reaper did not stop the session"
                time.sleep(0.2)
            print(f"reaped {time.monotonic() - t0:.1f} s after the restart")
        browser.close()
    row = Store(str(tmp_path / "avatarlab.db")).sessions().iloc[0]
    assert row["remote_session_id"] in ours
    assert row["status"] == "stopped" and row["stop_reason"] == "REAPED"

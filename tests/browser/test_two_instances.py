"""A team's deployment: two app instances (`python -m lib serve`, as on two machines) on one
PostgreSQL, the avatar provider and voice model local servers that outlive them. The demo sweep
started from one instance's page is worked by both; `kill -9` of the other mid-sweep leaves no
paid session open once its lease has passed (the survivor's reaper stops it, once), its job is
finished by the survivor, and every turn recorded before the kill is still there."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from typing import TypeVar

import pandas as pd
import pytest

from lib.bench.harness import CHROMIUM, CHROMIUM_ARGS, streamlit_app
from lib.runtime.demo_sweep import DEMO_PLAN
from lib.store.database import Store
from tests.conftest import live_sessions

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api")
LEASE_S = 3  # short, so the test need not wait the default 30 s
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.2)
    return found


def test_two_instances_share_a_sweep_and_a_killed_one_loses_nothing(
    pg, local_heygen, local_realtime, tmp_path
):
    url = pg.new_database()
    env = {
        "AVATARLAB_DB": url,
        "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
        "AVATARLAB_LOCAL_REALTIME_URL": local_realtime.base_url,
        "AVATARLAB_LEASE_S": str(LEASE_S),
        "AVATARLAB_REAP_INTERVAL": "1",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    store = Store(url)

    def jobs() -> pd.DataFrame:
        return store.frame(
            "SELECT j.id, j.status, j.claimed_by, j.turns_done, j.attempts, j.conversation_id, "
            "i.host FROM sweep_jobs j LEFT JOIN instances i ON i.id = j.claimed_by ORDER BY j.seq"
        )

    with (
        # Named as two machines: the survivor cannot see the other's process, only its lease.
        streamlit_app(tmp_path / "a", {**env, "AVATARLAB_HOST": "machine-a"}) as a,
        streamlit_app(tmp_path / "b", {**env, "AVATARLAB_HOST": "machine-b"}) as b,
        playwright.sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.goto(a.url)
        page.get_by_role("link", name="Latency", exact=True).first.click()
        page.get_by_role("button", name="Run the demo sweep").click(timeout=60_000)

        # Both instances play a job of it at once; then B finishes a turn of its own.
        wait_for(
            "both instances playing a job",
            lambda: set(jobs().query("status == 'running'")["host"]) == {"machine-a", "machine-b"},
            60,
        )
        b_job = wait_for(
            "machine-b playing a turn",
            lambda: [r for r in jobs().itertuples() if r.host == "machine-b" and r.turns_done >= 1],
            90,
        )[0]
        a_owner = jobs().query("host == 'machine-a'")["claimed_by"].iloc[0]
        recorded = store.frame("SELECT id, status FROM turns WHERE status = 'done'")
        b_sessions = store.frame(
            "SELECT id, remote_session_id FROM avatar_sessions WHERE owner = ? AND status = 'live'",
            (b_job.claimed_by,),
        )
        assert len(b_sessions) == 1
        b_remote = set(b_sessions["remote_session_id"])

        os.kill(b.proc.pid, signal.SIGKILL)
        b.proc.wait(10)
        killed = time.monotonic()
        # B's session outlives B at the provider (it is paid for) until its lease has passed.
        assert b_remote <= {s["session_id"] for s in live_sessions(local_heygen.base_url)}
        wait_for(
            "the survivor stopping the dead instance's session",
            lambda: not b_remote & {s["session_id"] for s in live_sessions(local_heygen.base_url)},
            LEASE_S + 20,
        )
        print(f"machine-b's session stopped {time.monotonic() - killed:.1f} s after kill -9")

        # The survivor claims B's job after its lease and plays the turns it had left.
        wait_for(
            "the sweep finishing",
            lambda: store.frame("SELECT status FROM experiments")["status"].iloc[0] == "done",
            240,
        )
        # Every instance's page shows the same outcome: A's says the sweep is done.
        page.get_by_role("link", name="Experiments", exact=True).first.click()
        page.get_by_text("2 configurations compared").first.wait_for(timeout=60_000)
        browser.close()

    final = jobs()
    b_row = final.set_index("id").loc[b_job.id]
    assert b_row["status"] == "done" and b_row["claimed_by"] == a_owner
    assert b_row["attempts"] == 2 and b_row["turns_done"] == len(DEMO_PLAN.script.turns)
    assert set(final["status"]) == {"done"}
    # B's session: stopped once, by the survivor's reaper; nothing of ours is open anywhere.
    reaped = store.get("avatar_sessions", str(b_sessions["id"].iloc[0]))
    assert reaped is not None
    assert (reaped["status"], reaped["stop_reason"], reaped["reaped_by"]) == (
        "stopped",
        "REAPED",
        a_owner,
    )
    sessions = store.frame("SELECT status, remote_session_id FROM avatar_sessions")
    assert set(sessions["status"]) == {"stopped"}
    assert not set(sessions["remote_session_id"]) & {
        s["session_id"] for s in live_sessions(local_heygen.base_url)
    }
    # Every turn recorded before the kill is still there, as it was; B's conversation was cut
    # (interrupted), and the sweep has every configuration's turns.
    now = store.frame("SELECT id, status FROM turns").set_index("id")["status"]
    assert all(now.get(tid) == "done" for tid in recorded["id"]), "a recorded turn was lost"
    assert store.get("conversations", str(b_job.conversation_id))["status"] == "interrupted"
    per_config = store.frame(
        "SELECT c.chunking, COUNT(*) AS n FROM turns t JOIN conversations c "
        "ON c.id = t.conversation_id WHERE t.status = 'done' AND t.source != 'agent' "
        "GROUP BY c.chunking"
    )
    n = len(DEMO_PLAN.script.turns)  # (a turn ending just as B died is played again)
    assert sorted(per_config["chunking"]) == ["sentence:20", "whole"]
    assert all(n <= k <= n + 1 for k in per_config["n"]), per_config

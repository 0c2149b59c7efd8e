"""Instances of a team's deployment reaping at once, on each kind of database: four `python -m
lib reap` processes race for the paid sessions a dead instance left running at a provider (here a
local server that outlives everyone); each session is stopped exactly once, and a live
instance's sessions are left alone. The owners ran on other machines, so only their leases say
who is dead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lib.emulators.launcher import EmulatorProcess, start_emulator
from lib.store.database import Store
from lib.store.leases import hold_lease

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEAD = "machine-gone:4242:1"  # its lease has passed
LIVE = "machine-up:4242:1"  # its lease holds
REAPERS = 4


@pytest.fixture(scope="module")
def provider() -> Iterator[EmulatorProcess]:
    """A local server of its own that allows ten sessions open at once (a paid plan's limit)."""
    emu = start_emulator("heygen", "--concurrency-limit", "10")
    yield emu
    emu.stop()


def test_racing_reapers_stop_each_left_open_session_exactly_once(db_url, provider):
    store = Store(db_url)
    now = time.time()
    hold_lease(store, DEAD, "machine-gone", 4242, now - 120, now - 1)
    hold_lease(store, LIVE, "machine-up", 4242, now, now + 600)
    http = httpx.Client(base_url=provider.base_url, headers={"x-api-key": "local"}, timeout=30)
    remote: dict[str, str] = {}  # remote session id -> owner
    try:
        for i in range(10):
            resp = http.post(
                "/v1/streaming.new", json={"avatar_id": "Ava_Studio_public", "quality": "low"}
            )
            assert resp.status_code == 200 and "data" in resp.json(), resp.text
            sid = resp.json()["data"]["session_id"]
            assert http.post("/v1/streaming.start", json={"session_id": sid}).status_code == 200
            owner = DEAD if i < 8 else LIVE
            remote[sid] = owner
            store.insert(
                "avatar_sessions",
                {
                    "provider": "local",
                    "avatar_id": "Ava_Studio_public",
                    "quality": "low",
                    "requested_at": now,
                    "started_at": now,
                    "remote_session_id": sid,
                    "status": "live",
                    "owner": owner,
                    "created_by": "ana@example.com",
                },
            )
        env = {
            **os.environ,
            "AVATARLAB_DB": db_url,
            "AVATARLAB_LOCAL_HEYGEN_URL": provider.base_url,
        }
        reapers = [
            subprocess.Popen(
                [sys.executable, "-m", "lib", "reap", "--json"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(REAPERS)
        ]
        outs = []
        for proc in reapers:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            outs.append(json.loads(out))

        stopped = Counter(sid for out in outs for sid in out["sessions_stopped"])
        dead = {sid for sid, owner in remote.items() if owner == DEAD}
        assert set(stopped) == dead and set(stopped.values()) == {1}  # each exactly once
        assert [p for out in outs for p in out["problems"]] == []
        assert sum(out["sessions_gone"] for out in outs) == 0
        listed = {
            s["session_id"] for s in http.get("/v1/streaming.list").json()["data"]["sessions"]
        }
        assert not dead & listed and set(remote) - dead <= listed  # the live one's still run
        rows = store.frame(
            "SELECT remote_session_id, status, stop_reason, reaped_by, owner FROM avatar_sessions"
        )
        for row in rows.itertuples():
            if row.owner == DEAD:
                assert (row.status, row.stop_reason) == ("stopped", "REAPED")
                assert row.reaped_by and row.reaped_by != DEAD
            else:
                assert row.status == "live" and not isinstance(row.reaped_by, str)
        print(f"sessions stopped per reaper: {[len(o['sessions_stopped']) for o in outs]}")
    finally:
        for sid, owner in remote.items():
            if owner == LIVE:
                http.post("/v1/streaming.stop", json={"session_id": sid})
        http.close()

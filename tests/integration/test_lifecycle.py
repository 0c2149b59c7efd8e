"""Recovery after a crash: what a dead process left open is marked interrupted, and its paid
avatar sessions are stopped at the provider; nothing else is touched."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from lib.avatar.base import SessionOptions
from lib.avatar.heygen import HeyGenProvider
from lib.bench.harness import ROOT
from lib.emulators.engines.looks import AVATARS
from lib.runtime.owner import OWNER, owner_alive
from lib.runtime.reaper import Recovery, reap, recover_store
from lib.store.database import Store
from tests.conftest import live_sessions
from tests.integration.test_avatar_clients import RecordingSink, local_provider

pytestmark = pytest.mark.integration
DEAD = OWNER.rsplit(":", 2)[0] + ":999999:1"  # this host, a pid that is not running


def test_owner_is_this_process_and_a_dead_pid_is_not_alive():
    assert owner_alive(OWNER)
    assert not owner_alive(DEAD)
    assert not owner_alive(None)
    assert owner_alive("another-host:1:1")  # can't tell: never reaped from here


def open_conversation(store: Store, owner: str) -> tuple[str, str]:
    cid = store.insert(
        "conversations",
        {
            "brain_provider": "local",
            "bridge": "text",
            "requested_at": time.time(),
            "status": "live",
            "owner": owner,
        },
    )
    tid = store.insert(
        "turns",
        {"conversation_id": cid, "seq": 1, "status": "open", "speech_end_at": time.time()},
    )
    for n, status in enumerate(("done", "speaking", "sent"), 1):
        store.insert(
            "chunks",
            {
                "turn_id": tid,
                "seq": n,
                "kind": "text",
                "text": f"piece {n}",
                "ready_at": time.time(),
                "status": status,
            },
        )
    return cid, tid


def test_a_dead_processes_open_turns_are_marked_interrupted_and_nothing_else(tmp_path):
    store = Store(str(tmp_path / "lab.db"))
    dead_conv, dead_turn = open_conversation(store, DEAD)
    live_conv, live_turn = open_conversation(store, OWNER)
    result = Recovery()
    recover_store(store, result)
    assert (result.turns_interrupted, result.conversations_ended) == (1, 1)
    turn = store.get("turns", dead_turn)
    assert turn is not None and turn["status"] == "interrupted" and "app stopped" in turn["error"]
    assert turn["speech_end_at"] is not None  # what was recorded stays
    chunks = store.frame("SELECT status FROM chunks WHERE turn_id = ? ORDER BY seq", (dead_turn,))
    assert list(chunks["status"]) == ["done", "interrupted", "dropped"]
    assert store.get("conversations", dead_conv)["status"] == "interrupted"
    assert store.get("turns", live_turn)["status"] == "open"  # a running app's turn: untouched
    assert store.get("conversations", live_conv)["status"] == "live"


def start_remote(base_url: str) -> str:
    async def go() -> str:
        p = local_provider(base_url)
        session = await p.start(
            SessionOptions(AVATARS[0].avatar_id, quality="low"), RecordingSink()
        )
        # Leave it running, as a killed app would (close only our HTTP client).
        await p.aclose()
        return session.session_id

    return asyncio.run(go())


def test_reap_stops_our_left_behind_sessions_and_leaves_others_alone(tmp_path, local_heygen):
    store = Store(str(tmp_path / "lab.db"))
    ours = start_remote(local_heygen.base_url)
    theirs = start_remote(local_heygen.base_url)  # not in our store: someone else's
    row = store.insert(
        "avatar_sessions",
        {
            "provider": "local",
            "remote_session_id": ours,
            "requested_at": time.time(),
            "started_at": time.time(),
            "status": "live",
            "owner": DEAD,
        },
    )
    try:
        listed = {s["session_id"] for s in live_sessions(local_heygen.base_url)}
        assert {ours, theirs} <= listed

        def factory(name: str) -> HeyGenProvider:
            return local_provider(local_heygen.base_url)

        result = reap(store, factory, ["local"])
        assert result.sessions_stopped == [ours] and not result.problems
        listed = {s["session_id"] for s in live_sessions(local_heygen.base_url)}
        assert ours not in listed and theirs in listed
        saved = store.get("avatar_sessions", row)
        assert saved["status"] == "stopped" and saved["stop_reason"] == "REAPED"
        assert reap(store, factory, ["local"]).sessions_stopped == []  # idempotent
    finally:
        asyncio.run(local_provider(local_heygen.base_url).stop_session(theirs))


def test_reap_command(tmp_path, local_heygen):
    store = Store(str(tmp_path / "lab.db"))
    ours = start_remote(local_heygen.base_url)
    store.insert(
        "avatar_sessions",
        {
            "provider": "local",
            "remote_session_id": ours,
            "requested_at": time.time(),
            "status": "live",
            "owner": DEAD,
        },
    )
    done = subprocess.run(
        [sys.executable, "-m", "lib", "reap", "--json"],
        cwd=ROOT,
        env={
            **os.environ,
            "AVATARLAB_DB": str(tmp_path / "lab.db"),
            "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["providers"] == ["local", "local-liveavatar", "local-liveavatar-lite"]
    assert out["sessions_stopped"] == [ours]
    assert ours not in {s["session_id"] for s in live_sessions(local_heygen.base_url)}


def test_a_process_killed_mid_turn_loses_nothing_and_the_turn_shows_interrupted(
    tmp_path, local_heygen
):
    """`kill -9` of a sweep while the avatar speaks its second answer: the first turn and
    everything stamped of the second stay; the next start (`reap`) marks it interrupted."""
    db = tmp_path / "lab.db"
    # A short first answer, then one of two sentences (two pieces) to be killed in.
    script = tmp_path / "script.txt"
    script.write_text("Hello!\nWhere can I park my car?\n")
    env = {
        **os.environ,
        "AVATARLAB_DB": str(db),
        "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url,
    }
    args = ["--chunking", "sentence:20", "--ttft-ms", "0", "--script", str(script)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lib", "sweep", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, "the sweep ended early"
            assert time.monotonic() < deadline, "the second turn never started speaking"
            if db.exists():
                rows = Store(str(db)).frame(
                    "SELECT seq, status, avatar_start_at FROM turns ORDER BY seq"
                )
                if len(rows) >= 2 and rows["avatar_start_at"].notna().iloc[1]:
                    break
            time.sleep(0.2)
        proc.kill()  # SIGKILL: no cleanup runs
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = Store(str(db))
    before = store.frame("SELECT * FROM turns ORDER BY seq")
    assert list(before["status"][:2]) == ["done", "open"]
    done = subprocess.run(
        [sys.executable, "-m", "lib", "reap", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["turns_interrupted"] == 1 and out["conversations_ended"] == 1
    assert len(out["sessions_stopped"]) == 1  # its avatar, left talking at the local server
    after = store.frame("SELECT * FROM turns ORDER BY seq")
    assert list(after["status"][:2]) == ["done", "interrupted"]
    for stage in ("speech_end_at", "first_delta_at", "first_chunk_at", "avatar_start_at"):
        assert after[stage].iloc[1] == before[stage].iloc[1]  # nothing recorded is lost
    chunks = store.frame("SELECT status FROM chunks WHERE turn_id = ?", (after["id"].iloc[1],))
    assert "speaking" not in set(chunks["status"]) and "interrupted" in set(chunks["status"])


@pytest.mark.parametrize("how", ["shutdown", "stop"])
def test_leaving_while_the_session_is_starting_still_stops_it(tmp_path, how):
    """The page goes away while streaming.new is on the wire (slow provider): the session the
    provider opens anyway is stopped, not left to bill until its idle timeout."""
    from lib.emulators.launcher import start_emulator
    from lib.runtime.avatar_runner import AvatarRunner

    emu = start_emulator("heygen", "--fault", "latency:1500@/v1/streaming.new")
    try:
        store = Store(str(tmp_path / "lab.db"))
        runner = AvatarRunner(
            store,
            provider_factory=lambda name: local_provider(emu.base_url),
            heartbeat_timeout_s=None,
        )
        runner.start("local", SessionOptions(avatar_id=AVATARS[0].avatar_id, quality="low"))
        time.sleep(0.5)  # the request is out; the answer is a second away
        assert runner.snapshot().state == "starting"
        if how == "shutdown":
            runner.shutdown("PAGE_CLOSED")
        else:
            runner.stop("USER_CLOSED")
        assert live_sessions(emu.base_url) == []
        row = store.frame("SELECT * FROM avatar_sessions").iloc[0]
        assert row["status"] == "stopped" and row["remote_session_id"], row.to_dict()
        if how == "stop":
            runner.shutdown()
    finally:
        emu.stop()

"""Sweeps as jobs of the app process, against the real local servers: they run without any page,
one at a time in order, a queued one can be cancelled before it plays anything, and a sweep a dead
process left running is marked interrupted and resumed with only its missing runs."""

from __future__ import annotations

import socket
import time

import pytest

from lib.bridge.config import BridgeConfig
from lib.runtime.owner import OWNER
from lib.runtime.reaper import Recovery, recover_store
from lib.runtime.script import Script, ScriptTurn
from lib.runtime.sweep import ResumeError, SweepPlan, plan_of
from lib.runtime.sweep_jobs import SweepJob, SweepJobs
from lib.store.database import Store
from lib.store.queries import completed_runs, experiment_runs

pytestmark = pytest.mark.integration

# The echo agent answers with what it heard: short answers keep each run a few seconds.
ECHO = Script("echo", "echo", (ScriptTurn("Good morning."),))
DEAD = f"{socket.gethostname()}:{2**22 + 1}:1"  # above Linux's largest pid: never alive
TWO = (BridgeConfig(mode="text", chunking="whole"), BridgeConfig(mode="text"))


@pytest.fixture
def servers(monkeypatch, local_heygen, local_realtime):
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url)
    monkeypatch.setenv("AVATARLAB_LOCAL_REALTIME_URL", local_realtime.base_url)


def plan(name: str, bridges: tuple[BridgeConfig, ...] = TWO) -> SweepPlan:
    return SweepPlan(brain="local", avatar="local", bridges=bridges, script=ECHO, name=name)


def wait_done(job: SweepJob, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not job.done:
        assert time.monotonic() < deadline, f"{job.name} still {job.state}: {job.describe()}"
        time.sleep(0.1)


def test_jobs_run_one_at_a_time_and_a_queued_one_cancels_without_playing(tmp_path, servers):
    store = Store(str(tmp_path / "lab.db"))
    jobs = SweepJobs()
    first = jobs.start(store, plan("first"))
    second = jobs.start(store, plan("second", TWO[:1]))
    third = jobs.start(store, plan("third", TWO[:1]))
    while first.state == "queued":
        time.sleep(0.02)
    assert (second.state, third.state) == ("queued", "queued")
    assert store.get("experiments", second.experiment_id)["status"] == "queued"
    assert second.describe() == "waiting for the sweep before it"
    third.cancel()
    wait_done(first)
    assert first.state == "done" and first.share == 1.0
    assert [r["config"] for r in first.results] == ["whole", "sentence:20"]
    assert all(r["status"] == {"done": 1} for r in first.results)
    wait_done(second)
    wait_done(third)
    assert second.state == "done" and third.state == "cancelled"
    assert store.get("experiments", third.experiment_id)["status"] == "cancelled"
    assert experiment_runs(store, third.experiment_id) == {}  # it never played
    # The runs never overlapped: each conversation started after the previous one stopped.
    convs = store.frame("SELECT requested_at, stopped_at FROM conversations ORDER BY requested_at")
    assert (convs["requested_at"].iloc[1:].to_numpy() >= convs["stopped_at"].iloc[:-1]).all()
    assert [j.name for j in jobs.active()] == []


def test_a_dead_processs_sweep_is_marked_interrupted_and_resumes_only_what_is_missing(
    tmp_path, servers
):
    store = Store(str(tmp_path / "lab.db"))
    jobs = SweepJobs()
    job = jobs.start(store, plan("crashed"))
    wait_done(job)
    eid = job.experiment_id
    # As a crash in the second run would leave it: that conversation cut (the reaper marks a dead
    # owner's conversation interrupted), the experiment "running" under the dead process.
    cut = experiment_runs(store, eid)["sentence:20"][0]
    store.update("conversations", cut, {"status": "interrupted"})
    store.update("experiments", eid, {"status": "running", "owner": DEAD})
    live = jobs.start(store, plan("alive", TWO[:1]))
    store.update("experiments", live.experiment_id, {"status": "running", "owner": OWNER})
    wait_done(live)
    store.update("experiments", live.experiment_id, {"status": "running"})

    result = Recovery()
    recover_store(store, result)
    assert result.experiments_interrupted == 1
    row = store.get("experiments", eid)
    assert row["status"] == "interrupted" and "Resume" in row["error"]
    assert store.get("experiments", live.experiment_id)["status"] == "running"  # alive: untouched

    resumed = jobs.start(store, plan_of(store, eid), resume=eid)
    assert resumed.experiment_id == eid and resumed.total == 1  # one run of one turn left
    wait_done(resumed)
    assert resumed.state == "done", resumed.error
    assert store.get("experiments", eid)["status"] == "done"
    assert completed_runs(store, eid) == {"whole": 1, "sentence:20": 1}
    runs = experiment_runs(store, eid)
    assert len(runs["whole"]) == 1 and len(runs["sentence:20"]) == 2  # the cut one is kept
    assert store.get("conversations", cut)["status"] == "interrupted"


def test_a_sweep_that_cannot_be_resumed_says_why(tmp_path):
    store = Store(str(tmp_path / "lab.db"))
    old = store.insert(
        "experiments",
        {"name": "old", "plan": '{"brain": "local"}', "created_at": 0, "status": "interrupted"},
    )
    with pytest.raises(ResumeError, match=r"older version.*run the sweep again"):
        plan_of(store, old)
    with pytest.raises(ResumeError, match="no experiment"):
        plan_of(store, "nope")

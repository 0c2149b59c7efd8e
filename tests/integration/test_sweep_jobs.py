"""Sweeps as a shared job queue, against the real local servers and a real database of each
kind: jobs run without any page, one at a time per instance in order; a queued sweep cancels
before it plays anything; a job whose instance died is claimed again once its lease has passed
and plays only the turns it had left; an older app's interrupted sweep resumes its missing runs."""

from __future__ import annotations

import socket
import time

import pytest

from lib.bridge.config import BridgeConfig
from lib.runtime.reaper import Recovery, recover_store
from lib.runtime.script import Script, ScriptTurn
from lib.runtime.sweep import ResumeError, Sweep, SweepPlan, plan_of
from lib.runtime.sweep_jobs import SweepJob, SweepJobs
from lib.store import jobs as queue
from lib.store.database import Store
from lib.store.queries import completed_runs, conversation_turns, experiment_runs

pytestmark = pytest.mark.integration

# The echo agent answers with what it heard: short answers keep each run a few seconds.
ECHO = Script("echo", "echo", (ScriptTurn("Good morning."),))
ECHO_TWO = Script("echo", "echo", (ScriptTurn("Good morning."), ScriptTurn("Thank you.")))
DEAD = f"{socket.gethostname()}:{2**22 + 1}:1"  # above Linux's largest pid: never alive
TWO = (BridgeConfig(mode="text", chunking="whole"), BridgeConfig(mode="text"))


@pytest.fixture
def servers(monkeypatch, local_heygen, local_realtime):
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url)
    monkeypatch.setenv("AVATARLAB_LOCAL_REALTIME_URL", local_realtime.base_url)


def plan(name: str, bridges: tuple[BridgeConfig, ...] = TWO, script: Script = ECHO) -> SweepPlan:
    return SweepPlan(brain="local", avatar="local", bridges=bridges, script=script, name=name)


def wait_done(job: SweepJob, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not job.done:
        assert time.monotonic() < deadline, f"{job.name} still {job.state}: {job.describe()}"
        time.sleep(0.1)


def test_jobs_run_one_at_a_time_and_a_queued_one_cancels_without_playing(db_url, servers):
    store = Store(db_url)
    jobs = SweepJobs()
    first = jobs.start(store, plan("first"), created_by="ana@example.com")
    second = jobs.start(store, plan("second", TWO[:1]))
    third = jobs.start(store, plan("third", TWO[:1]))
    while first.state == "queued":
        time.sleep(0.02)
    assert (second.state, third.state) == ("queued", "queued")
    assert store.get("experiments", second.experiment_id)["status"] == "queued"
    assert second.describe().startswith("waiting for a free instance")
    assert store.get("experiments", first.experiment_id)["created_by"] == "ana@example.com"
    third.cancel()
    wait_done(first)
    assert first.state == "done" and first.share == 1.0
    assert [r["config"] for r in first.results] == ["whole", "sentence:20"]
    assert all(r["status"] == {"done": 1} for r in first.results)
    made = store.frame(  # its conversations and their avatar sessions name who started it
        "SELECT c.created_by AS conversation, s.created_by AS session FROM conversations c "
        "JOIN avatar_sessions s ON s.conversation_id = c.id WHERE c.experiment_id = ?",
        (first.experiment_id,),
    )
    assert len(made) == 2 and set(made.stack()) == {"ana@example.com"}
    wait_done(second)
    wait_done(third)
    assert second.state == "done" and third.state == "cancelled"
    assert store.get("experiments", third.experiment_id)["status"] == "cancelled"
    assert experiment_runs(store, third.experiment_id) == {}  # it never played
    # The runs never overlapped: each conversation started after the previous one stopped.
    convs = store.frame("SELECT requested_at, stopped_at FROM conversations ORDER BY requested_at")
    assert (convs["requested_at"].iloc[1:].to_numpy() >= convs["stopped_at"].iloc[:-1]).all()
    assert [j.name for j in jobs.active(store)] == []
    assert [j.name for j in jobs.jobs(store)] == ["first", "second", "third"]  # listed an hour


def test_a_dead_instances_job_is_claimed_again_and_plays_only_the_turns_left(db_url, servers):
    store = Store(db_url)
    sweep = Sweep(store, plan("reclaimed", TWO[:1], ECHO_TWO))
    eid = sweep.experiment_id
    # Another instance claimed the job and played the first turn...
    now = time.time()
    dead_job = queue.claim_next(store, DEAD, socket.gethostname(), now, now + 30)
    assert dead_job is not None and dead_job.experiment_id == eid
    queue.turn_played(store, dead_job.id, DEAD, 1, "conversation-of-the-dead")
    # ...and nobody else can claim it while its lease holds,
    assert queue.claim_next(store, "other:1:1", socket.gethostname(), now, now + 30) is None
    store.update("sweep_jobs", dead_job.id, {"lease_until": now - 1})  # ...until it has passed.

    results = sweep.run()  # this process claims it again
    job = store.get("sweep_jobs", dead_job.id)
    assert job["status"] == "done" and job["attempts"] == 2 and job["turns_done"] == 2
    played = conversation_turns(store, job["conversation_id"])
    assert list(played["user_text"]) == ["Thank you."]  # only the turn left
    assert store.get("experiments", eid)["status"] == "done"
    assert results[0]["n_turns"] == 1


def test_an_older_apps_interrupted_sweep_resumes_only_what_is_missing(tmp_path, servers):
    store = Store(str(tmp_path / "lab.db"))
    jobs = SweepJobs()
    job = jobs.start(store, plan("crashed"))
    wait_done(job)
    eid = job.experiment_id
    # As an older app (no job rows) would leave a crash in the second run: that conversation
    # cut, the experiment "running" under the dead process.
    with store.transaction() as tx:
        tx.execute("DELETE FROM sweep_jobs WHERE experiment_id = ?", (eid,))
    cut = experiment_runs(store, eid)["sentence:20"][0]
    store.update("conversations", cut, {"status": "interrupted"})
    store.update("experiments", eid, {"status": "running", "owner": DEAD})

    result = Recovery()
    recover_store(store, result)
    assert result.experiments_interrupted == 1
    row = store.get("experiments", eid)
    assert row["status"] == "interrupted" and "Resume" in row["error"]

    resumed = jobs.start(store, plan_of(store, eid), resume=eid)
    assert resumed.experiment_id == eid and resumed.total == 1  # one run of one turn left
    wait_done(resumed)
    assert resumed.state == "done", resumed.error
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

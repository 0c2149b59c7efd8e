"""Sweeps: one script run through the full pipeline under several bridge configurations.

Each configuration × repeat is a job (lib.store.jobs) that any instance may claim: a fresh
conversation (voice model + avatar + bridge) that plays the script's turns one after the other,
each once the avatar has finished the last answer: text turns as typed messages, WAV turns
streamed in real time into the voice model (server VAD ends the turn, as with a microphone).
Everything lands in the store under one experiment; the summary per configuration is computed
from what was stored.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from lib.avatar.base import Quality
from lib.brain.providers import build_brain
from lib.brain.settings import TurnDetection
from lib.bridge.chunking import Strategy
from lib.bridge.config import BridgeConfig, BridgeMode
from lib.core.identity import local_user
from lib.metrics.latency import durations_frame, median_of, p90_of
from lib.runtime.conversation import Conversation, ConversationConfig
from lib.runtime.instance import LEASE_S
from lib.runtime.owner import HOST, OWNER
from lib.runtime.script import RATE, Script, ScriptTurn, read_turn_audio
from lib.store import jobs
from lib.store.database import Store, StoreError
from lib.store.jobs import ClaimedJob
from lib.store.queries import completed_runs, conversation_timings, experiment_runs, user_turns

TURN_TIMEOUT_S: Final = 90.0
CHUNK_MS: Final = 100
TRAILING_QUIET_S: Final = 1.2  # after a WAV turn: enough silence for server VAD to end it
CANCEL_CHECK_S: Final = 1.0  # how soon a running job sees its sweep cancelled elsewhere


@dataclass(frozen=True)
class SweepPlan:
    brain: str  # "local" or "openai"
    avatar: str  # "local", "heygen" or "liveavatar"
    bridges: tuple[BridgeConfig, ...]
    script: Script
    repeat: int = 1
    local_brain_url: str | None = None  # an embedded Realtime server with chosen timing
    quality: Quality = "low"
    name: str = "sweep"

    @property
    def turns_total(self) -> int:
        return len(self.bridges) * self.repeat * len(self.script.turns)


def configurations(
    modes: Sequence[BridgeMode],
    strategies: Sequence[Strategy],
    *,
    audio_first_ms: int = 200,
    audio_next_ms: int = 1000,
) -> tuple[BridgeConfig, ...]:
    """Text and listen modes once per chunk strategy; audio mode once (its pieces are audio
    lengths); the connector once (the vendor cuts nothing we choose)."""
    out: list[BridgeConfig] = []
    for mode in modes:
        if mode in ("text", "listen"):
            out += [BridgeConfig(mode=mode, chunking=s.name) for s in strategies]
        elif mode == "connector":
            out.append(BridgeConfig(mode="connector"))
        else:
            out.append(
                BridgeConfig(
                    mode="audio", audio_first_ms=audio_first_ms, audio_next_ms=audio_next_ms
                )
            )
    return tuple(out)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    config: str
    repeat: int
    turn: str
    message: str = ""


ProgressFn = Callable[[Progress], None]


@dataclass
class _Run:
    done: int = 0
    total: int = 0  # the turns this process means to play (for its progress line)


_LOCAL_PLANS: dict[str, SweepPlan] = {}  # enqueued here: jobs only this process can play


def local_plan(experiment_id: str) -> SweepPlan | None:
    return _LOCAL_PLANS.get(experiment_id)


class Sweep:
    """One experiment, enqueued as jobs (configuration × repeat) on creation; `run` works them
    in this process (other instances may take some), `resume` names an interrupted experiment
    whose missing runs are enqueued under it."""

    def __init__(
        self,
        store: Store,
        plan: SweepPlan,
        progress: ProgressFn | None = None,
        *,
        resume: str | None = None,
        created_by: str | None = None,
    ) -> None:
        if plan.repeat < 1:
            raise ValueError("--repeat must be at least 1")
        if not plan.bridges:
            raise ValueError("no configuration to run")
        self.store = store
        self.plan = plan
        self._progress = progress or (lambda p: None)
        self._cancel = threading.Event()
        # Runs already complete (a resumed experiment's), per configuration label.
        self._done_before = completed_runs(store, resume) if resume else {}
        fields = {"status": "queued", "owner": OWNER, "finished_at": None, "error": None}
        if resume:
            store.update("experiments", resume, fields)
            self.experiment_id = resume
        else:
            self.experiment_id = store.insert(
                "experiments",
                {
                    "name": plan.name,
                    "plan": json.dumps(_plan_json(plan), sort_keys=True),
                    "created_at": time.time(),
                    "created_by": created_by or local_user(),
                }
                | fields,
            )
        _LOCAL_PLANS[self.experiment_id] = plan
        jobs.enqueue(store, self.experiment_id, self._jobs())

    def _jobs(self) -> list[dict[str, Any]]:
        plan, out = self.plan, list[dict[str, Any]]()
        for bridge in plan.bridges:
            for rep in range(self._done_before.get(bridge.label, 0) + 1, plan.repeat + 1):
                out.append(
                    {
                        "seq": len(out),
                        "config": json.dumps(asdict(bridge), sort_keys=True),
                        "label": bridge.label,
                        "rep": rep,
                        # Its WAVs are on this host's disk; its timed model is served by us.
                        "only_host": HOST if plan.script.has_audio else None,
                        "only_owner": OWNER if plan.local_brain_url else None,
                    }
                )
        return out

    @property
    def turns_left(self) -> int:
        runs = sum(
            max(0, self.plan.repeat - self._done_before.get(b.label, 0)) for b in self.plan.bridges
        )
        return runs * len(self.plan.script.turns)

    def cancel(self) -> None:
        self._cancel.set()
        jobs.cancel(self.store, self.experiment_id, time.time())

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self, poll_s: float = 0.5) -> list[dict[str, Any]]:
        """Work this experiment's jobs here until none is left to claim, then wait for any
        another instance is playing; the summary per configuration."""
        state = _Run(total=self.turns_left)
        host = HOST
        while not self._cancel.is_set():
            now = time.time()
            job = jobs.claim_next(
                self.store, OWNER, host, now, now + LEASE_S, experiment_id=self.experiment_id
            )
            if job is not None:
                error = play_job(self.store, self.plan, job, self._cancel, self._progress, state)
                if error:
                    raise RuntimeError(error)
                continue
            if jobs.experiment_status(self.store, self.experiment_id) not in jobs.UNFINISHED:
                break
            time.sleep(poll_s)  # another instance plays the rest
        return results(self.store, self.plan, self.experiment_id)


def results(store: Store, plan: SweepPlan, experiment_id: str) -> list[dict[str, Any]]:
    """The summary per configuration, from what was stored."""
    ids = experiment_runs(store, experiment_id)
    return [
        summarize(store, b.label, ids.get(b.label, []))
        | {
            "config": b.label,
            "bridge": b.mode,
            "brain": plan.brain,
            "avatar": plan.avatar,
            "experiment_id": experiment_id,
        }
        for b in plan.bridges
    ]


def play_job(
    store: Store,
    plan: SweepPlan,
    job: ClaimedJob,
    cancel: threading.Event,
    progress: ProgressFn,
    state: _Run | None = None,
) -> str | None:
    """Play one claimed job (a conversation of the script's turns it has left), holding its
    lease meanwhile; it stops after its turn if the sweep is cancelled (here or on another
    instance) or the job was taken from us. The job's error, if it failed."""
    halt = threading.Event()
    done = threading.Event()

    def keep() -> None:
        last_renewal = time.monotonic()
        while not done.wait(CANCEL_CHECK_S):
            try:
                if cancel.is_set() or jobs.experiment_status(store, job.experiment_id) not in (
                    jobs.ACTIVE
                ):
                    halt.set()
                if time.monotonic() - last_renewal >= LEASE_S / 3:
                    last_renewal = time.monotonic()
                    if not jobs.renew(store, job.id, OWNER, time.time() + LEASE_S):
                        halt.set()  # reclaimed by another instance: it plays the rest
            except StoreError:
                pass  # a database hiccup: the lease has slack for the next try

    keeper = threading.Thread(target=keep, name=f"job-{job.id[:8]}", daemon=True)
    keeper.start()
    status, error = "done", None
    try:
        bridge = BridgeConfig(**json.loads(job.config))
        _play(store, plan, job, bridge, halt, progress, state or _Run(total=len(plan.script.turns)))
        if halt.is_set():
            status = "cancelled"
    except Exception as exc:  # noqa: BLE001 - the job's outcome; other jobs go on
        status, error = "error", f"{type(exc).__name__}: {exc}"
    finally:
        done.set()
        keeper.join()
        jobs.finish(store, job.id, OWNER, status, time.time(), error)
    return error


def _play(
    store: Store,
    plan: SweepPlan,
    job: ClaimedJob,
    bridge: BridgeConfig,
    halt: threading.Event,
    progress: ProgressFn,
    state: _Run,
) -> None:
    has_audio = plan.script.has_audio
    config = ConversationConfig(
        brain=plan.brain,
        avatar=plan.avatar,
        bridge=bridge,
        persona=plan.script.persona,
        quality=plan.quality,
        turn=TurnDetection("server_vad" if has_audio else "push_to_talk"),
        greet=False,
        experiment_id=job.experiment_id,
        # whoever started the sweep, whichever instance plays this job
        created_by=(store.get("experiments", job.experiment_id) or {}).get("created_by"),
    )
    brain = (
        None  # the vendor's connector runs the voice model
        if bridge.mode == "connector"
        else build_brain(
            store,
            provider=plan.brain,
            listen=bridge.mode == "listen",
            local_url=plan.local_brain_url,
        )
    )
    total = len(plan.script.turns)
    conv = Conversation(store, config, brain=brain, heartbeat_timeout_s=None)
    conv.mic.enabled = False  # the script is the only voice
    try:
        conv.start()
        _wait_ready(conv)
        if bridge.mode == "connector":  # the vendor's model says its opening line first
            _wait_turn_done(conv, 0, TURN_TIMEOUT_S, halt)
        for n in range(job.turns_done, total):
            turn = plan.script.turns[n]
            if halt.is_set():
                return
            progress(Progress(state.done, state.total, bridge.label, job.rep, turn.label[:60]))
            if turn.pause_s:
                time.sleep(turn.pause_s)
            seen = len(conv.bridge.snapshot().turns)
            if turn.wav is None:
                conv.send_text(turn.text)
            else:
                _stream(conv, read_turn_audio(turn.wav), halt)
            if not _wait_turn_done(conv, seen, TURN_TIMEOUT_S, halt):
                conv.bridge.abandon(f"turn {n + 1} did not finish within {TURN_TIMEOUT_S:.0f} s")
            state.done += 1
            jobs.turn_played(store, job.id, OWNER, n + 1, conv.record_id)
        progress(Progress(state.done, state.total, bridge.label, job.rep, "", "done"))
    finally:
        conv.shutdown()


def _wait_ready(conv: Conversation, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = conv.snapshot()
        if snap.state in ("live", "audio_only"):
            return
        if snap.state == "failed":
            problem = snap.brain.problem
            raise RuntimeError(problem.message if problem else "the voice model failed")
        time.sleep(0.05)
    raise TimeoutError("the conversation did not start within 60 s")


def _stream(conv: Conversation, pcm: np.ndarray, cancel: threading.Event) -> None:
    """A WAV turn into the voice model at real-time pace, then quiet so VAD ends the turn."""
    step = RATE * CHUNK_MS // 1000
    quiet = np.zeros(int(RATE * TRAILING_QUIET_S), np.int16)
    audio = np.concatenate([pcm, quiet]).astype("<i2")
    t0 = time.monotonic()
    for i in range(0, len(audio), step):
        if cancel.is_set():
            return
        conv.mic_sink(audio[i : i + step].tobytes())
        ahead = t0 + (i + step) / RATE - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def _wait_turn_done(conv: Conversation, seen: int, timeout: float, cancel: threading.Event) -> bool:
    """A new turn has begun, every turn is closed, and the avatar is quiet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cancel.is_set():
        snap = conv.bridge.snapshot()
        if (
            len(snap.turns) > seen
            and all(t.status != "open" for t in snap.turns)
            and not snap.speaking
        ):
            return True
        time.sleep(0.05)
    return False


def summarize(store: Store, label: str, conversation_ids: Sequence[str]) -> dict[str, Any]:
    """Medians per stage (ms) with n, chunks per turn, and turn outcomes, from the store."""
    if not conversation_ids:
        return {"n_turns": 0, "stages": {}, "chunks_per_turn": None, "status": {}}
    turns = user_turns(store, conversation_ids)
    done = turns[turns["status"] == "done"] if not turns.empty else turns
    derived = durations_frame(done)
    per_stage = {name: [float(x) for x in derived[name].dropna()] for name in derived}
    stages = {
        name: {"median_ms": median_of(xs), "p90_ms": p90_of(xs), "n": len(xs)}
        for name, xs in per_stage.items()
        if xs
    }
    chunks = [float(c) for c in done["chunks"].dropna()] if not done.empty else []
    return {
        "n_turns": len(turns),
        "stages": stages,
        "chunks_per_turn": median_of(chunks),
        "status": {str(k): int(v) for k, v in turns["status"].value_counts().items()}
        if not turns.empty
        else {},
        "timing": "simulated" if label and _simulated(store, conversation_ids) else "measured",
    }


def _simulated(store: Store, conversation_ids: Sequence[str]) -> bool:
    return bool((conversation_timings(store, conversation_ids) == "simulated").any())


def _plan_json(plan: SweepPlan) -> dict[str, Any]:
    return {
        "brain": plan.brain,
        "avatar": plan.avatar,
        "configs": [asdict(b) for b in plan.bridges],
        "script": plan.script.name,
        "persona": plan.script.persona,
        "turns": [t.label for t in plan.script.turns],
        "script_turns": [
            {"text": t.text, "wav": str(t.wav) if t.wav else None, "pause_s": t.pause_s}
            for t in plan.script.turns
        ],
        "repeat": plan.repeat,
        "quality": plan.quality,
        "timed_brain": plan.local_brain_url is not None,
    }


class ResumeError(ValueError):
    """An experiment that cannot be resumed; the message says why and what to do instead."""


def plan_of(store: Store, experiment_id: str) -> SweepPlan:
    """The stored experiment's plan, to resume it (raises ResumeError with the reason)."""
    row = store.get("experiments", experiment_id)
    if row is None:
        raise ResumeError(f"no experiment {experiment_id!r}")
    try:
        data = json.loads(row["plan"] or "{}")
        raw_turns = data["script_turns"]
        bridges = tuple(BridgeConfig(**c) for c in data["configs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ResumeError(
            "this experiment was recorded by an older version, which did not keep its script: "
            "run the sweep again"
        ) from exc
    if data.get("timed_brain"):
        raise ResumeError(
            "this sweep ran on an embedded model with chosen timing, which the resumed runs "
            "would not share: run it again with the same --ttft-ms / --tokens-per-s"
        )
    turns = []
    for t in raw_turns:
        wav = Path(t["wav"]) if t.get("wav") else None
        if wav is not None and not wav.is_file():
            raise ResumeError(
                f"the script's audio {wav.name} is gone (uploads are kept while a sweep runs): "
                "upload the script again and run a new sweep"
            )
        turns.append(ScriptTurn(text=t.get("text", ""), wav=wav, pause_s=t.get("pause_s", 0.0)))
    return SweepPlan(
        brain=data["brain"],
        avatar=data["avatar"],
        bridges=bridges,
        script=Script(data["script"], data["persona"], tuple(turns)),
        repeat=int(data["repeat"]),
        quality=data.get("quality", "low"),
        name=str(row["name"]),
    )

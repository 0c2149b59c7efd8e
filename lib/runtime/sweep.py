"""Sweeps: one script run through the full pipeline under several bridge configurations.

Each configuration × repeat is a fresh conversation (voice model + avatar + bridge) that
plays the script's turns one after the other, each once the avatar has finished the last
answer: text turns as typed messages, WAV turns streamed in real time into the voice model
(server VAD ends the turn, as with a microphone). Everything lands in the store under one
experiment; the summary per configuration is computed from what was stored.
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
from lib.metrics.latency import durations_frame, median_of, p90_of
from lib.runtime.conversation import Conversation, ConversationConfig
from lib.runtime.owner import OWNER
from lib.runtime.script import RATE, Script, ScriptTurn, read_turn_audio
from lib.store.database import Store
from lib.store.queries import completed_runs, conversation_timings, experiment_runs, user_turns

TURN_TIMEOUT_S: Final = 90.0
CHUNK_MS: Final = 100
TRAILING_QUIET_S: Final = 1.2  # after a WAV turn: enough silence for server VAD to end it


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


class Sweep:
    """One experiment's runs. `status` is stored as "queued" until `run` (a job waiting for its
    turn); `resume` names an interrupted experiment whose missing runs are played under it."""

    def __init__(
        self,
        store: Store,
        plan: SweepPlan,
        progress: ProgressFn | None = None,
        *,
        status: str = "running",
        resume: str | None = None,
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
        fields = {"status": status, "owner": OWNER, "finished_at": None, "error": None}
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
                }
                | fields,
            )

    @property
    def turns_left(self) -> int:
        runs = sum(
            max(0, self.plan.repeat - self._done_before.get(b.label, 0)) for b in self.plan.bridges
        )
        return runs * len(self.plan.script.turns)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> list[dict[str, Any]]:
        state = _Run()
        status, error = "done", None
        self.store.update("experiments", self.experiment_id, {"status": "running"})
        try:
            for bridge in self.plan.bridges:
                for rep in range(self._done_before.get(bridge.label, 0) + 1, self.plan.repeat + 1):
                    if self._cancel.is_set():
                        break
                    self._run_one(bridge, rep, state)
            if self._cancel.is_set():  # before a run, or in the middle of one
                status = "cancelled"
        except Exception as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.store.update(
                "experiments",
                self.experiment_id,
                {
                    "status": status,
                    "finished_at": time.time(),
                    **({"error": error} if error else {}),
                },
            )
        ids = experiment_runs(self.store, self.experiment_id)
        return [
            summarize(self.store, b.label, ids.get(b.label, []))
            | {
                "config": b.label,
                "bridge": b.mode,
                "brain": self.plan.brain,
                "avatar": self.plan.avatar,
                "experiment_id": self.experiment_id,
            }
            for b in self.plan.bridges
        ]

    def _run_one(self, bridge: BridgeConfig, rep: int, state: _Run) -> None:
        plan = self.plan
        has_audio = plan.script.has_audio
        config = ConversationConfig(
            brain=plan.brain,
            avatar=plan.avatar,
            bridge=bridge,
            persona=plan.script.persona,
            quality=plan.quality,
            turn=TurnDetection("server_vad" if has_audio else "push_to_talk"),
            greet=False,
            experiment_id=self.experiment_id,
        )
        brain = (
            None  # the vendor's connector runs the voice model
            if bridge.mode == "connector"
            else build_brain(
                self.store,
                provider=plan.brain,
                listen=bridge.mode == "listen",
                local_url=plan.local_brain_url,
            )
        )
        conv = Conversation(self.store, config, brain=brain, heartbeat_timeout_s=None)
        conv.mic.enabled = False  # the script is the only voice
        try:
            conv.start()
            self._wait_ready(conv)
            if bridge.mode == "connector":  # the vendor's model says its opening line first
                _wait_turn_done(conv, 0, TURN_TIMEOUT_S, self._cancel)
            for n, turn in enumerate(plan.script.turns, 1):
                if self._cancel.is_set():
                    return
                self._progress(
                    Progress(state.done, self.turns_left, bridge.label, rep, turn.label[:60])
                )
                if turn.pause_s:
                    time.sleep(turn.pause_s)
                seen = len(conv.bridge.snapshot().turns)
                if turn.wav is None:
                    conv.send_text(turn.text)
                else:
                    _stream(conv, read_turn_audio(turn.wav), self._cancel)
                if not _wait_turn_done(conv, seen, TURN_TIMEOUT_S, self._cancel):
                    conv.bridge.abandon(f"turn {n} did not finish within {TURN_TIMEOUT_S:.0f} s")
                state.done += 1
            self._progress(Progress(state.done, self.turns_left, bridge.label, rep, "", "done"))
        finally:
            conv.shutdown()

    def _wait_ready(self, conv: Conversation, timeout: float = 60) -> None:
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

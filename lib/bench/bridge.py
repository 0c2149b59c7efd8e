"""`python -m lib bench bridge --json`: what the bridge itself costs, and the local end to end.

1. Bridge overhead: a recorded answer's text deltas are fed to the real Bridge (real chunker,
   timeline and SQLite store); for each delta that completes a piece, the time from the delta
   arriving to the speak request being handed to the avatar side (`speak_soon`) — p50, p99.
   The avatar side here only records the call: the network is not the bridge's cost.
2. In the pipeline: the same interval measured live, from the first delta of each turn (as
   the voice model's socket delivered it) to the avatar's HTTP request going out.
3. Local end to end: the project's spoken concierge questions (tests/fixtures/speech) streamed
   in real time through the embedded Realtime server (server VAD, Whisper, ttft 0) and the
   embedded avatar: user speech end (`speech_stopped`) → avatar start talking, p50, with the
   stage breakdown. Everything of part 3 is stored as an experiment.
4. The LITE path (bridge_lite.py): the same questions with the model's audio lip-synced by
   the embedded LiveAvatar LITE server, per piece size: first audio byte → avatar talking,
   p50 and p90, and what the chunking adds.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from lib.avatar.base import Emotion
from lib.bench.bridge_lite import lite_path
from lib.brain.events import ResponseCreated, ResponseDone, TextDelta, TextDone
from lib.bridge.agents import agents_for
from lib.bridge.bridge import Bridge
from lib.bridge.chunking import parse_strategy
from lib.bridge.config import BridgeConfig
from lib.bridge.timeline import Timeline
from lib.emulators.launcher import start_emulator
from lib.runtime.script import Script, ScriptTurn
from lib.runtime.sweep import Sweep, SweepPlan
from lib.store.database import Store, open_store
from lib.store.queries import experiment_conversation_ids, first_piece_sent

FIXTURES: Final = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "speech"
TARGET_OVERHEAD_P99_MS: Final = 1.0
TARGET_E2E_P50_MS: Final = 800.0
STRATEGY: Final = "sentence:20"
Progress = Callable[[str], None]

# A real answer of the embedded concierge, as its deltas arrive (word by word).
ANSWER: Final = (
    "The Basic plan is free. Premium is 19 dollars a month, and Team is 49 dollars a month "
    "for up to five people. Every paid plan starts with a 14-day free trial."
)


class _RecordingAvatar:
    """The avatar side of the bridge, reduced to a clock: when was speak requested."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def speak_soon(self, text: str, token: str, emotion: Emotion | None = None) -> None:
        self.calls.append(time.perf_counter())

    def speak_audio_soon(self, pcm24k: bytes, token: str, *, event_id: str, end: bool) -> None:
        self.calls.append(time.perf_counter())

    def interrupt_soon(self) -> None:
        pass

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        pass


class _QuietBrain:
    def cancel(self) -> None:
        pass

    def send_function_output(self, call_id: str, output: str) -> None:
        pass


def _pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))], 4)


def bridge_overhead(store: Store, answers: int = 300, strategy: str = STRATEGY) -> dict[str, Any]:
    """Delta in → speak request out, in-process, over `answers` streamed answers."""
    avatar = _RecordingAvatar()
    conversation_id = "bench-overhead"
    timeline = Timeline(store, conversation_id)
    bridge = Bridge(
        timeline,
        avatar,
        _QuietBrain(),
        BridgeConfig(chunking=parse_strategy(strategy).name),
        agents_for("concierge"),
    )
    words = [w + " " for w in ANSWER.split(" ")]
    samples: list[float] = []
    for n in range(answers):
        response_id = f"resp_bench_{n}"
        bridge.user_text("How much does it cost?")
        bridge.on_brain_event(ResponseCreated("response.created", response_id))
        for word in words:
            before = len(avatar.calls)
            t0 = time.perf_counter()
            bridge.on_brain_event(
                TextDelta("response.output_text.delta", response_id, "item_bench", word)
            )
            if len(avatar.calls) > before:
                samples.append((avatar.calls[-1] - t0) * 1000)
        bridge.on_brain_event(
            TextDone("response.output_text.done", response_id, "item_bench", ANSWER.strip())
        )
        bridge.on_brain_event(
            ResponseDone("response.done", response_id, "completed", None, None, [])
        )
    return {
        "pieces": len(samples),
        "p50_ms": _pct(samples, 0.5),
        "p99_ms": _pct(samples, 0.99),
        "max_ms": round(max(samples), 4) if samples else None,
        "includes": "chunker, emotion, timeline and SQLite writes of the piece (WAL)",
    }


def _voice_script() -> Script:
    meta = json.loads((FIXTURES / "utterances.json").read_text())
    clips = [c for c in meta["clips"] if c["persona"] == "concierge"]
    return Script(
        "bench-concierge", "concierge", tuple(ScriptTurn(wav=FIXTURES / c["file"]) for c in clips)
    )


def pipeline(store: Store, repeat: int, progress: Progress) -> dict[str, Any]:
    """Spoken questions end to end on the embedded default (ttft 0), then the LITE path."""
    realtime = start_emulator("realtime", "--ttft-ms", "0")
    try:
        script = _voice_script()
        plan = SweepPlan(
            brain="local",
            avatar="local",
            bridges=(BridgeConfig(chunking=STRATEGY),),
            script=script,
            repeat=repeat,
            local_brain_url=realtime.base_url,
            name="bench bridge",
        )
        sweep = Sweep(
            store,
            plan,
            lambda p: progress(f"{p.done}/{p.total} turns · {p.turn or p.message}"),
        )
        result = sweep.run()[0]
        progress("the LITE path: the model's audio to the embedded LiveAvatar LITE server")
        lite = lite_path(store, script, realtime.base_url, max(3, repeat), progress)
    finally:
        realtime.stop()
    conv_ids = experiment_conversation_ids(store, sweep.experiment_id)
    firsts = first_piece_sent(store, conv_ids)
    to_request = [
        (r["sent_at"] - r["first_delta_at"]) * 1000
        for r in firsts.to_dict("records")
        if r["sent_at"] is not None and r["first_delta_at"] is not None
    ]
    return {
        "summary": result,
        "first_delta_to_request_ms": {
            "p50": _pct(to_request, 0.5),
            "n": len(to_request),
            "note": "includes the chunker waiting for the first sentence to end",
        },
        "experiment_id": sweep.experiment_id,
        "lite": lite,
    }


def run(*, seconds: float = 0.0, repeat: int = 1, progress: Progress = print) -> dict[str, Any]:
    progress("bridge overhead, in-process (300 answers)")
    with tempfile.TemporaryDirectory() as tmp:  # a real file: WAL writes are part of the cost
        overhead = bridge_overhead(Store(f"{tmp}/overhead.db"))
    progress("local end to end: spoken questions through both embedded servers")
    live = pipeline(open_store(), max(1, repeat), progress)
    stages = live["summary"]["stages"]
    e2e = stages.get("e2e", {}).get("median_ms")
    breakdown = {
        name: stages[name]["median_ms"]
        for name in ("endpointing", "transcription", "model_ttft", "chunking", "avatar_latency")
        if name in stages
    }
    return {
        "bridge_overhead_ms": overhead,
        "speech_end_to_avatar_start_ms_p50": e2e,
        "e2e_n": stages.get("e2e", {}).get("n", 0),
        "e2e_breakdown_ms_median": breakdown,
        "first_delta_to_avatar_request_ms": live["first_delta_to_request_ms"],
        "lite_path": live["lite"],
        "chunking": STRATEGY,
        "turn_status": live["summary"]["status"],
        "targets": {"overhead_p99_ms": TARGET_OVERHEAD_P99_MS, "e2e_p50_ms": TARGET_E2E_P50_MS},
        "meets_targets": {
            "overhead_p99": (overhead["p99_ms"] or 1e9) <= TARGET_OVERHEAD_P99_MS,
            "e2e_p50": (e2e or 1e9) <= TARGET_E2E_P50_MS,
        },
        "experiment_id": live["experiment_id"],
        "note": "model timing simulated (ttft 0, 30 tokens/s); speech end = the server's "
        "speech_stopped (after 500 ms of silence); avatar start = the local server's "
        "avatar_start_talking event",
    }

"""The avatar's own ears: the user's microphone published into the room → turns → transcripts.

HeyGen voice chat and LiveAvatar FULL run their own speech recognition on what the user says
into the room; this is the embedded stand-in (Silero VAD with server-VAD semantics, Whisper,
transcription started speculatively at a pause as in the Realtime server). Events go out on
the room in each API's own shape:

* HeyGen: `user_start`, `user_stop`, `user_talking_message {task_id, message}`,
  `user_end_message {task_id}`.
* LiveAvatar FULL: `user.speak_started`, `user.speak_ended`, `user.transcription {text}`.

A microphone delivers audio in real time: audio that arrives faster is dropped (a client
flooding the room cannot make the ears buffer or transcribe faster than anyone speaks), and a
turn that goes on past MAX_TURN_S ends there.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.audio import resample
from lib.emulators.realtime.input_audio import InputAudio
from lib.emulators.realtime.model import SAMPLE_RATE, Listener
from lib.emulators.rooms.sessions import Session

TURN_DETECTION: Final = {
    "type": "server_vad",
    "threshold": 0.5,
    "silence_duration_ms": 500,
    "prefix_padding_ms": 300,
}

# Audio taken ahead of the wall clock, at most: covers network jitter and a client's buffering.
MAX_AHEAD_S: Final = 2.0
# One turn's audio, at most (~5.8 MB at 24 kHz): far longer than anyone speaks without a pause.
MAX_TURN_S: Final = 120.0

T = TypeVar("T")
_listener: Listener | None = None
_listener_lock = threading.Lock()


def shared_listener() -> Listener:
    """One speech model per server process, loaded on first use (voice chat is rare)."""
    global _listener
    with _listener_lock:
        if _listener is None:
            _listener = Listener()
        return _listener


def warm_ears() -> None:
    """Load the speech model in the background as soon as someone starts listening."""
    threading.Thread(target=shared_listener().warm, name="ears-warm", daemon=True).start()


class RealTimeGate:
    """Lets audio through no faster than it plays: up to MAX_AHEAD_S ahead of the clock,
    refilled as time passes (a token bucket measured in seconds of audio)."""

    def __init__(
        self, ahead_s: float = MAX_AHEAD_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ahead_s = ahead_s
        self._clock = clock
        self._credit_s = ahead_s
        self._at = clock()

    def take(self, seconds: float) -> bool:
        """True (and counted) if `seconds` of audio may pass now."""
        now = self._clock()
        self._credit_s = min(self._ahead_s, self._credit_s + now - self._at)
        self._at = now
        if seconds > self._credit_s:
            return False
        self._credit_s -= seconds
        return True


class UserEars:
    def __init__(self, session: Session, listener: Listener) -> None:
        self.session = session
        self.listener = listener
        self.input = InputAudio()
        self.input.configure(TURN_DETECTION)
        self._start_ms: float | None = None
        self._turn_id = ""
        self._early: tuple[int, asyncio.Task[tuple[str, list[str]]]] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._feeding = asyncio.Lock()  # VAD runs off-loop; keep chunks in order
        self._gate = RealTimeGate()

    async def feed(self, pcm: npt.NDArray[np.int16], sample_rate: int) -> None:
        if sample_rate <= 0 or not self._gate.take(pcm.size / sample_rate):
            return  # faster than anyone speaks: dropped
        if sample_rate != SAMPLE_RATE:
            pcm = resample(pcm, sample_rate, SAMPLE_RATE)
        async with self._feeding:
            for turn in await self.input.append(pcm.astype("<i2").tobytes()):
                self._on_turn(turn.kind, turn.at_ms)
            if self._start_ms is not None and self.input.buffered_ms > MAX_TURN_S * 1000:
                self._on_turn("speech_stopped", int(self.input.total_ms))  # cut it here
            if self._start_ms is None:
                self.input.trim_idle()

    def _on_turn(self, kind: str, at_ms: int) -> None:
        if kind == "speech_started":
            self._start_ms, self._early = float(at_ms), None
            self._turn_id = uuid.uuid4().hex
            self._send("started")
        elif kind == "speech_paused" and self._start_ms is not None:
            pcm = self.input.peek(self._start_ms, float(at_ms))
            self._early = (at_ms, self._spawn(asyncio.to_thread(self._hear, pcm)))
        elif kind == "speech_stopped" and self._start_ms is not None:
            self._send("stopped")
            pcm = self.input.take(self._start_ms, float(at_ms))
            early, self._early, self._start_ms = self._early, None, None
            heard = early[1] if early is not None and early[0] == at_ms else None
            self._spawn(self._transcribe(self._turn_id, pcm, heard))

    def _hear(self, pcm: npt.NDArray[np.int16]) -> tuple[str, list[str]]:
        return self.listener.transcribe(pcm, None)

    async def _transcribe(
        self,
        turn_id: str,
        pcm: npt.NDArray[np.int16],
        heard: asyncio.Task[tuple[str, list[str]]] | None,
    ) -> None:
        text = ""
        with contextlib.suppress(Exception):  # an unintelligible turn is an empty transcript
            text, _ = await (heard if heard is not None else asyncio.to_thread(self._hear, pcm))
        self._send("transcript", turn_id=turn_id, text=text.strip())

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _send(self, what: str, **fields: str) -> None:
        s = self.session
        if s.closed:
            return
        if s.mode == "FULL":
            kind = {
                "started": "user.speak_started",
                "stopped": "user.speak_ended",
                "transcript": "user.transcription",
            }[what]
            body: dict[str, Any] = {"event_type": kind, "session_id": s.session_id}
            body["event_id"] = uuid.uuid4().hex
            if what == "transcript":
                body["text"] = fields["text"]
            s.stream.broadcast(body)
            return
        if what == "started":
            s.stream.broadcast({"type": "user_start"})
        elif what == "stopped":
            s.stream.broadcast({"type": "user_stop"})
        else:
            tid = fields["turn_id"]
            s.stream.broadcast(
                {"type": "user_talking_message", "task_id": tid, "message": fields["text"]}
            )
            s.stream.broadcast({"type": "user_end_message", "task_id": tid})

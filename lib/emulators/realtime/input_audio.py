"""The input audio buffer of a Realtime session and its turn detection.

Times are session audio time (ms since the first appended sample), which is what the real API
reports in `audio_start_ms` / `audio_end_ms`. The VAD's own clock restarts whenever it is reset
(clear, commit, reconfiguration); `_vad_offset_ms` maps it back to session time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.vad import StreamingVAD
from lib.emulators.realtime.model import BYTES_PER_MS, SAMPLE_RATE, SEMANTIC_SILENCE_MS

IDLE_KEEP_MS = 2000.0  # audio kept before speech starts: covers prefix padding and VAD lag
# After this much silence the words so far are transcribed speculatively, while VAD waits out
# the rest of silence_duration_ms; if the turn does end there, the transcript is (nearly) ready.
SPECULATE_AFTER_MS = 160.0


@dataclass(frozen=True)
class TurnEvent:
    kind: str  # "speech_started" | "speech_paused" | "speech_stopped"
    at_ms: int  # session audio time


def make_vad(turn_detection: dict[str, Any] | None) -> StreamingVAD | None:
    """Silero VAD set up from `audio.input.turn_detection`; None means push-to-talk."""
    td = turn_detection
    if td is None:
        return None
    if td["type"] == "semantic_vad":
        silence = SEMANTIC_SILENCE_MS.get(str(td.get("eagerness") or "auto"), 700)
        threshold, padding = 0.5, 300
    else:
        silence = int(td.get("silence_duration_ms") or 500)
        threshold = float(td["threshold"]) if td.get("threshold") is not None else 0.5
        padding = int(td.get("prefix_padding_ms") or 0)
    return StreamingVAD(
        threshold=min(0.99, max(0.01, threshold)),  # Silero needs 0 < threshold < 1
        silence_duration_ms=silence,
        prefix_padding_ms=padding,
        sample_rate=SAMPLE_RATE,
        pause_after_ms=min(SPECULATE_AFTER_MS, silence / 2),
    )


class InputAudio:
    def __init__(self) -> None:
        self._buffer = bytearray()  # uncommitted PCM16 24 kHz mono
        self._buffer_start_ms = 0.0
        self.total_ms = 0.0  # all audio appended this session
        self._turn_detection: dict[str, Any] | None = None  # None: push-to-talk
        # Made on the first audio after (re)configuration: a Silero stream holds ~10 MB, and
        # a text-only session never needs one.
        self._vad: StreamingVAD | None = None
        self._vad_offset_ms = 0.0

    @property
    def buffered_ms(self) -> float:
        return len(self._buffer) / BYTES_PER_MS

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    @property
    def start_ms(self) -> float:
        return self._buffer_start_ms

    def configure(self, turn_detection: dict[str, Any] | None) -> None:
        self._turn_detection = turn_detection
        self._vad = None
        self._vad_offset_ms = self.total_ms

    def _stream_vad(self) -> StreamingVAD | None:
        """The VAD for the audio about to be appended (its clock starts there if new)."""
        if self._vad is None and self._turn_detection is not None:
            self._vad = make_vad(self._turn_detection)
            self._vad_offset_ms = self.total_ms
        return self._vad

    def reset_vad(self) -> None:
        if self._vad is not None:
            self._vad.reset()
            self._vad_offset_ms = self.total_ms

    async def append(self, data: bytes) -> list[TurnEvent]:
        """Buffer the audio and run turn detection on it (in a thread: Silero is CPU work)."""
        data = data[: len(data) - len(data) % 2]  # PCM16: whole samples only
        if not data:
            return []
        vad = self._stream_vad()
        self._buffer += data
        self.total_ms += len(data) / BYTES_PER_MS
        if vad is None:
            return []
        offset = self._vad_offset_ms
        pcm = np.frombuffer(data, dtype="<i2").astype(np.int16)
        events = await asyncio.to_thread(vad.feed, pcm)
        if vad is not self._vad:
            return []  # reconfigured meanwhile: these times belong to a dropped clock
        return [TurnEvent(e.kind, int(offset + e.audio_ms)) for e in events]

    def trim_idle(self) -> None:
        """Between turns only the last couple of seconds can become part of the next turn
        (with VAD; in push-to-talk everything up to the commit is the turn)."""
        if self._turn_detection is None:
            return
        excess_ms = self.total_ms - self._buffer_start_ms - IDLE_KEEP_MS
        if excess_ms > 0:
            cut = int(excess_ms * BYTES_PER_MS) // 2 * 2
            del self._buffer[:cut]
            self._buffer_start_ms += cut / BYTES_PER_MS

    def _span(self, start_ms: float, end_ms: float) -> tuple[int, int]:
        lo = max(0, int((start_ms - self._buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        hi = max(lo, int((end_ms - self._buffer_start_ms) * BYTES_PER_MS) // 2 * 2)
        return lo, hi

    def peek(self, start_ms: float, end_ms: float) -> npt.NDArray[np.int16]:
        """A copy of [start, end), left in the buffer (what `take` would cut)."""
        lo, hi = self._span(start_ms, end_ms)
        return np.frombuffer(bytes(self._buffer[lo:hi]), dtype="<i2").astype(np.int16)

    def take(self, start_ms: float, end_ms: float) -> npt.NDArray[np.int16]:
        """Cut [start, end) out of the buffer; what follows `end` stays uncommitted."""
        lo, hi = self._span(start_ms, end_ms)
        pcm = np.frombuffer(bytes(self._buffer[lo:hi]), dtype="<i2").astype(np.int16)
        del self._buffer[:hi]
        self._buffer_start_ms += hi / BYTES_PER_MS
        return pcm

    def take_all(self) -> npt.NDArray[np.int16]:
        return self.take(self._buffer_start_ms, self.total_ms)

    def clear(self) -> None:
        self._buffer.clear()
        self._buffer_start_ms = self.total_ms
        self.reset_vad()

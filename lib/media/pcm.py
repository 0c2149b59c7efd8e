"""A whole PCM16 clip for the voice model: to mono and to its rate, band-limited (PyAV's
libswresample), as a scripted WAV turn is sent."""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt


def resample(
    pcm: npt.NDArray[np.int16], rate_in: int, rate_out: int, channels: int = 1
) -> npt.NDArray[np.int16]:
    """Interleaved int16 → mono (the channels averaged) at `rate_out`; the filter is drained at
    the end of the clip."""
    frames = pcm.reshape(-1, channels).astype(np.int32)
    mono = np.ascontiguousarray(frames.sum(axis=1) // channels, dtype=np.int16)
    if rate_in == rate_out or mono.size == 0:
        return mono
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_out)
    frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate_in
    out = [*resampler.resample(frame), *resampler.resample(None)]
    if not out:
        return np.zeros(0, np.int16)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out]).astype(np.int16, copy=False)

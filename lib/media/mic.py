"""Browser mic → the voice model: streamlit-webrtc sink frames (48 kHz s16, usually stereo) →
24 kHz mono PCM16 → `input_audio_buffer.append`, in ~100 ms batches (fewer, larger events)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import av
import numpy as np

TARGET_RATE = 24000
BATCH_MS = 100


class MicForwarder:
    """Callable for `create_audio_sink_track` (runs on the aiortc thread)."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=TARGET_RATE)
        self._buf = bytearray()
        self._lock = threading.Lock()
        self.enabled = True
        self.frames = 0
        self.level = 0.0  # RMS of the last frame, 0..1, for a mic meter
        self.last_frame_at: float | None = None

    def __call__(self, frame: av.AudioFrame) -> None:
        self.frames += 1
        self.last_frame_at = time.time()
        pcm = b"".join(bytes(f.planes[0])[: f.samples * 2] for f in self._resampler.resample(frame))
        if pcm:
            samples = np.frombuffer(pcm, dtype=np.int16)
            self.level = float(np.sqrt(np.mean((samples / 32768.0) ** 2)))
        # Checked and sent under the lock: once `enabled` is off and `flush()` has returned,
        # nothing more is sent (push to talk commits the turn right after).
        with self._lock:
            if not self.enabled:
                return
            self._buf += pcm
            if len(self._buf) < TARGET_RATE * 2 * BATCH_MS // 1000:
                return
            chunk, self._buf = bytes(self._buf), bytearray()
            self._send(chunk)

    def flush(self) -> None:
        with self._lock:
            chunk, self._buf = bytes(self._buf), bytearray()
            if chunk:
                self._send(chunk)

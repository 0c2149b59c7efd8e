"""Digital silence on an outgoing audio track: its RFC 6465 level, and re-sending a settled
Opus encoder's silence packet instead of encoding every silent 20 ms (the avatar is silent most
of the time, and each encode runs on the media loop the streams share)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIN_AUDIO_LEVEL = -127  # dBov, RFC 6465: what digital silence measures
OPUS_CLOCK = 48000  # RTP clock of Opus, whatever the input rate
# Silent frames encoded before the encoder's output is reused: by then its packets are pure
# silence (they decode to zeros), and speech after the run decodes as loud, 20 ms by 20 ms
# within 1 dB, as when every silent frame is encoded (tests/unit/test_webrtc.py).
SILENCE_SETTLE_FRAMES = 10


def audio_level_dbov(frame: Any) -> int:
    """RFC 6465 Appendix A, computed as aiortc's `compute_audio_level_dbov` does (same bytes,
    same rounding), with numpy instead of a Python loop over every sample (~0.07 ms a frame,
    50 frames a second per stream, on the media loop)."""
    samples = np.frombuffer(frame.planes[0], dtype=np.int16).astype(np.float64)
    rms = math.sqrt(float(np.dot(samples, samples)) / (frame.samples * 32767 * 32767))
    if rms <= 0:
        return MIN_AUDIO_LEVEL
    return round(min(0.0, max(float(MIN_AUDIO_LEVEL), 20 * math.log10(rms))))


class SilenceRun:
    """An audio sender's run of digitally silent frames. The avatar is silent most of the
    time, and each silent 20 ms cost an Opus encode (~0.2 ms on the media loop, 50 a second
    per stream). Once SILENCE_SETTLE_FRAMES silent frames have been encoded, the last packet
    is sent again for each further silent frame, its timestamp advanced by the frame's
    length, and the browser decodes the same silence. The encoder is not fed meanwhile, so
    it must not see the gap: PyAV's resampler in front of it stamps the first frame after a
    jump in pts by its own sample count. Frames reach it with pts less the skipped time, and
    its timestamps come back plus the skipped samples."""

    def __init__(self) -> None:
        self.length = 0  # silent frames in a row, this one included
        self.timestamp: int | None = None  # of the last packet sent
        self.packet: list[bytes] | None = None  # the settled encoder's silence
        self.skipped_pts = 0  # time not shown to the encoder, in the frames' time base
        self.skipped_rtp = 0  # the same, in the RTP clock

    def next(self, frame: Any, level: int) -> tuple[list[bytes], int, int] | None:
        """(payloads, timestamp, level) to send instead of encoding `frame`, or None."""
        if level > MIN_AUDIO_LEVEL or np.frombuffer(frame.planes[0], dtype=np.int16).any():
            self.length, self.packet = 0, None
            return None
        self.length += 1
        if self.packet is None or self.timestamp is None:
            return None
        step = round(frame.samples * OPUS_CLOCK / frame.sample_rate)
        self.timestamp += step
        self.skipped_rtp += step
        self.skipped_pts += round(frame.samples / frame.sample_rate / frame.time_base)
        return self.packet, self.timestamp, level

    def encode(self, encoder: Any, frame: Any) -> tuple[list[bytes], int | None]:
        """Encode `frame` as if the skipped frames had never existed; the packets' timestamp
        on the sender's timeline (aiortc's is None while its resampler buffers)."""
        pts = frame.pts
        if pts is not None:
            frame.pts = pts - self.skipped_pts
        try:
            payloads, timestamp = encoder.encode(frame)
        finally:
            frame.pts = pts  # the frame may be shared (a relay hands it to every subscriber)
        if not payloads or timestamp is None:
            return payloads, timestamp
        self.timestamp = timestamp + self.skipped_rtp
        if self.length >= SILENCE_SETTLE_FRAMES:
            self.packet = payloads
        return payloads, self.timestamp

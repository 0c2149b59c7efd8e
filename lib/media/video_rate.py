"""The bitrate the avatar's VP8 encoder runs at, given the browser's bandwidth estimates.

aiortc re-opens its VP8 codec whenever the receiver's REMB estimate moves by more than 10 %,
and every re-open is a keyframe and a step in picture quality. aiortc does not probe for
bandwidth, so Chrome's estimate starts at its floor and climbs slowly: a stream's first seconds
were a keyframe every second or two. The keyframe bursts grow the browser's video jitter buffer,
and the quality steps look like mouth movement to a pixel comparison.

An avatar is drawn, so the rate it needs is known from its size (`BITS_PER_PIXEL_SECOND`).
The encoder runs at that rate and reads the estimates
for what they say about the path:
- a fall: Chrome cuts its estimate only when it sees the path overused (to 0.85 x what
  arrived), so the encoder drops to it at once;
- a rise: it climbs back towards the size's rate in steps of at least 30 %, no more often than
  every `UP_DWELL_S`, so a recovery costs a few keyframes, not one every 10 %.
A low estimate that is not a fall (the first one, or one still climbing) says nothing about
the path and is not followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.codecs.vpx import MAX_BITRATE as MAX_BPS
from aiortc.codecs.vpx import MIN_BITRATE as MIN_BPS

BITS_PER_PIXEL_SECOND = 1.5
FALL = 0.95  # an estimate this far below the previous one is a cut for overuse
UP_STEP = 1.3
UP_DWELL_S = 5.0
MIN_CHANGE = 0.1  # aiortc keeps its codec for changes up to 10 %: so does this


def _clamp(bps: float) -> int:
    return int(max(MIN_BPS, min(MAX_BPS, bps)))


@dataclass
class VideoRate:
    ceiling: int
    rate: int
    estimate: int | None = None
    changed_at: float = 0.0
    changes: int = 0

    @classmethod
    def for_size(cls, width: int, height: int, now: float) -> VideoRate:
        ceiling = _clamp(BITS_PER_PIXEL_SECOND * width * height)
        return cls(ceiling=ceiling, rate=ceiling, changed_at=now)

    def resize(self, width: int, height: int, now: float) -> None:
        """A new frame size: its own rate, unless a fall held the rate below the old size's."""
        held = self.rate < self.ceiling
        self.ceiling = _clamp(BITS_PER_PIXEL_SECOND * width * height)
        self._set(min(self.ceiling, self.rate) if held else self.ceiling, now)

    def on_estimate(self, bps: int, now: float) -> None:
        """The receiver's latest estimate of the path (REMB), in bits per second."""
        bps = _clamp(bps)
        previous, self.estimate = self.estimate, bps
        if previous is not None and bps < previous * FALL:
            if bps < self.rate * (1 - MIN_CHANGE):
                self._set(bps, now)
        elif (
            self.rate < self.ceiling
            and bps >= min(self.rate * UP_STEP, self.ceiling)
            and now - self.changed_at >= UP_DWELL_S
        ):
            self._set(min(self.ceiling, bps), now)

    def _set(self, bps: int, now: float) -> None:
        if bps != self.rate:
            self.rate, self.changed_at = bps, now
            self.changes += 1

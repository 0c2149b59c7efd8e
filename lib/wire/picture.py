"""Video pictures as transports deliver them: RGB24 rows, or planar I420.

I420 (YUV 4:2:0: a full-size Y plane, then quarter-size U and V) is what VP8 encodes. A source
that can deliver it (the local avatar server converts on its render threads, in its own process)
spares the app's media loop a colour conversion per frame and half the bytes to copy; RGB stays
for transports that hand over RGB (the LiveKit room's decoded frames, tests).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeAlias

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import VideoReformatter

U8: TypeAlias = npt.NDArray[np.uint8]
_local = threading.local()


REFORMATTERS_KEPT = 16  # per thread: a frame size, and the few sizes of face patches


def _reformatter(width: int, height: int) -> VideoReformatter:
    """This thread's converter for one picture size. `VideoFrame.reformat` sets up a new
    swscale context for every frame, half the cost of a conversion; a reformatter keeps its
    context while the size stays the same, so one is kept per size (face patches come in a few)
    and per thread (a context is not thread-safe)."""
    kept: OrderedDict[tuple[int, int], VideoReformatter] | None = getattr(_local, "kept", None)
    if kept is None:
        kept = _local.kept = OrderedDict()
    reformatter = kept.get((width, height))
    if reformatter is None:
        reformatter = kept[(width, height)] = VideoReformatter()
        if len(kept) > REFORMATTERS_KEPT:
            kept.popitem(last=False)
    else:
        kept.move_to_end((width, height))
    return reformatter


@dataclass(frozen=True)
class I420:
    """Y, U and V planes stacked as one (height * 3 / 2, width) array (PyAV's yuv420p layout:
    each chroma plane fills height / 4 rows); even width, height a multiple of 4."""

    planes: U8

    def __post_init__(self) -> None:
        rows, width = self.planes.shape
        if self.planes.dtype != np.uint8 or rows % 6 or width % 2:
            raise ValueError(f"not an I420 picture: planes of shape {self.planes.shape}")

    @property
    def width(self) -> int:
        return int(self.planes.shape[1])

    @property
    def height(self) -> int:
        return int(self.planes.shape[0] * 2 // 3)

    @classmethod
    def from_rgb(cls, rgb: U8) -> I420:
        """Convert with libswscale (BT.601, as browsers assume for VP8 without colour info);
        it releases the GIL, so render threads convert in parallel."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        converted = _reformatter(frame.width, frame.height).reformat(frame, format="yuv420p")
        planes: U8 = np.asarray(converted.to_ndarray(), dtype=np.uint8)
        return cls(planes)

    def to_rgb(self) -> U8:
        return np.asarray(self.to_frame().to_ndarray(format="rgb24"), dtype=np.uint8)

    def to_frame(self) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(self.planes, format="yuv420p")

    def crop(self, x: int, y: int, w: int, h: int) -> I420:
        """The w x h picture at (x, y): x, y and w even, h divisible by 4."""
        if x % 2 or y % 2 or w % 2 or h % 4 or w <= 0 or h <= 0:
            raise ValueError(f"not an I420 crop: {w}x{h} at ({x}, {y})")
        if x + w > self.width or y + h > self.height:
            raise ValueError(f"crop {w}x{h} at ({x}, {y}) leaves {self.width}x{self.height}")
        H, W = self.height, self.width
        rows = [self.planes[y : y + h, x : x + w]]
        for plane in range(2):
            src = self.planes[H + plane * H // 4 : H + (plane + 1) * H // 4].reshape(H // 2, W // 2)
            rows.append(src[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2].reshape(h // 4, w))
        return I420(np.concatenate(rows))

    def with_patch(self, patch: I420, x: int, y: int) -> I420:
        """A copy with `patch` drawn at (x, y) (rounded down to even: chroma is per 2x2)."""
        x, y = x & ~1, y & ~1
        w = min(patch.width, self.width - x) & ~1
        h = min(patch.height, self.height - y) & ~1
        out = self.planes.copy()
        if w <= 0 or h <= 0:
            return I420(out)
        src, H, W, PH, PW = patch.planes, self.height, self.width, patch.height, patch.width
        out[y : y + h, x : x + w] = src[:h, :w]
        # U then V: each (H/2, W/2), stored as H/4 rows of width W, i.e. row-major W/2 wide.
        for plane in range(2):
            dst = out[H + plane * H // 4 : H + (plane + 1) * H // 4].reshape(H // 2, W // 2)
            sp = src[PH + plane * PH // 4 : PH + (plane + 1) * PH // 4].reshape(PH // 2, PW // 2)
            dst[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = sp[: h // 2, : w // 2]
        return I420(out)


Picture: TypeAlias = U8 | I420
"""A frame's image: RGB24 rows of shape (height, width, 3), or I420."""


def picture_size(picture: Picture) -> tuple[int, int]:
    """(width, height)"""
    if isinstance(picture, I420):
        return picture.width, picture.height
    return int(picture.shape[1]), int(picture.shape[0])


def to_video_frame(picture: Picture) -> av.VideoFrame:
    if isinstance(picture, I420):
        return picture.to_frame()
    return av.VideoFrame.from_ndarray(picture, format="rgb24")


def to_rgb(picture: Picture) -> U8:
    return picture.to_rgb() if isinstance(picture, I420) else picture

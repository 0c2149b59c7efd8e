"""Design units and the shapes drawn in them: the map to output pixels, the curves the
outlines are built from, and the head's landmarks shared by the art and the sprite boxes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.looks import AvatarLook

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
Pts = Sequence[tuple[float, float]]
Box = tuple[float, float, float, float]  # design units: x0, y0, x1, y1
PixelBox = tuple[int, int, int, int]  # output pixels: x0, y0, x1, y1, x1 and y1 exclusive


# --- curves ---------------------------------------------------------------------------------


def spline(pts: Pts | F64, closed: bool = True, n: int = 10) -> F64:
    """Catmull-Rom curve through pts: organic outlines from a few hand-placed points."""
    p = np.asarray(pts, dtype=np.float64)
    # Pad with neighbours: wrap around for closed outlines, repeat the ends for open ones.
    p = np.vstack([p[-1:], p, p[:2]]) if closed else np.vstack([p[:1], p, p[-1:]])
    t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t3
            )
        )
    if not closed:
        out.append(p[-2:-1])
    return np.vstack(out)


def mirror(right: Pts) -> list[tuple[float, float]]:
    """Right half from top centre to bottom centre -> whole symmetric outline."""
    pts = list(right)
    return pts + [(-x, y) for x, y in reversed(pts[1:-1])]


def _flip(pts: Pts) -> list[tuple[float, float]]:
    return [(-x, y) for x, y in pts]


def wavy(pts: Pts, below: float = 40.0, amp: float = 0.75) -> list[tuple[float, float]]:
    """Ripple long hair sideways below `below` so it reads as waves, not a curtain."""
    return [(x + amp * math.sin((y - below) / 4.0) if y > below else x, y) for x, y in pts]


def bezier(
    p0: tuple[float, float],
    p1: tuple[float, float],
    p2: tuple[float, float],
    p3: tuple[float, float],
    n: int = 24,
) -> F64:
    t = np.linspace(0.0, 1.0, n)[:, None]
    a, b, c, d = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2, p3))
    r: F64 = ((1 - t) ** 3) * a + 3 * ((1 - t) ** 2) * t * b + 3 * (1 - t) * t * t * c + t**3 * d
    return r


def ribbon(path: F64, widths: F64) -> F64:
    """A tapered stroke as a polygon: offset the path both ways along its normals."""
    d = np.gradient(path, axis=0)
    norm = np.hypot(d[:, 0], d[:, 1])[:, None]
    n = np.column_stack([-d[:, 1], d[:, 0]]) / np.maximum(norm, 1e-9)
    half = (widths / 2.0)[:, None]
    return np.vstack([path + n * half, (path - n * half)[::-1]])


def taper(n: int, w0: float, wmid: float, w1: float) -> F64:
    s = np.linspace(0.0, 1.0, n)
    return np.where(
        s < 0.5, w0 + (wmid - w0) * np.sin(s * np.pi), w1 + (wmid - w1) * np.sin(s * np.pi)
    )


def flip_if(sx: float, pts: Pts) -> list[tuple[float, float]]:
    return list(pts) if sx > 0 else _flip(pts)


# --- framing --------------------------------------------------------------------------------

# A head-and-shoulders close-up like a video call or a news presenter: the head (hair to chin)
# fills a bit over half the frame height, the shoulders run off the bottom edge, a little
# headroom above the hair. One design unit is ZOOM * H / 100 output pixels; TOP is the design
# y at the frame's top edge.
ZOOM = 1.15
TOP = 5.0
# The mouth is drawn a little larger than the rest of the face: lip movement must still read
# after VP8 compression, and a mouth about as wide as the pupils are apart is also closer to
# real proportions.
MOUTH_SCALE = 1.22


@dataclass(frozen=True)
class View:
    """Affine map from design units to output pixels: px = (bx + a*x, by + a*y)."""

    a: float
    bx: float
    by: float

    @staticmethod
    def framing(width: int, height: int) -> View:
        a = height / 100.0 * ZOOM
        return View(a, width / 2.0, -TOP * a)

    def about(self, pivot: tuple[float, float], k: float) -> View:
        """The same map, with the art scaled by k around `pivot` (design units)."""
        px, py = pivot
        return View(self.a * k, self.bx + self.a * px * (1 - k), self.by + self.a * py * (1 - k))

    def box(self, box: Box) -> PixelBox:
        """Design-unit box -> the smallest whole-pixel box containing it."""
        x0, y0, x1, y1 = box
        return (
            math.floor(self.bx + x0 * self.a),
            math.floor(self.by + y0 * self.a),
            math.ceil(self.bx + x1 * self.a),
            math.ceil(self.by + y1 * self.a),
        )


def union(boxes: Sequence[PixelBox]) -> PixelBox:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


# --- the head: landmarks shared by the art and the sprite boxes -----------------------------

EYE_Y = 37.2
EYE_X = 6.3
MOUTH_Y = 50.7
BROW_Y = 32.2
# Feature sprite boxes (units: x0, y0, x1, y1). Each must lie inside the opaque face.
EYES_BOX = (-11.2, 33.2, 11.2, 40.6)
BROWS_BOX = (-11.2, 27.4, 11.2, 33.2)
# The mouth needs a wide box above and a narrower one reaching down to the chin (an open jaw
# drops the lower lip almost that far); one rectangle would poke out beside the chin.
MOUTH_BOXES = ((-8.2, 47.0, 8.2, 55.2), (-5.4, 55.2, 5.4, 59.4))
# The public mouth box: the lips and the opening between them, as wide as the widest mouth.
# It stops above the jaw line so that head motion never slides background or hair into its
# corners (pixel-counting lip-sync checks rely on that); a wide-open lower lip reaches below.
MOUTH_REGION = (-8.2, 47.0, 8.2, 55.0)
# The front of the collar re-drawn over the moving neck.
COLLAR_BOX = (-9.6, 61.0, 9.6, 75.0)


def neck_hw(look: AvatarLook) -> float:
    """Half the neck's width: the head draws the neck, the body its collar opening around it."""
    return 7.0 if look.gender == "male" else 6.2

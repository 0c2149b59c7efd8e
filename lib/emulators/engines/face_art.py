"""Art and asset building for the local avatar (internal to lib.emulators.engines.face).

Everything expensive happens once per (avatar, frame size) and is shared between renderers:
vector art is drawn with PIL at 2-3x and downsampled with LANCZOS (anti-aliasing), then cut
into layers:

- background variants (studio backdrop + body), one per breathing offset;
- the head layer (hair, neck, face) as premultiplied alpha, moved by whole pixels per frame;
- opaque sprites for the eyes (openness x gaze x smiling lids), brows (emotion x accent) and
  mouth (open x wide x round x smile, plus pressed lips). They are crops of the head with the
  feature drawn in, so pasting them needs no blending (the mouth is two stacked rectangles,
  wide at the lips and narrow down to the chin, so that both stay inside the face);
- the front of the collar, re-blended last so the moving neck always disappears into it.

The art is drawn in design units: 1 unit = 1 % of the height of a wider, chest-up framing,
x right of the centre line, y down from that framing's top. `_View` maps them to the real
frame, a head-and-shoulders close-up (see ZOOM and TOP), so every part of the art, blur
radius and line width scales together.
"""

from __future__ import annotations

import functools
import itertools
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from lib.emulators.engines.looks import AvatarLook
from lib.emulators.engines.visemes import MouthPose

__all__ = [
    "EMOTIONS",
    "EXPRESSIONS",
    "EYE_LEVELS",
    "GAZES",
    "OPEN_LEVELS",
    "Assets",
    "Blend",
    "Expression",
    "Sprite",
    "blend_into",
    "build_assets",
]

RGB = tuple[int, int, int]
U8 = npt.NDArray[np.uint8]
U16 = npt.NDArray[np.uint16]
F64 = npt.NDArray[np.float64]
Pts = Sequence[tuple[float, float]]
Box = tuple[float, float, float, float]
_Arr = TypeVar("_Arr", bound="np.ndarray[Any, Any]")


# --- colour and geometry helpers ------------------------------------------------------------


def _rgb(hex_color: str) -> RGB:
    h = hex_color.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _shade(c: RGB, f: float) -> RGB:
    """f < 1 darkens (and warms slightly, like real shadows on skin), f > 1 lightens."""
    if f >= 1.0:
        return _mix(c, (255, 255, 255), min(1.0, f - 1.0))
    d = (round(c[0] * f), round(c[1] * f * 0.97), round(c[2] * f * 0.95))
    return (max(0, d[0]), max(0, d[1]), max(0, d[2]))


def _spline(pts: Pts | F64, closed: bool = True, n: int = 10) -> F64:
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


def _mirror(right: Pts) -> list[tuple[float, float]]:
    """Right half from top centre to bottom centre -> whole symmetric outline."""
    pts = list(right)
    return pts + [(-x, y) for x, y in reversed(pts[1:-1])]


def _flip(pts: Pts) -> list[tuple[float, float]]:
    return [(-x, y) for x, y in pts]


def _wavy(pts: Pts, below: float = 40.0, amp: float = 0.75) -> list[tuple[float, float]]:
    """Ripple long hair sideways below `below` so it reads as waves, not a curtain."""
    return [(x + amp * math.sin((y - below) / 4.0) if y > below else x, y) for x, y in pts]


def _bezier(
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


def _ribbon(path: F64, widths: F64) -> F64:
    """A tapered stroke as a polygon: offset the path both ways along its normals."""
    d = np.gradient(path, axis=0)
    norm = np.hypot(d[:, 0], d[:, 1])[:, None]
    n = np.column_stack([-d[:, 1], d[:, 0]]) / np.maximum(norm, 1e-9)
    half = (widths / 2.0)[:, None]
    return np.vstack([path + n * half, (path - n * half)[::-1]])


def _taper(n: int, w0: float, wmid: float, w1: float) -> F64:
    s = np.linspace(0.0, 1.0, n)
    return np.where(
        s < 0.5, w0 + (wmid - w0) * np.sin(s * np.pi), w1 + (wmid - w1) * np.sin(s * np.pi)
    )


# --- framing and the supersampled canvas ----------------------------------------------------

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
class _View:
    """Affine map from design units to output pixels: px = (bx + a*x, by + a*y)."""

    a: float
    bx: float
    by: float

    @staticmethod
    def framing(width: int, height: int) -> _View:
        a = height / 100.0 * ZOOM
        return _View(a, width / 2.0, -TOP * a)

    def about(self, pivot: tuple[float, float], k: float) -> _View:
        """The same map, with the art scaled by k around `pivot` (design units)."""
        px, py = pivot
        return _View(self.a * k, self.bx + self.a * px * (1 - k), self.by + self.a * py * (1 - k))

    def box(self, box: Box) -> tuple[int, int, int, int]:
        """Design-unit box -> the smallest whole-pixel box containing it."""
        x0, y0, x1, y1 = box
        return (
            math.floor(self.bx + x0 * self.a),
            math.floor(self.by + y0 * self.a),
            math.ceil(self.bx + x1 * self.a),
            math.ceil(self.by + y1 * self.a),
        )


class _Canvas:
    """An RGBA image in supersampled pixels (ss per output pixel), addressed in design units.

    `origin` is the image's top-left corner in supersampled output pixels.
    """

    def __init__(self, img: Image.Image, origin: tuple[float, float], view: _View, ss: int) -> None:
        self.img = img
        self.ox, self.oy = origin
        self.view, self.ss = view, ss

    def sub(self, box: tuple[int, int, int, int], img: Image.Image) -> _Canvas:
        return _Canvas(img, (self.ox + box[0], self.oy + box[1]), self.view, self.ss)

    def scaled(self, pivot: tuple[float, float], k: float) -> _Canvas:
        """A view of the same image that draws everything k times larger around `pivot`."""
        return _Canvas(self.img, (self.ox, self.oy), self.view.about(pivot, k), self.ss)

    def xy(self, pts: Pts | F64) -> list[tuple[float, float]]:
        p = np.asarray(pts, dtype=np.float64)
        v, ss = self.view, self.ss
        x = (v.bx + p[:, 0] * v.a) * ss - self.ox
        y = (v.by + p[:, 1] * v.a) * ss - self.oy
        return list(zip(x.tolist(), y.tolist(), strict=True))

    def length(self, units: float) -> float:
        return units * self.view.a * self.ss

    def blank(self) -> Image.Image:
        return Image.new("L", self.img.size, 0)

    def poly(self, pts: Pts | F64, smooth: bool = False) -> Image.Image:
        m = self.blank()
        ImageDraw.Draw(m).polygon(self.xy(_spline(pts) if smooth else pts), fill=255)
        return m

    def ellipse(self, x: float, y: float, rx: float, ry: float) -> Image.Image:
        m = self.blank()
        (x0, y0), (x1, y1) = self.xy([(x - rx, y - ry), (x + rx, y + ry)])
        ImageDraw.Draw(m).ellipse((x0, y0, x1, y1), fill=255)
        return m

    def gradient(self, f: Callable[[F64, F64], F64]) -> Image.Image:
        """A mask from a function of unit coordinates (values 0..1)."""
        w, h = self.img.size
        v, ss = self.view, self.ss
        xs = ((np.arange(w) + 0.5 + self.ox) / ss - v.bx) / v.a
        ys = ((np.arange(h) + 0.5 + self.oy) / ss - v.by) / v.a
        g = np.clip(f(xs[None, :], ys[:, None]), 0.0, 1.0)
        return Image.fromarray((g * 255.0 + 0.5).astype(np.uint8), "L")

    def paint(
        self,
        mask: Image.Image,
        color: RGB,
        opacity: float = 1.0,
        blur: float = 0.0,
        clip: Image.Image | None = None,
    ) -> None:
        # Work on the mask's bounding box only (grown by the blur's reach): most shapes are
        # small and the head and body canvases are megapixels, so this is most of the build.
        bbox = mask.getbbox()
        if bbox is None:
            return
        if blur > 0:
            r = self.length(blur)
            box = _grow(bbox, int(r * 3) + 2, mask.size)
            m = mask.crop(box).filter(ImageFilter.GaussianBlur(r))
        else:
            box, m = bbox, mask.crop(bbox)
        if clip is not None:
            m = ImageChops.multiply(m, clip.crop(box))
        if opacity < 1.0:
            m = ImageChops.multiply(m, Image.new("L", m.size, round(255 * opacity)))
        layer = Image.new("RGBA", m.size, (*color, 255))
        layer.putalpha(m)
        self.img.alpha_composite(layer, dest=(box[0], box[1]))

    def stroke(
        self,
        path: F64,
        widths: F64,
        color: RGB,
        opacity: float = 1.0,
        blur: float = 0.0,
        clip: Image.Image | None = None,
    ) -> None:
        self.paint(self.poly(_ribbon(path, widths)), color, opacity, blur, clip)


def _grow(
    bbox: tuple[int, int, int, int], pad: int, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    return (
        max(0, bbox[0] - pad),
        max(0, bbox[1] - pad),
        min(size[0], bbox[2] + pad),
        min(size[1], bbox[3] + pad),
    )


def _blur(mask: Image.Image, radius: float) -> Image.Image:
    """Gaussian blur limited to the mask's bounding box (much cheaper on big canvases)."""
    bbox = mask.getbbox()
    if bbox is None or radius <= 0:
        return mask
    box = _grow(bbox, int(radius * 3) + 2, mask.size)
    out = Image.new("L", mask.size, 0)
    out.paste(mask.crop(box).filter(ImageFilter.GaussianBlur(radius)), box[:2])
    return out


def _edge_shade(mask: Image.Image, radius: float) -> Image.Image:
    """Mask that is strong just inside the shape's edge and fades towards its middle."""
    inner = _blur(mask, radius)
    return ImageChops.multiply(mask, ImageChops.invert(inner).point(_DOUBLE))


_DOUBLE = [min(255, 2 * v) for v in range(256)]


# --- the head: geometry shared by the art and the sprite boxes ------------------------------

_FACE_R = [
    (0.0, 15.0),
    (7.8, 16.3),
    (12.6, 21.2),
    (14.4, 28.0),
    (14.6, 35.0),
    (14.1, 41.5),
    (13.0, 47.0),
    (11.2, 52.0),
    (8.4, 56.0),
    (4.6, 58.4),
    (0.0, 59.0),
]
_EYE_Y = 37.2
_EYE_X = 6.3
_MOUTH_Y = 50.7
_BROW_Y = 32.2
# Feature sprite boxes (units: x0, y0, x1, y1). Each must lie inside the opaque face.
_EYES_BOX = (-11.2, 33.2, 11.2, 40.6)
_BROWS_BOX = (-11.2, 27.4, 11.2, 33.2)
# The mouth needs a wide box above and a narrower one reaching down to the chin (an open jaw
# drops the lower lip almost that far); one rectangle would poke out beside the chin.
_MOUTH_BOXES = ((-8.2, 47.0, 8.2, 55.2), (-5.4, 55.2, 5.4, 59.4))
# The public mouth box: the lips and the opening between them, as wide as the widest mouth.
# It stops above the jaw line so that head motion never slides background or hair into its
# corners (pixel-counting lip-sync checks rely on that); a wide-open lower lip reaches below.
_MOUTH_REGION = (-8.2, 47.0, 8.2, 55.0)
# The front of the collar re-drawn over the moving neck.
_COLLAR_BOX = (-9.6, 61.0, 9.6, 75.0)

# Animation and sprite quantisation.
OPEN_LEVELS = 8
EYE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
GAZES = ((0.0, 0.0), (-0.38, 0.0), (0.38, 0.0), (-0.28, -0.22), (0.3, 0.16))
_SMILES = (0.0, 0.35, 0.7, 1.0)
EMOTIONS = ("excited", "serious", "friendly", "soothing", "broadcaster")


@dataclass(frozen=True)
class Expression:
    smile: int  # index into _SMILES
    eye_open: float
    smiling_eyes: bool
    brow_raise: float
    brow_inner: float  # + lifts the inner ends (soft/concerned), - lowers them (stern)
    brow_arch: float
    brow_asym: float  # extra raise of one brow (confident)


EXPRESSIONS: dict[str | None, Expression] = {
    None: Expression(1, 1.0, False, 0.0, 0.0, 0.5, 0.0),
    "excited": Expression(3, 1.0, True, 1.1, 0.1, 0.85, 0.0),
    "serious": Expression(0, 0.75, False, -0.35, -0.5, 0.15, 0.0),
    "friendly": Expression(2, 1.0, True, 0.4, 0.15, 0.6, 0.0),
    "soothing": Expression(1, 0.5, False, 0.25, 0.45, 0.35, 0.0),
    "broadcaster": Expression(1, 1.0, False, 0.15, -0.05, 0.55, 0.35),
}


@dataclass(frozen=True)
class _Palette:
    skin: RGB
    skin_dark: RGB
    skin_light: RGB
    blush: RGB
    hair: RGB
    hair_dark: RGB
    hair_light: RGB
    brow: RGB
    lash: RGB
    iris: RGB
    lips: RGB
    outfit: RGB
    inner: RGB

    @staticmethod
    def of(look: AvatarLook) -> _Palette:
        skin, hair = _rgb(look.skin), _rgb(look.hair)
        blonde = sum(hair) > 400
        return _Palette(
            skin=skin,
            skin_dark=_shade(skin, 0.72),
            skin_light=_shade(skin, 1.18),
            blush=_mix(skin, (214, 84, 92), 0.55),
            hair=hair,
            hair_dark=_shade(hair, 0.62),
            hair_light=_mix(hair, (255, 236, 205), 0.32 if blonde else 0.2),
            brow=_shade(hair, 0.6 if blonde else 0.85),
            lash=(34, 24, 22),
            iris=_rgb(look.iris),
            lips=_rgb(look.lips),
            outfit=_rgb(look.outfit_color),
            inner=_rgb(look.inner_color),
        )


# --- art: background and body ---------------------------------------------------------------


def _background(look: AvatarLook, w: int, h: int) -> U8:
    """Studio backdrop: vertical gradient, a glow behind the presenter, soft bokeh, vignette."""
    top, bottom, glow = (
        np.array(_rgb(c), np.float32) for c in (look.bg_top, look.bg_bottom, look.bg_glow)
    )
    ys = (np.arange(h, dtype=np.float32) + 0.5) / h
    xs = (np.arange(w, dtype=np.float32) + 0.5 - w / 2) / h  # units of height, 0 at centre
    t = (ys**1.3)[:, None, None]
    img = top * (1 - t) + bottom * t
    img = np.broadcast_to(img, (h, w, 3)).copy()
    d2 = (xs[None, :] / 0.62) ** 2 + ((ys[:, None] - 0.36) / 0.5) ** 2
    img += (glow - img) * (0.55 * np.exp(-d2 * 1.6))[:, :, None]
    rng = np.random.default_rng(zlib.crc32(look.avatar_id.encode()))
    for _ in range(9):  # out-of-focus studio lights, kept away from the head
        side = rng.choice([-1.0, 1.0])
        bx = side * rng.uniform(0.42, 0.85)
        by = rng.uniform(0.08, 0.62)
        r = rng.uniform(0.05, 0.13)
        strength = rng.uniform(0.07, 0.16)
        # Only the light's bounding box: nine full-frame passes were most of this function.
        x0, x1 = np.searchsorted(xs, [bx - r, bx + r])
        y0, y1 = np.searchsorted(ys, [by - r, by + r])
        if x0 >= x1 or y0 >= y1:
            continue
        dist = np.sqrt((xs[None, x0:x1] - bx) ** 2 + (ys[y0:y1, None] - by) ** 2)
        a = np.clip((r - dist) / (0.45 * r), 0.0, 1.0) * strength
        patch = img[y0:y1, x0:x1]
        patch += (glow - patch) * a[:, :, None]
    v = (xs[None, :] / 0.95) ** 2 + ((ys[:, None] - 0.45) / 0.75) ** 2
    img *= (1.0 - 0.32 * np.clip(v, 0.0, 1.6) ** 1.4 / 1.6**1.4)[:, :, None]
    img += rng.uniform(-0.5, 0.5, size=(h, w, 1)).astype(np.float32)  # dither against banding
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


_BODY_R = [(0.0, 63.0), (7.6, 64.9), (11.5, 66.8), (16.0, 68.6), (25.0, 71.6), (33.0, 75.0),
           (38.5, 80.5), (41.2, 88.0), (42.6, 101.5), (0.0, 101.5)]  # fmt: skip


def _neck_hw(look: AvatarLook) -> float:
    return 7.0 if look.gender == "male" else 6.2


def _draw_body(look: AvatarLook, pal: _Palette, cv: _Canvas) -> Image.Image:
    """Draw the torso; return the mask of the collar opening (behind the neck)."""
    k = 1.08 if look.gender == "male" else 1.0
    body = cv.poly(_mirror([(x * k, y) for x, y in _BODY_R]), smooth=True)
    cv.paint(body, pal.outfit)
    # Cylinder shading: darker towards the arms, a soft light on the shoulders' top.
    cv.paint(cv.gradient(lambda x, y: ((np.abs(x) - 10.0) / 34.0) ** 2 * 1.4 + 0 * y),
             _shade(pal.outfit, 0.55), 0.6, clip=body)  # fmt: skip
    cv.paint(cv.ellipse(-18, 72.5, 11, 3.2), _shade(pal.outfit, 1.25), 0.22, blur=2.2, clip=body)
    cv.paint(cv.ellipse(18, 72.5, 11, 3.2), _shade(pal.outfit, 1.12), 0.15, blur=2.2, clip=body)
    nw = _neck_hw(look)
    if look.outfit.startswith("blazer"):
        return _draw_blazer(look, pal, cv, body, nw)
    return _draw_crew(pal, cv, body, nw, look.necklace)


def _draw_crew(
    pal: _Palette,
    cv: _Canvas,
    body: Image.Image,
    nw: float,
    necklace: bool,
    color: RGB | None = None,
    clip: Image.Image | None = None,
) -> Image.Image:
    c = color or pal.outfit
    # The opening hugs the neck; what shows of it beside a swaying neck is the inner back band.
    # It reaches up past the shoulders: everything above the front band is behind the neck.
    opening = cv.poly(
        _mirror(
            [
                (0, 58.0),
                (nw * 0.95, 58.0),
                (nw + 0.1, 64.4),
                (nw + 0.4, 65.9),
                (nw * 0.86, 67.7),
                (nw * 0.5, 68.3),
                (0, 68.5),
            ]
        ),
        smooth=True,
    )
    opening = ImageChops.multiply(opening, body)
    cv.paint(opening, _shade(c, 0.62))
    outer = cv.poly(_spline(_mirror([(0, 63.0), (nw * 0.9, 63.5), (nw + 1.5, 65.6),
                                     (nw + 0.3, 68.8), (0, 69.8)])))  # fmt: skip
    band = ImageChops.multiply(ImageChops.subtract(outer, opening), clip or body)
    cv.paint(band, _shade(c, 1.05))
    cv.paint(_edge_shade(band, cv.length(0.3)), _shade(c, 0.75), 0.35)
    cv.paint(cv.ellipse(0, 71.6, nw + 1.5, 1.6), _shade(c, 0.7), 0.3, blur=0.9, clip=body)
    if necklace:
        chain = _bezier((-nw - 0.3, 68.0), (-4.5, 73.6), (4.5, 73.6), (nw + 0.3, 68.0), 40)
        cv.stroke(chain, np.full(40, 0.16), (214, 178, 96), 0.95)
        cv.paint(cv.ellipse(0, 72.5, 0.55, 0.7), (228, 196, 120))
        cv.paint(cv.ellipse(-0.15, 72.3, 0.2, 0.25), (255, 246, 220), 0.9)
    return opening


def _draw_blazer(
    look: AvatarLook, pal: _Palette, cv: _Canvas, body: Image.Image, nw: float
) -> Image.Image:
    inner = pal.inner
    top = nw + 2.2
    vee = cv.poly([(-top, 64.6), (top, 64.6), (2.4, 86.0), (0, 88.0), (-2.4, 86.0)])
    vee = ImageChops.multiply(vee, body)  # never poke out above the shoulder line
    cv.paint(vee, inner)
    cv.paint(cv.gradient(lambda x, y: 1.0 - np.abs(x) / 5.0 + 0 * y), _shade(inner, 1.1), 0.25,
             clip=vee)  # fmt: skip
    if look.outfit == "blazer_crew":
        opening = _draw_crew(pal, cv, body, nw, look.necklace, inner, clip=vee)
    else:
        opening = cv.poly(
            _mirror(
                [
                    (0, 58.0),
                    (nw * 0.95, 58.0),
                    (nw + 0.1, 63.6),
                    (nw + 0.3, 65.2),
                    (3.0, 67.4),
                    (0, 69.0),
                ]
            ),
            smooth=True,
        )
        opening = ImageChops.multiply(opening, body)
        cv.paint(opening, _shade(inner, 0.72))
        for sx in (-1.0, 1.0):  # shirt collar wings
            wing = cv.poly(_spline(_flip_if(sx, [(nw + 0.1, 64.7), (nw + 1.8, 66.6),
                                                 (nw + 0.9, 70.2), (2.7, 73.4), (0.3, 69.2),
                                                 (3.4, 67.3)])))  # fmt: skip
            wing = ImageChops.multiply(wing, body)
            cv.paint(wing, inner)
            cv.paint(_edge_shade(wing, cv.length(0.3)), _shade(inner, 0.72), 0.8)
        for y in (76.0, 81.5, 87.0):
            cv.paint(cv.ellipse(0, y, 0.28, 0.28), _shade(inner, 0.75))
    for sx in (-1.0, 1.0):  # lapels
        lapel = cv.poly(_flip_if(sx, [(top, 64.6), (top + 3.0, 67.0), (top + 1.8, 76.0),
                                      (top + 3.2, 76.8), (5.4, 86.5), (2.4, 86.0)]))  # fmt: skip
        cv.paint(lapel, _shade(pal.outfit, 0.86), clip=body)
        cv.paint(_edge_shade(lapel, cv.length(0.4)), _shade(pal.outfit, 0.6), 0.7, clip=body)
        edge = _bezier((sx * top, 64.6), (sx * 6.5, 71.0), (sx * 4.5, 80.0), (sx * 2.4, 86.0), 30)
        cv.stroke(edge, np.full(30, 0.3), _shade(pal.outfit, 0.5), 0.8, blur=0.15)
    cv.paint(cv.ellipse(0, 96.0, 0.75, 0.75), _shade(pal.outfit, 0.55))
    return opening


def _flip_if(sx: float, pts: Pts) -> list[tuple[float, float]]:
    return list(pts) if sx > 0 else _flip(pts)


# --- art: the head --------------------------------------------------------------------------


def _face_outline(look: AvatarLook) -> list[tuple[float, float]]:
    k = 1.05 if look.gender == "male" else 1.0  # a squarer, broader jaw
    return _mirror([(x * (k if y > 42 else 1.0), y) for x, y in _FACE_R])


_STATIC_BACK_HAIR = frozenset({"long_wavy", "bob"})


def _draw_static_back_hair(look: AvatarLook, pal: _Palette, cv: _Canvas) -> None:
    if look.hair_style in _STATIC_BACK_HAIR:
        for piece in _hair_shapes(look.hair_style)[0]:
            cv.paint(cv.poly(piece, smooth=True), pal.hair_dark)


Outline = list[tuple[float, float]]

# Hair outlines in units (x right of centre, y down from the top), hand-placed, smoothed with
# Catmull-Rom when drawn. Each style: (back pieces, front pieces).
# fmt: off
_HAIR: dict[str, tuple[list[Outline], list[Outline]]] = {
    "long_wavy": (
        [_mirror([(0, 30.0), (12.5, 31.0), (15.2, 40.0), (15.6, 50.0), (15.0, 60.0),
                  (13.6, 70.0), (0, 70.0)])],
        [_wavy([
            # outside: from the left tip up over the crown and down to the right tip
            (-13.8, 84.5), (-17.8, 82.5), (-20.6, 75.0), (-21.0, 66.0), (-20.0, 57.0),
            (-19.6, 48.0), (-19.2, 38.0), (-18.4, 28.0), (-16.2, 19.5), (-11.5, 13.5),
            (-5.0, 10.8), (2.0, 10.6), (9.0, 12.4), (14.6, 17.0), (17.6, 24.0), (18.8, 33.0),
            (19.2, 43.0), (19.9, 53.0), (21.0, 62.0), (21.2, 72.0), (19.2, 80.0), (15.6, 84.8),
            # inside: from the right tip up along the face, across a side-swept fringe
            (12.6, 81.0), (11.8, 74.0), (12.3, 66.0), (13.6, 58.0), (14.1, 50.0), (14.0, 42.0),
            (13.8, 35.0), (13.4, 28.5), (11.6, 24.6), (7.5, 23.2), (2.5, 20.6), (-1.8, 17.6),
            (-4.6, 15.8), (-7.6, 18.4), (-11.0, 22.4), (-13.2, 27.5), (-13.7, 33.0),
            (-13.8, 42.0), (-13.4, 50.0), (-12.6, 58.0), (-11.6, 66.0), (-11.2, 74.0),
            (-11.9, 81.2),
        ])],
    ),
    "short_fade": (
        [],
        [[(-14.9, 34.5), (-15.5, 26.0), (-13.6, 17.2), (-7.0, 12.7), (0.0, 11.9), (7.0, 12.7),
          (13.6, 17.2), (15.5, 26.0), (14.9, 34.5), (14.0, 33.5), (13.7, 27.5), (11.6, 23.6),
          (6.0, 22.0), (0.0, 21.8), (-6.0, 22.0), (-11.6, 23.6), (-13.7, 27.5), (-14.0, 33.5)]],
    ),
    "side_part": (
        [],
        [[(-15.0, 33.5), (-15.8, 24.0), (-13.8, 15.2), (-6.0, 10.4), (3.0, 9.8), (11.2, 12.2),
          (15.8, 18.8), (16.0, 27.0), (15.3, 33.5), (14.3, 32.5), (13.9, 26.8), (12.0, 23.2),
          (8.2, 24.4), (2.0, 22.4), (-4.4, 19.2), (-8.2, 21.6), (-12.1, 23.4), (-13.9, 27.0),
          (-14.3, 32.5)]],
    ),
    "bun": (
        # A compact top knot sitting low on the crown: the close-up leaves little headroom.
        [[(-4.8, 15.8), (-5.4, 11.0), (-2.9, 7.4), (0.0, 6.8), (2.9, 7.4), (5.4, 11.0),
          (4.8, 15.8), (0.0, 17.0)]],
        [[(-15.3, 36.0), (-15.7, 26.0), (-13.2, 16.4), (-6.0, 12.5), (0.0, 12.0), (6.0, 12.5),
          (13.2, 16.4), (15.7, 26.0), (15.3, 36.0), (14.1, 35.2), (13.8, 28.0), (11.3, 22.8),
          (5.0, 20.6), (0.7, 20.4), (0.0, 19.6), (-0.7, 20.4), (-5.0, 20.6), (-11.3, 22.8),
          (-13.8, 28.0), (-14.1, 35.2)]],
    ),
    "bob": (
        [_mirror([(0, 30.0), (15.6, 31.0), (17.4, 45.0), (16.6, 55.0), (14.6, 59.6),
                  (9.0, 59.8), (0, 59.0)])],
        [[(17.7, 57.4), (13.5, 57.0), (13.1, 46.0), (13.6, 36.0), (13.2, 29.0), (11.5, 27.6),
          (6.0, 28.4), (0.0, 28.1), (-6.0, 28.4), (-11.5, 27.6), (-13.2, 29.0), (-13.6, 36.0),
          (-13.1, 46.0), (-13.5, 57.0), (-17.7, 57.4), (-18.8, 45.0), (-18.8, 30.0),
          (-16.6, 19.0), (-10.0, 13.6), (0.0, 12.2), (10.0, 13.6), (16.6, 19.0), (18.8, 30.0),
          (18.8, 45.0)]],
    ),
}
# fmt: on


def _hair_shapes(style: str) -> tuple[list[Outline], list[Outline]]:
    """(back pieces, front pieces); back pieces sit behind the face.

    For styles in _STATIC_BACK_HAIR the back pieces are drawn into the static background: they
    hang behind the neck and shoulders, so they must stay put while the head sways (their
    edges are always covered by the moving front hair).
    """
    if style not in _HAIR:
        raise ValueError(f"unknown hair style {style!r} — use one of: {', '.join(_HAIR)}")
    return _HAIR[style]


def _hair_strands(style: str) -> list[F64]:
    """Highlight strokes that follow the hair's flow."""
    s: list[F64] = []
    if style == "long_wavy":
        s += [
            _bezier((-3.0, 12.4), (4.0, 12.0), (11.0, 15.0), (15.4, 24.0)),
            _bezier((-3.0, 16.0), (2.0, 17.0), (7.0, 19.6), (11.0, 23.0)),
            _bezier((-4.0, 13.2), (-10.0, 14.0), (-15.0, 20.0), (-16.4, 30.0)),
            _bezier((16.8, 34.0), (18.4, 50.0), (15.0, 62.0), (17.6, 80.0)),
            _bezier((-16.4, 34.0), (-17.8, 50.0), (-14.4, 63.0), (-16.6, 79.0)),
            _bezier((18.6, 44.0), (20.0, 56.0), (18.2, 66.0), (19.4, 76.0)),
        ]
    elif style == "side_part":
        s += [
            _bezier((-4.0, 11.4), (2.0, 10.6), (10.0, 12.6), (14.0, 19.0)),
            _bezier((-4.4, 13.0), (-9.0, 13.4), (-12.6, 17.0), (-14.2, 23.0)),
        ]
    elif style == "bun":
        s += [
            _bezier((0.0, 13.0), (-6.0, 13.6), (-11.6, 17.0), (-13.8, 25.0)),
            _bezier((0.0, 13.0), (6.0, 13.6), (11.6, 17.0), (13.8, 25.0)),
        ]
    elif style == "bob":
        s += [
            _bezier((-2.0, 13.6), (-10.0, 14.6), (-16.6, 24.0), (-16.8, 40.0)),
            _bezier((3.0, 13.6), (10.0, 14.8), (16.4, 24.0), (16.6, 40.0)),
        ]
    return s


@dataclass
class _HeadArt:
    under: Image.Image  # everything beneath the movable features
    over: Image.Image  # front hair and glasses, drawn on top of the features
    face: Image.Image  # face mask (for clipping feature shading)


def _draw_head(look: AvatarLook, pal: _Palette, cv: _Canvas) -> _HeadArt:
    back, front = _hair_shapes(look.hair_style)
    if look.hair_style not in _STATIC_BACK_HAIR:
        for piece in back:
            cv.paint(cv.poly(piece, smooth=True), pal.hair_dark)
    nw = _neck_hw(look)
    neck = cv.poly(_mirror([(0, 45.0), (nw * 0.93, 45.0), (nw * 0.95, 56.0), (nw, 64.0),
                            (nw * 1.06, 72.5), (0, 72.5)]))  # fmt: skip
    cv.paint(neck, _shade(pal.skin, 0.93))
    cv.paint(cv.gradient(lambda x, y: (x + 1.0) / 6.0 + 0 * y), pal.skin_dark, 0.35, clip=neck)
    face_pts = _face_outline(look)
    face = cv.poly(face_pts, smooth=True)
    jaw_shadow = cv.poly([(x, y + 2.0) for x, y in face_pts], smooth=True)
    cv.paint(jaw_shadow, pal.skin_dark, 0.7, blur=1.6, clip=neck)
    if look.hair_style in ("short_fade", "side_part", "bun"):
        _draw_ears(look, pal, cv)
    cv.paint(face, pal.skin)
    _shade_face(look, pal, cv, face)
    front_mask = cv.blank()
    for piece in front:
        front_mask = ImageChops.lighter(front_mask, cv.poly(piece, smooth=True))
    shadow = front_mask.transform(
        front_mask.size, Image.Transform.AFFINE, (1, 0, 0, 0, 1, -cv.length(0.9))
    )
    cv.paint(shadow, pal.skin_dark, 0.55, blur=0.9, clip=face)
    under = cv.img.copy()

    over_cv = cv.sub((0, 0, *cv.img.size), Image.new("RGBA", cv.img.size, (0, 0, 0, 0)))
    _draw_front_hair(look, pal, over_cv, front_mask)
    if look.glasses:
        _draw_glasses(over_cv)
    return _HeadArt(under=under, over=over_cv.img, face=face)


def _draw_ears(look: AvatarLook, pal: _Palette, cv: _Canvas) -> None:
    for sx in (-1.0, 1.0):
        ear = cv.poly(
            _flip_if(
                sx,
                [
                    (14.0, 35.6),
                    (15.6, 34.8),
                    (16.6, 37.0),
                    (16.3, 40.6),
                    (15.3, 43.8),
                    (14.0, 45.4),
                ],
            ),
            smooth=True,
        )
        cv.paint(ear, _shade(pal.skin, 0.95))
        inner = _bezier(
            (sx * 14.6, 37.0), (sx * 15.8, 37.0), (sx * 15.8, 41.0), (sx * 14.8, 43.0), 20
        )
        cv.stroke(inner, _taper(20, 0.1, 0.5, 0.1), pal.skin_dark, 0.6, blur=0.2)
        if look.earrings:
            cv.paint(cv.ellipse(sx * 14.9, 46.0, 0.6, 0.6), (222, 186, 104))
            cv.paint(cv.ellipse(sx * 14.75, 45.8, 0.22, 0.22), (255, 244, 214), 0.9)


def _shade_face(look: AvatarLook, pal: _Palette, cv: _Canvas, face: Image.Image) -> None:
    cv.paint(_edge_shade(face, cv.length(2.4)), pal.skin_dark, 0.35)
    cv.paint(cv.gradient(lambda x, y: (x - 2.0) / 14.0 + 0 * y), pal.skin_dark, 0.3, clip=face)
    cv.paint(cv.ellipse(-3.0, 24.5, 5.5, 3.2), pal.skin_light, 0.35, blur=2.0, clip=face)
    for sx in (-1.0, 1.0):
        cv.paint(cv.ellipse(sx * 8.4, 46.0, 3.3, 2.2), pal.blush, 0.3, blur=1.4, clip=face)
        cv.paint(cv.ellipse(sx * _EYE_X, 35.6, 4.0, 2.0), pal.skin_dark, 0.22, blur=0.9, clip=face)
        cv.paint(cv.ellipse(sx * 8.8, 42.6, 2.4, 1.0), pal.skin_light, 0.3, blur=0.9, clip=face)
    # Nose: a shadowed side, a lit tip, soft nostrils; no outline (illustration style).
    side = _bezier((1.1, 37.5), (1.5, 40.5), (2.0, 43.0), (2.2, 45.0), 20)
    cv.stroke(side, _taper(20, 0.2, 0.9, 0.4), pal.skin_dark, 0.35, blur=0.5)
    cv.paint(cv.ellipse(0.0, 45.0, 2.2, 1.3), pal.skin_dark, 0.22, blur=0.6)
    cv.paint(cv.ellipse(0.0, 46.5, 2.3, 0.55), pal.skin_dark, 0.45, blur=0.35)
    for sx in (-1.0, 1.0):
        cv.paint(cv.ellipse(sx * 1.0, 46.0, 0.5, 0.26), _shade(pal.skin, 0.5), 0.35, blur=0.2)
        wing = _bezier((sx * 1.6, 44.2), (sx * 2.5, 44.6), (sx * 2.5, 45.8), (sx * 1.7, 46.2), 16)
        cv.stroke(wing, _taper(16, 0.08, 0.28, 0.08), pal.skin_dark, 0.5, blur=0.12)
    cv.paint(cv.ellipse(-0.4, 43.6, 0.55, 0.95), pal.skin_light, 0.45, blur=0.35)
    cv.paint(cv.ellipse(0.0, 56.6, 2.6, 0.8), pal.skin_light, 0.25, blur=0.6, clip=face)
    if look.freckles:
        rng = np.random.default_rng(7)
        for _ in range(34):
            sx = rng.choice([-1.0, 1.0])
            x, y = sx * rng.uniform(2.0, 9.5), rng.uniform(41.5, 45.5)
            if abs(x) < 2.5 and y > 44.0:
                continue
            r = rng.uniform(0.1, 0.2)
            cv.paint(cv.ellipse(x, y, r, r), _shade(pal.skin, 0.72), rng.uniform(0.2, 0.4),
                     blur=0.06)  # fmt: skip
    if look.beard:
        _draw_beard(look, pal, cv, face)


def _draw_beard(look: AvatarLook, pal: _Palette, cv: _Canvas, face: Image.Image) -> None:
    k = 1.05
    beard = cv.poly(
        _mirror(
            [
                (0, 59.6),
                (4.8 * k, 59.0),
                (8.8 * k, 56.4),
                (11.7 * k, 52.2),
                (13.4 * k, 47.0),
                (14.2, 42.6),
                (12.8, 44.2),
                (10.2, 47.8),
                (6.2, 49.8),
                (4.4, 53.6),
                (0, 54.6),
            ]
        ),
        smooth=True,
    )
    mustache = cv.scaled((0.0, _MOUTH_Y), MOUTH_SCALE).poly(  # sized to fit the mouth
        _mirror([(0, 47.6), (2.4, 47.6), (4.4, 48.6), (5.4, 50.6), (3.6, 49.6), (0, 49.2)]),
        smooth=True,
    )
    both = ImageChops.lighter(beard, mustache)
    cv.paint(both, pal.hair, 0.85, blur=0.35, clip=face)
    rng = np.random.default_rng(11)
    for _ in range(160):  # a little texture so it reads as hair, not a shadow
        x, y = rng.uniform(-13, 13), rng.uniform(47, 59.5)
        cv.paint(cv.ellipse(x, y, 0.1, 0.32), pal.hair_light, 0.35, clip=both)


def _draw_front_hair(look: AvatarLook, pal: _Palette, cv: _Canvas, front_mask: Image.Image) -> None:
    cv.paint(front_mask, pal.hair)
    cv.paint(_edge_shade(front_mask, cv.length(1.6)), pal.hair_dark, 0.55)
    cv.paint(
        cv.gradient(lambda x, y: (y - 14.0) / 40.0 + 0 * x), pal.hair_dark, 0.5, clip=front_mask
    )
    for path in _hair_strands(look.hair_style):
        n = path.shape[0]
        cv.stroke(path, _taper(n, 0.15, 1.3, 0.15), pal.hair_light, 0.45, blur=0.5, clip=front_mask)
    if look.hair_style == "short_fade":
        # Faded sides: let some skin through above the ears.
        cv.paint(
            cv.gradient(
                lambda x, y: (
                    np.clip((np.abs(x) - 12.0) / 3.0, 0, 1) * np.clip((y - 24.0) / 8.0, 0, 1)
                )
            ),
            pal.skin,
            0.45,
            clip=front_mask,
        )
        rng = np.random.default_rng(5)
        for _ in range(220):
            x, y = rng.uniform(-14.5, 14.5), rng.uniform(12.5, 33.0)
            cv.paint(cv.ellipse(x, y, 0.16, 0.16), pal.hair_light, 0.12, clip=front_mask)


def _draw_glasses(cv: _Canvas) -> None:
    frame: RGB = (38, 36, 40)
    for sx in (-1.0, 1.0):
        x0, x1 = sorted((sx * 2.9, sx * 9.8))
        outer, inner = cv.blank(), cv.blank()
        (a, b), (c, d) = cv.xy([(x0, 34.8), (x1, 39.8)])
        ImageDraw.Draw(outer).rounded_rectangle((a, b, c, d), radius=cv.length(1.6), fill=255)
        (a, b), (c, d) = cv.xy([(x0 + 0.42, 35.22), (x1 - 0.42, 39.38)])
        ImageDraw.Draw(inner).rounded_rectangle((a, b, c, d), radius=cv.length(1.2), fill=255)
        cv.paint(ImageChops.subtract(outer, inner), frame)
        cv.paint(inner, (255, 255, 255), 0.06)
        glint = cv.poly([(sx * 4.6, 35.4), (sx * 5.6, 35.4), (sx * 4.2, 39.2), (sx * 3.2, 39.2)])
        cv.paint(glint, (255, 255, 255), 0.12, clip=inner)
        temple = np.array([[sx * 9.7, 36.0], [sx * 14.4, 36.6]])
        cv.stroke(np.linspace(temple[0], temple[1], 8), np.full(8, 0.35), frame)
    bridge = _bezier((-2.95, 36.6), (-1.2, 35.6), (1.2, 35.6), (2.95, 36.6), 16)
    cv.stroke(bridge, np.full(16, 0.35), frame)


# --- art: movable features ------------------------------------------------------------------


def _draw_eyes(
    look: AvatarLook,
    pal: _Palette,
    cv: _Canvas,
    openness: float,
    gaze: tuple[float, float],
    smiling: bool,
) -> None:
    female = look.gender == "female"
    for sx in (-1.0, 1.0):
        ex = sx * _EYE_X

        def pt(dx: float, dy: float, ex: float = ex, sx: float = sx) -> tuple[float, float]:
            # dx > 0 points outwards for both eyes; big eyes read friendlier in this style.
            return (ex + sx * dx * 1.13, _EYE_Y + dy * 1.13)

        inner, outer = pt(-2.9, 0.25), pt(3.0, -0.15 if female else 0.05)
        upper_open = _bezier(inner, pt(-1.6, -2.25), pt(1.5, -2.05), outer)
        upper_shut = _bezier(inner, pt(-1.4, 0.95), pt(1.4, 0.9), outer)
        lo = (0.7, 0.55) if smiling else (1.35, 1.2)
        lower = _bezier(inner, pt(-1.3, lo[0]), pt(1.5, lo[1]), outer)
        upper = upper_shut + (upper_open - upper_shut) * openness
        upper[:, 1] = np.minimum(upper[:, 1], lower[:, 1] - 0.02)
        crease = upper_open[3:-2] + np.array([0.0, -0.95])
        cv.stroke(crease, _taper(len(crease), 0.06, 0.16, 0.06), pal.skin_dark, 0.55, blur=0.1)
        if openness > 0.0:
            opening = cv.poly(np.vstack([upper, lower[::-1]]))
            cv.paint(opening, (244, 239, 234))
            cx, cy = ex + gaze[0], _EYE_Y + 0.1 + gaze[1]
            r = 1.78 if female else 1.68
            cv.paint(cv.ellipse(cx, cy, r, r), _shade(pal.iris, 0.5), clip=opening)
            cv.paint(cv.ellipse(cx, cy, r * 0.84, r * 0.84), pal.iris, clip=opening)
            cv.paint(
                cv.ellipse(cx, cy + 0.55, r * 0.6, r * 0.45),
                _shade(pal.iris, 1.3),
                0.6,
                blur=0.3,
                clip=opening,
            )
            cv.paint(cv.ellipse(cx, cy, 0.7, 0.7), (18, 14, 16), clip=opening)
            lid_shadow = cv.poly(np.vstack([upper, (upper + np.array([0.0, 1.0]))[::-1]]))
            cv.paint(lid_shadow, (70, 45, 40), 0.35, blur=0.35, clip=opening)
            cv.paint(
                cv.ellipse(cx - 0.5, cy - 0.55, 0.38, 0.38), (255, 255, 255), 0.95, clip=opening
            )
            cv.paint(
                cv.ellipse(cx + 0.55, cy + 0.5, 0.16, 0.16), (255, 255, 255), 0.7, clip=opening
            )
            cv.stroke(lower[2:-2], _taper(len(lower) - 4, 0.05, 0.14, 0.05), pal.skin_dark, 0.6)
        w = (0.2, 0.42, 0.6) if female else (0.18, 0.32, 0.4)
        cv.stroke(upper, _taper(len(upper), w[0], w[1], w[2]), pal.lash)
        if female:  # a small wing of lashes at the outer corner
            ox, oy = float(upper[-1, 0]), float(upper[-1, 1])
            flick = _bezier(
                (ox - sx * 0.6, oy - 0.2),
                (ox + sx * 0.1, oy - 0.2),
                (ox + sx * 0.5, oy - 0.4),
                (ox + sx * 0.9, oy - 0.75),
                12,
            )
            cv.stroke(flick, np.linspace(0.45, 0.05, 12), pal.lash)
        if smiling:
            cheek = _bezier(pt(-1.8, 2.2), pt(-0.5, 2.7), pt(1.2, 2.6), pt(2.4, 1.9), 16)
            cv.stroke(cheek, _taper(16, 0.05, 0.16, 0.05), pal.skin_dark, 0.35, blur=0.15)


def _draw_brows(look: AvatarLook, pal: _Palette, cv: _Canvas, ex: Expression, accent: bool) -> None:
    thick = 1.05 if look.gender == "male" else 0.9
    lift = ex.brow_raise + (0.6 if accent else 0.0)
    for sx in (-1.0, 1.0):
        up = lift + (ex.brow_asym if sx > 0 else 0.0)
        arch = ex.brow_arch
        pts = [
            (sx * 2.5, _BROW_Y + 0.25 - up - ex.brow_inner),
            (sx * 4.6, _BROW_Y - 0.75 - arch * 0.6 - up - ex.brow_inner * 0.4),
            (sx * 7.2, _BROW_Y - 1.0 - arch * 0.7 - up),
            (sx * 9.9, _BROW_Y - 0.1 - up * 0.8),
        ]
        path = _spline(pts, closed=False, n=10)
        n = path.shape[0]
        widths = np.interp(np.linspace(0, 1, n), [0, 0.35, 0.7, 1], [1.0, 0.92, 0.7, 0.22])
        cv.stroke(path, widths * thick, pal.brow, 0.95, blur=0.12)
        cv.stroke(path[: n // 2], widths[: n // 2] * 0.45, _shade(pal.brow, 1.3), 0.25, blur=0.2)


def _draw_mouth(
    look: AvatarLook, pal: _Palette, cv: _Canvas, pose: MouthPose, smile: float
) -> None:
    o = 0.0 if pose.closed else pose.open
    w, r = pose.wide, pose.round
    hw = 4.4 * (0.86 + 0.3 * w - 0.32 * r) + 0.5 * smile
    oh = 4.2 * o
    lift = 1.6 * smile - 0.2  # corners: slightly down when stern, well up when beaming
    u = np.linspace(-1.0, 1.0, 41)
    p = 0.8 - 0.4 * r  # a full, rounded opening; rounder lips -> more elliptical
    bulge = np.power(np.clip(1.0 - u * u, 0.0, 1.0), p)
    rise = lift * u * u
    x = hw * u
    up_in = _MOUTH_Y - (0.12 * oh + 0.02) * bulge - rise
    lo_in = _MOUTH_Y + 0.88 * oh * bulge - rise
    edge = np.power(np.clip(1.0 - np.abs(u) ** 3, 0.0, 1.0), 0.8)
    bow = (
        0.95 + 0.25 * np.exp(-(((np.abs(u) - 0.22) / 0.14) ** 2)) - 0.3 * np.exp(-((u / 0.08) ** 2))
    )
    press = 0.8 if pose.closed else 1.0
    up_out = up_in - bow * edge * (1.0 + 0.35 * r) * press * 1.05
    full = (1.0 + 0.3 * r) * (1.0 - 0.2 * o) * press  # the lower lip thins as it stretches
    lo_out = lo_in + 1.35 * np.power(np.clip(1.0 - u * u, 0, 1), 0.7) * full

    def line(ys: F64) -> F64:
        return np.column_stack([x, ys])

    cv.paint(cv.ellipse(0.0, float(lo_out[20]) + 0.5, 2.4, 0.5), pal.skin_dark, 0.3, blur=0.4)
    if oh > 0.05:
        mouth = cv.poly(np.vstack([line(up_in), line(lo_in)[::-1]]))
        cv.paint(mouth, (58, 20, 26))
        teeth_h = min(0.9, 0.4 * oh + 0.25)
        teeth = cv.poly(np.vstack([line(up_in - 0.2), line(up_in + teeth_h)[::-1]]))
        cv.paint(teeth, (246, 241, 233), clip=mouth)
        cv.paint(
            cv.poly(np.vstack([line(up_in + teeth_h - 0.25), line(up_in + teeth_h)[::-1]])),
            (190, 180, 172),
            0.6,
            clip=mouth,
        )
        if oh > 2.0:
            low_teeth = cv.poly(np.vstack([line(lo_in - 0.5), line(lo_in + 0.2)[::-1]]))
            cv.paint(low_teeth, (228, 221, 212), 0.85, clip=mouth)
        if oh > 0.8:
            tongue_y = float(lo_in[20]) - 0.25 * oh
            cv.paint(
                cv.ellipse(0.0, tongue_y + 0.45 * oh, hw * 0.55, 0.45 * oh),
                (196, 92, 98),
                clip=mouth,
            )
        cv.paint(
            cv.poly(np.vstack([line(up_in - 0.1), line(up_in + 0.5)[::-1]])),
            (30, 10, 14),
            0.35,
            blur=0.2,
            clip=mouth,
        )
    upper = cv.poly(np.vstack([line(up_out), line(up_in)[::-1]]))
    lower = cv.poly(np.vstack([line(lo_in), line(lo_out)[::-1]]))
    cv.paint(upper, _shade(pal.lips, 0.88))
    cv.paint(lower, pal.lips)
    cv.paint(
        cv.ellipse(0.3, float(lo_in[20] + lo_out[20]) / 2 - 0.05, 1.5, 0.35),
        _shade(pal.lips, 1.35),
        0.45,
        blur=0.3,
        clip=lower,
    )
    both = ImageChops.lighter(upper, lower)
    cv.paint(_edge_shade(both, cv.length(0.25)), _shade(pal.lips, 0.75), 0.35)
    seam_w = np.full(41, 0.16 if oh <= 0.05 else 0.08) * edge + 0.02
    cv.stroke(
        line((up_in + lo_in) / 2 if oh <= 0.05 else up_in),
        seam_w,
        _shade(pal.lips, 0.45),
        0.9 if pose.closed else 0.75,
    )
    for sx in (-1.0, 1.0):  # corners tuck into the cheeks
        cv.paint(
            cv.ellipse(sx * (hw + 0.1), float(up_in[0]) + 0.1, 0.35, 0.3),
            pal.skin_dark,
            0.45,
            blur=0.2,
        )


# --- building the assets --------------------------------------------------------------------


@dataclass(frozen=True)
class Blend:
    """A layer ready for integer blending: out = (dst * inv + fg) >> 8."""

    fg: U16  # premultiplied colour * 256/255
    inv: U16  # 256 - alpha(0..256), shape (h, w, 1)

    @staticmethod
    def from_rgba_premul(arr: U8) -> Blend:
        a = arr[:, :, 3:4].astype(np.uint16)
        a256 = (a * 256 + 127) // 255
        # LANCZOS ringing can leave colour above alpha; premultiplied colour must not exceed it.
        pm = np.minimum(arr[:, :, :3], arr[:, :, 3:4]).astype(np.uint16)
        return Blend(_ro(pm * 256), _ro(256 - a256))


@dataclass(frozen=True)
class Sprite:
    x: int  # offset inside the head layer
    y: int
    rgb: U8 | None  # opaque: plain copy
    blend: Blend | None  # partly transparent (only if a box pokes out of the face)


@dataclass(frozen=True)
class Assets:
    backgrounds: tuple[U8, ...]
    breath_offsets: tuple[int, ...]
    head: Blend
    head_xy: tuple[int, int]
    collar: Blend
    collar_xy: tuple[int, int]
    eyes: dict[tuple[int, bool, int], Sprite]
    brows: dict[tuple[str | None, bool], Sprite]
    # (smile, open, wide, round) -> parts, one per box in _MOUTH_BOXES; open=-1: MBP
    mouths: dict[tuple[int, int, int, int], tuple[Sprite, ...]]
    mouth_box: tuple[int, int, int, int]
    eyes_box: tuple[int, int, int, int]
    unit: float  # output pixels per design unit

    @property
    def nbytes(self) -> int:
        """Memory held by this cache entry (for the preview's report)."""
        arrays: list[npt.NDArray[Any]] = [*self.backgrounds]
        blends = [self.head, self.collar]
        mouth_parts = itertools.chain.from_iterable(self.mouths.values())
        for s in itertools.chain(self.eyes.values(), self.brows.values(), mouth_parts):
            if s.rgb is not None:
                arrays.append(s.rgb)
            if s.blend is not None:
                blends.append(s.blend)
        arrays += [a for b in blends for a in (b.fg, b.inv)]
        return sum(a.nbytes for a in arrays)


def _ro(a: _Arr) -> _Arr:
    """Shared between renderers, so make accidental writes fail loudly."""
    a.flags.writeable = False
    return a


def _clamp(box: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    return (max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3]))


def _union(boxes: Sequence[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _downsample(img: Image.Image, ss: int, margin: int = 0) -> U8:
    """LANCZOS downsample of a premultiplied image; `margin` output pixels are cut each side."""
    w, h = img.size[0] // ss, img.size[1] // ss
    small = img.convert("RGBa").resize((w, h), Image.Resampling.LANCZOS)
    arr = np.asarray(small, dtype=np.uint8)
    if margin:
        arr = arr[margin:-margin, margin:-margin]
    return np.ascontiguousarray(arr)


# Room for every avatar at the default size plus a few others (~11 MB each at 480p).
@functools.lru_cache(maxsize=8)
def build_assets(look: AvatarLook, width: int, height: int) -> Assets:
    pal = _Palette.of(look)
    view = _View.framing(width, height)
    ss = 3 if height <= 540 else 2  # enough anti-aliasing either way; bounded build cost

    # Body on its own canvas, then composited into one background per breathing offset. It
    # runs off the bottom of the frame; the canvas stops at the frame edges.
    top = 28.0 if look.hair_style in _STATIC_BACK_HAIR else 58.0
    bx0, by0, bx1, by1 = _clamp(view.box((-48.0, top, 48.0, 110.0)), width, height)
    size = ((bx1 - bx0) * ss, (by1 - by0) * ss)
    body_cv = _Canvas(Image.new("RGBA", size, (0, 0, 0, 0)), (bx0 * ss, by0 * ss), view, ss)
    opening = _draw_body(look, pal, body_cv)
    front_img = body_cv.img.copy()  # clothing in front of the neck: the collar overlay
    front_img.putalpha(ImageChops.subtract(front_img.getchannel("A"), opening))
    static = Image.new("RGBA", size, (0, 0, 0, 0))
    _draw_static_back_hair(look, pal, body_cv.sub((0, 0, *size), static))
    static.alpha_composite(body_cv.img)
    body = _downsample(static, ss)
    front = _downsample(front_img, ss)

    bg = _background(look, width, height)
    step = max(1, round(0.12 * view.a))  # breathing: scales with the presenter
    offsets = (-step, 0, step)
    body_blend = Blend.from_rgba_premul(body)
    backgrounds = []
    for off in offsets:
        b = bg.copy()
        blend_into(b, body_blend, bx0, by0 + off)
        backgrounds.append(_ro(b))

    cx0, cy0, cx1, cy1 = view.box(_COLLAR_BOX)
    collar = Blend.from_rgba_premul(front[cy0 - by0 : cy1 - by0, cx0 - bx0 : cx1 - bx0].copy())

    # The head layer.
    hx0, hy0, hx1, hy1 = _clamp(view.box((-25.0, 3.0, 25.0, 88.0)), width, height)
    head_cv = _Canvas(
        Image.new("RGBA", ((hx1 - hx0) * ss, (hy1 - hy0) * ss), (0, 0, 0, 0)),
        (hx0 * ss, hy0 * ss),
        view,
        ss,
    )
    art = _draw_head(look, pal, head_cv)
    full = art.under.copy()
    full.alpha_composite(art.over)
    head = Blend.from_rgba_premul(_downsample(full, ss))

    def sprites(boxes: Sequence[Box], draw: Callable[[_Canvas], None]) -> tuple[Sprite, ...]:
        """Draw the feature once over the union of `boxes`, then cut out one sprite per box."""
        px = [view.box(b) for b in boxes]
        ux0, uy0, ux1, uy1 = _union(px)
        m = 3  # LANCZOS support in output pixels: crop with a margin, then cut it off
        box = (
            (ux0 - hx0 - m) * ss,
            (uy0 - hy0 - m) * ss,
            (ux1 - hx0 + m) * ss,
            (uy1 - hy0 + m) * ss,
        )
        sub = head_cv.sub(box, art.under.crop(box))
        draw(sub)
        sub.img.alpha_composite(art.over.crop(box))
        arr = _downsample(sub.img, ss, m)
        out = []
        for x0, y0, x1, y1 in px:
            part = arr[y0 - uy0 : y1 - uy0, x0 - ux0 : x1 - ux0]
            if int(part[:, :, 3].min()) == 255:
                out.append(Sprite(x0 - hx0, y0 - hy0, _ro(part[:, :, :3].copy()), None))
            else:
                out.append(Sprite(x0 - hx0, y0 - hy0, None, Blend.from_rgba_premul(part)))
        return tuple(out)

    Draw = Callable[[_Canvas], None]
    eye_jobs: dict[tuple[int, bool, int], Draw] = {
        (i, smiling, g): functools.partial(
            _draw_eyes_on, look, pal, EYE_LEVELS[i], GAZES[g], smiling
        )
        for i in range(len(EYE_LEVELS))
        for smiling in (False, True)
        for g in range(len(GAZES))
    }
    brow_jobs: dict[tuple[str | None, bool], Draw] = {
        (emo, accent): functools.partial(_draw_brows_on, look, pal, EXPRESSIONS[emo], accent)
        for emo in EXPRESSIONS
        for accent in (False, True)
    }
    mouth_jobs: dict[tuple[int, int, int, int], Draw] = {}
    for s, smile in enumerate(_SMILES):
        closed = MouthPose(0.0, 0.35, 0.05, closed=True)
        mouth_jobs[(s, -1, 0, 0)] = functools.partial(_draw_mouth_on, look, pal, closed, smile)
        for o, wi, ri in itertools.product(range(OPEN_LEVELS), range(3), range(3)):
            pose = MouthPose(o / (OPEN_LEVELS - 1), wi / 2, ri / 2)
            mouth_jobs[(s, o, wi, ri)] = functools.partial(_draw_mouth_on, look, pal, pose, smile)
    eyes = {k: sprites([_EYES_BOX], f)[0] for k, f in eye_jobs.items()}
    brows = {k: sprites([_BROWS_BOX], f)[0] for k, f in brow_jobs.items()}
    mouths = {k: sprites(_MOUTH_BOXES, f) for k, f in mouth_jobs.items()}
    return Assets(
        backgrounds=tuple(backgrounds),
        breath_offsets=offsets,
        head=head,
        head_xy=(hx0, hy0),
        collar=collar,
        collar_xy=(cx0, cy0),
        eyes=eyes,
        brows=brows,
        mouths=mouths,
        mouth_box=view.box(_MOUTH_REGION),
        eyes_box=view.box(_EYES_BOX),
        unit=view.a,
    )


def _draw_eyes_on(
    look: AvatarLook,
    pal: _Palette,
    openness: float,
    gaze: tuple[float, float],
    smiling: bool,
    cv: _Canvas,
) -> None:
    _draw_eyes(look, pal, cv, openness, gaze, smiling)


def _draw_brows_on(
    look: AvatarLook, pal: _Palette, ex: Expression, accent: bool, cv: _Canvas
) -> None:
    _draw_brows(look, pal, cv, ex, accent)


def _draw_mouth_on(
    look: AvatarLook, pal: _Palette, pose: MouthPose, smile: float, cv: _Canvas
) -> None:
    _draw_mouth(look, pal, cv.scaled((0.0, _MOUTH_Y), MOUTH_SCALE), pose, smile)


# --- compositing (also used per frame by lib.emulators.engines.face) ---------------------


def blend_into(dst: U8, layer: Blend, x: int, y: int) -> None:
    h, w = layer.inv.shape[:2]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(dst.shape[1], x + w), min(dst.shape[0], y + h)
    if x0 >= x1 or y0 >= y1:
        return
    region = dst[y0:y1, x0:x1]
    inv = layer.inv[y0 - y : y1 - y, x0 - x : x1 - x]
    fg = layer.fg[y0 - y : y1 - y, x0 - x : x1 - x]
    acc = region * inv  # uint8 * uint16 -> uint16, exact (<= 255 * 256)
    acc += fg
    acc >>= 8
    region[...] = acc

"""The local avatar: an illustrated 2D presenter rendered with numpy at video frame rate.

This module is the public API (the avatar catalogue and `FaceRenderer`) and the per-frame
runtime. The art and the per-(avatar, frame size) assets live in the package
lib.emulators.engines.face_art.

The presenter is framed head and shoulders, like a video call or a news presenter. Per frame:
one copy of the background with the head blended in at its current offset (kept for the few
latest offsets: the head moves by whole pixels a few times a second, so most frames reuse one),
a few small opaque pastes (eyes, brows, mouth) and one small blend (the collar).

`render_i420` converts only what the pastes changed: the rest of the frame comes from an I420
copy of the same background, head and collar, kept with the head composite.
"""

from __future__ import annotations

import bisect
import math
import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, TypeVar

import numpy as np

from lib.emulators.engines.face_art.assets import Sprite, blend_into
from lib.emulators.engines.face_art.expressions import (
    EMOTIONS,
    EXPRESSIONS,
    EYE_LEVELS,
    GAZES,
    OPEN_LEVELS,
    Expression,
)
from lib.emulators.engines.face_art.geometry import U8, PixelBox, union
from lib.emulators.engines.face_art.stored import build_assets
from lib.emulators.engines.looks import AVATARS, avatar_by_id
from lib.emulators.engines.visemes import MouthPose
from lib.wire.picture import I420

__all__ = ["FaceRenderer"]


# --- per-frame compositing ------------------------------------------------------------------


def _paste(dst: U8, sprite: Sprite, x: int, y: int) -> PixelBox:
    """Draw `sprite` with its layer's origin at (x, y); return the box it may have changed."""
    x0, y0 = x + sprite.x, y + sprite.y
    if sprite.blend is not None:
        blend_into(dst, sprite.blend, x0, y0)
        h, w = sprite.blend.inv.shape[:2]
        return x0, y0, x0 + w, y0 + h
    assert sprite.rgb is not None
    h, w = sprite.rgb.shape[:2]
    cx0, cy0 = max(0, x0), max(0, y0)
    cx1, cy1 = min(dst.shape[1], x0 + w), min(dst.shape[0], y0 + h)
    if cx0 < cx1 and cy0 < cy1:
        dst[cy0:cy1, cx0:cx1] = sprite.rgb[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    return x0, y0, x0 + w, y0 + h


HeadKey = tuple[int, int, int]  # (breath step, head x, head y)
T = TypeVar("T")


def _kept(cache: OrderedDict[HeadKey, T], key: HeadKey, make: Callable[[], T]) -> T:
    """`cache[key]`, made if missing; the HEAD_CACHE most recently used are kept."""
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
        return found
    made = cache[key] = make()
    if len(cache) > HEAD_CACHE:
        cache.popitem(last=False)
    return made


# libswscale's chroma subsampling reads a pixel or two beyond each 2x2 block: a patch is
# converted with this margin of true neighbours around it, and covers the changed box plus this
# margin, so the picture equals a conversion of the whole frame (tests/unit/test_face.py).
CHROMA_REACH: Final = 4


def _grown(box: PixelBox, by: int, width: int, height: int) -> PixelBox | None:
    """`box` grown by `by` pixels on each side, clipped to the frame, on I420's grid: even
    corners and a height divisible by 4 (frames are, so the grown box still fits). None if it
    lies outside the frame."""
    x0, y0 = max(0, box[0] - by) & ~1, max(0, box[1] - by) & ~1
    x1, y1 = min(width, (box[2] + by + 1) & ~1), min(height, (box[3] + by + 1) & ~1)
    if x0 >= x1 or y0 >= y1:
        return None
    if (y1 - y0) % 4:
        y1, y0 = (y1 + 2, y0) if y1 + 2 <= height else (y1, y0 - 2)
    return x0, y0, x1, y1


def _converted_over(picture: I420, rgb: U8, box: PixelBox) -> I420:
    """`picture` with what `rgb` has in `box` (and around it, as far as chroma reaches): the
    I420 of `rgb`, if the two differ only inside `box`."""
    h, w = rgb.shape[:2]
    patch = _grown(box, CHROMA_REACH, w, h)
    if patch is None:
        return picture  # the box lies outside the frame
    crop = _grown(patch, CHROMA_REACH, w, h)
    assert crop is not None
    (px0, py0, px1, py1), (cx0, cy0, cx1, cy1) = patch, crop
    converted = I420.from_rgb(rgb[cy0:cy1, cx0:cx1])
    return picture.with_patch(converted.crop(px0 - cx0, py0 - cy0, px1 - px0, py1 - py0), px0, py0)


# --- life: blinks, gaze, head motion --------------------------------------------------------


class _Schedule:
    """Deterministic random event times, repeating after a long period (hours)."""

    def __init__(self, rng: np.random.Generator, lo: float, hi: float, n: int = 1024) -> None:
        gaps = rng.uniform(lo, hi, n)
        self.starts = np.concatenate([[0.0], np.cumsum(gaps)[:-1]]) + rng.uniform(0.3, lo)
        self.period = float(self.starts[-1] + gaps[-1])
        self.values = rng.random(n)
        self._starts = self.starts.tolist()

    def last(self, t: float) -> tuple[float, float]:
        """(seconds since the latest event, that event's random value in [0, 1))."""
        tm = t % self.period
        i = bisect.bisect_right(self._starts, tm) - 1
        if i < 0:
            return tm + self.period - self._starts[-1], float(self.values[-1])
        return tm - self._starts[i], float(self.values[i])


def _blink_closure(dt: float) -> float:
    """Lid closure over one ~150 ms blink: fast close, short hold, slower open."""
    if dt < 0.05:
        return dt / 0.05
    if dt < 0.07:
        return 1.0
    if dt < 0.15:
        return 1.0 - (dt - 0.07) / 0.08
    return 0.0


HEAD_CACHE: Final = 8  # background+head composites kept (~1.2 MB each at 480p)


class FaceRenderer:
    """Renders one avatar at one size. Not thread-safe: use one renderer per video track.

    `render` returns the renderer's own frame buffer, reused on every call: copy it (or encode
    it) before the next call.
    """

    def __init__(self, avatar_id: str, width: int, height: int, *, seed: int = 0) -> None:
        look = avatar_by_id(avatar_id)
        if look is None:
            known = ", ".join(a.avatar_id for a in AVATARS)
            raise KeyError(f"unknown avatar {avatar_id!r} — use one of: {known}")
        if width < 64 or height < 64 or width % 2 or height % 2:
            raise ValueError(f"frame size must be even and at least 64x64, got {width}x{height}")
        self.avatar_id, self.width, self.height = avatar_id, width, height
        self._a = build_assets(look, width, height)
        rng = np.random.default_rng([seed, zlib.crc32(avatar_id.encode())])
        self._blinks = _Schedule(rng, 2.0, 6.0)
        self._gaze = _Schedule(rng, 0.9, 3.6)
        self._accents = _Schedule(rng, 1.8, 5.0)
        self._phase = rng.uniform(0.0, 2.0 * math.pi, 8)
        self._frame: U8 = np.empty((height, width, 3), np.uint8)
        # Most frames, idle or talking, reuse one of the last few head offsets, and the head
        # blend was most of the render time.
        self._heads: OrderedDict[HeadKey, U8] = OrderedDict()
        # The same composites with the collar, in I420 (for `render_i420`).
        self._bases: OrderedDict[HeadKey, I420] = OrderedDict()
        self._drawn: tuple[HeadKey, PixelBox] | None = None  # last render: key, box
        self._backgrounds: list[I420 | None] = [None] * len(self._a.backgrounds)
        self._talk = 0.0
        self._last_t: float | None = None

    @property
    def mouth_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the mouth region with the head at rest.

        It spans the widest mouth shape and stays inside the face, so head motion never brings
        background into it; a wide-open lower lip reaches a little below it.
        """
        return self._a.mouth_box

    @property
    def eyes_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of both eyes with the head at rest."""
        return self._a.eyes_box

    def render(
        self, t: float, mouth: MouthPose, *, emotion: str | None = None, talking: bool = False
    ) -> U8:
        """Frame at time t (seconds).

        Emotion names are case-insensitive (HeyGen spells them "Excited"); unknown ones render
        as neutral, because a video track must always get a frame.
        """
        a = self._a
        emo = emotion.lower() if emotion else None
        emo = emo if emo in EMOTIONS else None
        ex = EXPRESSIONS[emo]
        talk = self._talk_level(t, talking)

        breath = math.sin(2.0 * math.pi * t / 4.6 + self._phase[0])
        bi = 0 if breath < -0.45 else (2 if breath > 0.45 else 1)
        dx, dy = self._head_offset(t, talk, mouth.open)
        dy += a.breath_offsets[bi]

        frame = self._frame
        hx, hy = a.head_xy[0] + dx, a.head_xy[1] + dy
        np.copyto(frame, self._head_on_background(bi, hx, hy))
        boxes = [_paste(frame, a.eyes[self._eye_key(t, ex, talking)], hx, hy)]
        since, _ = self._accents.last(t)
        accent = talking and since < 0.7
        boxes.append(_paste(frame, a.brows[(emo, accent)], hx, hy))
        for part in a.mouths[self._mouth_key(mouth, ex)]:
            boxes.append(_paste(frame, part, hx, hy))
        self._blend_collar(frame, bi)
        self._drawn = ((bi, hx, hy), union(boxes))
        return frame

    def render_i420(
        self, t: float, mouth: MouthPose, *, emotion: str | None = None, talking: bool = False
    ) -> I420:
        """`render`, as I420; unlike `render`'s buffer, it stays valid. Only what the pastes
        changed is converted (the face's parts, about a tenth of the frame): whole-frame
        conversion was a large share of the local server's CPU."""
        frame = self.render(t, mouth, emotion=emotion, talking=talking)
        assert self._drawn is not None
        key, box = self._drawn
        base = _kept(self._bases, key, lambda: self._base_i420(*key))
        return _converted_over(base, frame, box)

    def _base_i420(self, bi: int, hx: int, hy: int) -> I420:
        """Background, head at (hx, hy) and collar in I420: the background's own conversion
        (one per breath step, kept) with the head and collar's box converted over it."""
        if self._backgrounds[bi] is None:
            self._backgrounds[bi] = I420.from_rgb(self._a.backgrounds[bi])
        background = self._backgrounds[bi]
        assert background is not None
        a = self._a
        rgb = self._head_on_background(bi, hx, hy).copy()
        self._blend_collar(rgb, bi)
        hh, hw = a.head.inv.shape[:2]
        ch, cw = a.collar.inv.shape[:2]
        cx, cy = a.collar_xy[0], a.collar_xy[1] + a.breath_offsets[bi]
        layers = union([(hx, hy, hx + hw, hy + hh), (cx, cy, cx + cw, cy + ch)])
        return _converted_over(background, rgb, layers)

    def _blend_collar(self, frame: U8, bi: int) -> None:
        a = self._a
        blend_into(frame, a.collar, a.collar_xy[0], a.collar_xy[1] + a.breath_offsets[bi])

    def _head_on_background(self, bi: int, hx: int, hy: int) -> U8:
        def draw() -> U8:
            done = self._a.backgrounds[bi].copy()
            blend_into(done, self._a.head, hx, hy)
            return done

        return _kept(self._heads, (bi, hx, hy), draw)

    def _talk_level(self, t: float, talking: bool) -> float:
        """Ease head-motion energy in and out (~0.4 s) instead of jumping when speech starts."""
        target = 1.0 if talking else 0.0
        last, self._last_t = self._last_t, t
        if last is None or not 0.0 <= t - last <= 1.0:
            self._talk = target
        else:
            self._talk += (target - self._talk) * (1.0 - math.exp(-(t - last) / 0.4))
        return self._talk

    def _head_offset(self, t: float, talk: float, jaw: float) -> tuple[int, int]:
        # In design units times pixels per unit, so the sway scales with the framing.
        u, p = self._a.unit, self._phase
        tau = 2.0 * math.pi
        sway = 0.6 * math.sin(tau * 0.11 * t + p[1]) + 0.4 * math.sin(tau * 0.27 * t + p[2])
        bob = 0.6 * math.sin(tau * 0.09 * t + p[3]) + 0.4 * math.sin(tau * 0.23 * t + p[4])
        x = 0.4 * sway + talk * 0.3 * math.sin(tau * 0.55 * t + p[5])
        y = 0.22 * bob + talk * (0.22 * math.sin(tau * 1.1 * t + p[6]) + 0.12 * jaw)
        return round(x * u), round(y * u)

    def _eye_key(self, t: float, ex: Expression, talking: bool) -> tuple[int, bool, int]:
        since, value = self._blinks.last(t)
        closure = _blink_closure(since)
        if value < 0.12:  # now and then a double blink
            closure = max(closure, _blink_closure(since - 0.28))
        openness = ex.eye_open * (1.0 - closure)
        level = min(range(len(EYE_LEVELS)), key=lambda i: abs(EYE_LEVELS[i] - openness))
        _, g = self._gaze.last(t)
        # Mostly look at the camera; otherwise one of the glances, fewer of them while talking.
        gaze = 0 if g < 0.4 else 1 + min(len(GAZES) - 2, int((g - 0.4) / 0.6 * (len(GAZES) - 1)))
        if talking and gaze >= 3:
            gaze -= 2
        return level, ex.smiling_eyes, gaze

    @staticmethod
    def _mouth_key(m: MouthPose, ex: Expression) -> tuple[int, int, int, int]:
        if m.closed:
            return ex.smile, -1, 0, 0
        o = min(OPEN_LEVELS - 1, max(0, round(m.open * (OPEN_LEVELS - 1))))
        w = min(2, max(0, round(m.wide * 2)))
        r = min(2, max(0, round(m.round * 2)))
        return ex.smile, o, w, r

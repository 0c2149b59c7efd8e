"""The cached layers and sprites of one avatar at one frame size, and blending them."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageChops

from lib.emulators.engines.face_art.body import background, draw_body
from lib.emulators.engines.face_art.canvas import Canvas
from lib.emulators.engines.face_art.expressions import (
    EXPRESSIONS,
    EYE_LEVELS,
    GAZES,
    OPEN_LEVELS,
    SMILES,
    Expression,
)
from lib.emulators.engines.face_art.features import draw_brows, draw_eyes, draw_mouth
from lib.emulators.engines.face_art.geometry import (
    BROWS_BOX,
    COLLAR_BOX,
    EYES_BOX,
    MOUTH_BOXES,
    MOUTH_REGION,
    MOUTH_SCALE,
    MOUTH_Y,
    U8,
    Box,
    View,
    union,
)
from lib.emulators.engines.face_art.hair import STATIC_BACK_HAIR, draw_static_back_hair
from lib.emulators.engines.face_art.head import draw_head
from lib.emulators.engines.face_art.palette import Palette
from lib.emulators.engines.looks import AvatarLook
from lib.emulators.engines.visemes import MouthPose

U16 = npt.NDArray[np.uint16]
_Arr = TypeVar("_Arr", bound="np.ndarray[Any, Any]")


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
    # (smile, open, wide, round) -> parts, one per box in MOUTH_BOXES; open=-1: MBP
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


def _downsample(img: Image.Image, ss: int, margin: int = 0) -> U8:
    """LANCZOS downsample of a premultiplied image; `margin` output pixels are cut each side."""
    w, h = img.size[0] // ss, img.size[1] // ss
    small = img.convert("RGBa").resize((w, h), Image.Resampling.LANCZOS)
    arr = np.asarray(small, dtype=np.uint8)
    if margin:
        arr = arr[margin:-margin, margin:-margin]
    return np.ascontiguousarray(arr)


def draw_assets(look: AvatarLook, width: int, height: int) -> Assets:
    """The art drawn afresh (seconds of CPU): `stored.build_assets` keeps what it draws."""
    pal = Palette.of(look)
    view = View.framing(width, height)
    ss = 3 if height <= 540 else 2  # enough anti-aliasing either way; bounded build cost

    # Body on its own canvas, then composited into one background per breathing offset. It
    # runs off the bottom of the frame; the canvas stops at the frame edges.
    top = 28.0 if look.hair_style in STATIC_BACK_HAIR else 58.0
    bx0, by0, bx1, by1 = _clamp(view.box((-48.0, top, 48.0, 110.0)), width, height)
    size = ((bx1 - bx0) * ss, (by1 - by0) * ss)
    body_cv = Canvas(Image.new("RGBA", size, (0, 0, 0, 0)), (bx0 * ss, by0 * ss), view, ss)
    opening = draw_body(look, pal, body_cv)
    front_img = body_cv.img.copy()  # clothing in front of the neck: the collar overlay
    front_img.putalpha(ImageChops.subtract(front_img.getchannel("A"), opening))
    static = Image.new("RGBA", size, (0, 0, 0, 0))
    draw_static_back_hair(look, pal, body_cv.sub((0, 0, *size), static))
    static.alpha_composite(body_cv.img)
    body = _downsample(static, ss)
    front = _downsample(front_img, ss)

    bg = background(look, width, height)
    step = max(1, round(0.12 * view.a))  # breathing: scales with the presenter
    offsets = (-step, 0, step)
    body_blend = Blend.from_rgba_premul(body)
    backgrounds = []
    for off in offsets:
        b = bg.copy()
        blend_into(b, body_blend, bx0, by0 + off)
        backgrounds.append(_ro(b))

    cx0, cy0, cx1, cy1 = view.box(COLLAR_BOX)
    collar = Blend.from_rgba_premul(front[cy0 - by0 : cy1 - by0, cx0 - bx0 : cx1 - bx0].copy())

    # The head layer.
    hx0, hy0, hx1, hy1 = _clamp(view.box((-25.0, 3.0, 25.0, 88.0)), width, height)
    head_cv = Canvas(
        Image.new("RGBA", ((hx1 - hx0) * ss, (hy1 - hy0) * ss), (0, 0, 0, 0)),
        (hx0 * ss, hy0 * ss),
        view,
        ss,
    )
    art = draw_head(look, pal, head_cv)
    full = art.under.copy()
    full.alpha_composite(art.over)
    head = Blend.from_rgba_premul(_downsample(full, ss))

    def sprites(boxes: Sequence[Box], draw: Callable[[Canvas], None]) -> tuple[Sprite, ...]:
        """Draw the feature once over the union of `boxes`, then cut out one sprite per box."""
        px = [view.box(b) for b in boxes]
        ux0, uy0, ux1, uy1 = union(px)
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

    Draw = Callable[[Canvas], None]
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
    for s, smile in enumerate(SMILES):
        closed = MouthPose(0.0, 0.35, 0.05, closed=True)
        mouth_jobs[(s, -1, 0, 0)] = functools.partial(_draw_mouth_on, look, pal, closed, smile)
        for o, wi, ri in itertools.product(range(OPEN_LEVELS), range(3), range(3)):
            pose = MouthPose(o / (OPEN_LEVELS - 1), wi / 2, ri / 2)
            mouth_jobs[(s, o, wi, ri)] = functools.partial(_draw_mouth_on, look, pal, pose, smile)
    eyes = {k: sprites([EYES_BOX], f)[0] for k, f in eye_jobs.items()}
    brows = {k: sprites([BROWS_BOX], f)[0] for k, f in brow_jobs.items()}
    mouths = {k: sprites(MOUTH_BOXES, f) for k, f in mouth_jobs.items()}
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
        mouth_box=view.box(MOUTH_REGION),
        eyes_box=view.box(EYES_BOX),
        unit=view.a,
    )


def _draw_eyes_on(
    look: AvatarLook,
    pal: Palette,
    openness: float,
    gaze: tuple[float, float],
    smiling: bool,
    cv: Canvas,
) -> None:
    draw_eyes(look, pal, cv, openness, gaze, smiling)


def _draw_brows_on(
    look: AvatarLook, pal: Palette, ex: Expression, accent: bool, cv: Canvas
) -> None:
    draw_brows(look, pal, cv, ex, accent)


def _draw_mouth_on(
    look: AvatarLook, pal: Palette, pose: MouthPose, smile: float, cv: Canvas
) -> None:
    draw_mouth(look, pal, cv.scaled((0.0, MOUTH_Y), MOUTH_SCALE), pose, smile)


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

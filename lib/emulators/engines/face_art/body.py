"""The still part of the picture: the studio backdrop and the torso with its collar."""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image, ImageChops

from lib.emulators.engines.face_art.canvas import Canvas, edge_shade
from lib.emulators.engines.face_art.geometry import U8, bezier, flip_if, mirror, neck_hw, spline
from lib.emulators.engines.face_art.palette import RGB, Palette, hex_rgb, shade
from lib.emulators.engines.looks import AvatarLook


def background(look: AvatarLook, w: int, h: int) -> U8:
    """Studio backdrop: vertical gradient, a glow behind the presenter, soft bokeh, vignette."""
    top, bottom, glow = (
        np.array(hex_rgb(c), np.float32) for c in (look.bg_top, look.bg_bottom, look.bg_glow)
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


def draw_body(look: AvatarLook, pal: Palette, cv: Canvas) -> Image.Image:
    """Draw the torso; return the mask of the collar opening (behind the neck)."""
    k = 1.08 if look.gender == "male" else 1.0
    body = cv.poly(mirror([(x * k, y) for x, y in _BODY_R]), smooth=True)
    cv.paint(body, pal.outfit)
    # Cylinder shading: darker towards the arms, a soft light on the shoulders' top.
    cv.paint(cv.gradient(lambda x, y: ((np.abs(x) - 10.0) / 34.0) ** 2 * 1.4 + 0 * y),
             shade(pal.outfit, 0.55), 0.6, clip=body)  # fmt: skip
    cv.paint(cv.ellipse(-18, 72.5, 11, 3.2), shade(pal.outfit, 1.25), 0.22, blur=2.2, clip=body)
    cv.paint(cv.ellipse(18, 72.5, 11, 3.2), shade(pal.outfit, 1.12), 0.15, blur=2.2, clip=body)
    nw = neck_hw(look)
    if look.outfit.startswith("blazer"):
        return _draw_blazer(look, pal, cv, body, nw)
    return _draw_crew(pal, cv, body, nw, look.necklace)


def _draw_crew(
    pal: Palette,
    cv: Canvas,
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
        mirror(
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
    cv.paint(opening, shade(c, 0.62))
    outer = cv.poly(spline(mirror([(0, 63.0), (nw * 0.9, 63.5), (nw + 1.5, 65.6),
                                     (nw + 0.3, 68.8), (0, 69.8)])))  # fmt: skip
    band = ImageChops.multiply(ImageChops.subtract(outer, opening), clip or body)
    cv.paint(band, shade(c, 1.05))
    cv.paint(edge_shade(band, cv.length(0.3)), shade(c, 0.75), 0.35)
    cv.paint(cv.ellipse(0, 71.6, nw + 1.5, 1.6), shade(c, 0.7), 0.3, blur=0.9, clip=body)
    if necklace:
        chain = bezier((-nw - 0.3, 68.0), (-4.5, 73.6), (4.5, 73.6), (nw + 0.3, 68.0), 40)
        cv.stroke(chain, np.full(40, 0.16), (214, 178, 96), 0.95)
        cv.paint(cv.ellipse(0, 72.5, 0.55, 0.7), (228, 196, 120))
        cv.paint(cv.ellipse(-0.15, 72.3, 0.2, 0.25), (255, 246, 220), 0.9)
    return opening


def _draw_blazer(
    look: AvatarLook, pal: Palette, cv: Canvas, body: Image.Image, nw: float
) -> Image.Image:
    inner = pal.inner
    top = nw + 2.2
    vee = cv.poly([(-top, 64.6), (top, 64.6), (2.4, 86.0), (0, 88.0), (-2.4, 86.0)])
    vee = ImageChops.multiply(vee, body)  # never poke out above the shoulder line
    cv.paint(vee, inner)
    cv.paint(cv.gradient(lambda x, y: 1.0 - np.abs(x) / 5.0 + 0 * y), shade(inner, 1.1), 0.25,
             clip=vee)  # fmt: skip
    if look.outfit == "blazer_crew":
        opening = _draw_crew(pal, cv, body, nw, look.necklace, inner, clip=vee)
    else:
        opening = cv.poly(
            mirror(
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
        cv.paint(opening, shade(inner, 0.72))
        for sx in (-1.0, 1.0):  # shirt collar wings
            wing = cv.poly(spline(flip_if(sx, [(nw + 0.1, 64.7), (nw + 1.8, 66.6),
                                                 (nw + 0.9, 70.2), (2.7, 73.4), (0.3, 69.2),
                                                 (3.4, 67.3)])))  # fmt: skip
            wing = ImageChops.multiply(wing, body)
            cv.paint(wing, inner)
            cv.paint(edge_shade(wing, cv.length(0.3)), shade(inner, 0.72), 0.8)
        for y in (76.0, 81.5, 87.0):
            cv.paint(cv.ellipse(0, y, 0.28, 0.28), shade(inner, 0.75))
    for sx in (-1.0, 1.0):  # lapels
        lapel = cv.poly(flip_if(sx, [(top, 64.6), (top + 3.0, 67.0), (top + 1.8, 76.0),
                                      (top + 3.2, 76.8), (5.4, 86.5), (2.4, 86.0)]))  # fmt: skip
        cv.paint(lapel, shade(pal.outfit, 0.86), clip=body)
        cv.paint(edge_shade(lapel, cv.length(0.4)), shade(pal.outfit, 0.6), 0.7, clip=body)
        edge = bezier((sx * top, 64.6), (sx * 6.5, 71.0), (sx * 4.5, 80.0), (sx * 2.4, 86.0), 30)
        cv.stroke(edge, np.full(30, 0.3), shade(pal.outfit, 0.5), 0.8, blur=0.15)
    cv.paint(cv.ellipse(0, 96.0, 0.75, 0.75), shade(pal.outfit, 0.55))
    return opening

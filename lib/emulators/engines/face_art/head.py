"""The head layer: neck, ears, face with its shading, beard, then front hair and glasses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from lib.emulators.engines.face_art.canvas import Canvas, edge_shade
from lib.emulators.engines.face_art.geometry import (
    EYE_X,
    MOUTH_SCALE,
    MOUTH_Y,
    bezier,
    flip_if,
    mirror,
    neck_hw,
    taper,
)
from lib.emulators.engines.face_art.hair import STATIC_BACK_HAIR, draw_front_hair, hair_shapes
from lib.emulators.engines.face_art.palette import RGB, Palette, shade
from lib.emulators.engines.looks import AvatarLook

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


def _face_outline(look: AvatarLook) -> list[tuple[float, float]]:
    k = 1.05 if look.gender == "male" else 1.0  # a squarer, broader jaw
    return mirror([(x * (k if y > 42 else 1.0), y) for x, y in _FACE_R])


@dataclass
class HeadArt:
    under: Image.Image  # everything beneath the movable features
    over: Image.Image  # front hair and glasses, drawn on top of the features
    face: Image.Image  # face mask (for clipping feature shading)


def draw_head(look: AvatarLook, pal: Palette, cv: Canvas) -> HeadArt:
    back, front = hair_shapes(look.hair_style)
    if look.hair_style not in STATIC_BACK_HAIR:
        for piece in back:
            cv.paint(cv.poly(piece, smooth=True), pal.hair_dark)
    nw = neck_hw(look)
    neck = cv.poly(mirror([(0, 45.0), (nw * 0.93, 45.0), (nw * 0.95, 56.0), (nw, 64.0),
                            (nw * 1.06, 72.5), (0, 72.5)]))  # fmt: skip
    cv.paint(neck, shade(pal.skin, 0.93))
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
    draw_front_hair(look, pal, over_cv, front_mask)
    if look.glasses:
        _draw_glasses(over_cv)
    return HeadArt(under=under, over=over_cv.img, face=face)


def _draw_ears(look: AvatarLook, pal: Palette, cv: Canvas) -> None:
    for sx in (-1.0, 1.0):
        ear = cv.poly(
            flip_if(
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
        cv.paint(ear, shade(pal.skin, 0.95))
        inner = bezier(
            (sx * 14.6, 37.0), (sx * 15.8, 37.0), (sx * 15.8, 41.0), (sx * 14.8, 43.0), 20
        )
        cv.stroke(inner, taper(20, 0.1, 0.5, 0.1), pal.skin_dark, 0.6, blur=0.2)
        if look.earrings:
            cv.paint(cv.ellipse(sx * 14.9, 46.0, 0.6, 0.6), (222, 186, 104))
            cv.paint(cv.ellipse(sx * 14.75, 45.8, 0.22, 0.22), (255, 244, 214), 0.9)


def _shade_face(look: AvatarLook, pal: Palette, cv: Canvas, face: Image.Image) -> None:
    cv.paint(edge_shade(face, cv.length(2.4)), pal.skin_dark, 0.35)
    cv.paint(cv.gradient(lambda x, y: (x - 2.0) / 14.0 + 0 * y), pal.skin_dark, 0.3, clip=face)
    cv.paint(cv.ellipse(-3.0, 24.5, 5.5, 3.2), pal.skin_light, 0.35, blur=2.0, clip=face)
    for sx in (-1.0, 1.0):
        cv.paint(cv.ellipse(sx * 8.4, 46.0, 3.3, 2.2), pal.blush, 0.3, blur=1.4, clip=face)
        cv.paint(cv.ellipse(sx * EYE_X, 35.6, 4.0, 2.0), pal.skin_dark, 0.22, blur=0.9, clip=face)
        cv.paint(cv.ellipse(sx * 8.8, 42.6, 2.4, 1.0), pal.skin_light, 0.3, blur=0.9, clip=face)
    # Nose: a shadowed side, a lit tip, soft nostrils; no outline (illustration style).
    side = bezier((1.1, 37.5), (1.5, 40.5), (2.0, 43.0), (2.2, 45.0), 20)
    cv.stroke(side, taper(20, 0.2, 0.9, 0.4), pal.skin_dark, 0.35, blur=0.5)
    cv.paint(cv.ellipse(0.0, 45.0, 2.2, 1.3), pal.skin_dark, 0.22, blur=0.6)
    cv.paint(cv.ellipse(0.0, 46.5, 2.3, 0.55), pal.skin_dark, 0.45, blur=0.35)
    for sx in (-1.0, 1.0):
        cv.paint(cv.ellipse(sx * 1.0, 46.0, 0.5, 0.26), shade(pal.skin, 0.5), 0.35, blur=0.2)
        wing = bezier((sx * 1.6, 44.2), (sx * 2.5, 44.6), (sx * 2.5, 45.8), (sx * 1.7, 46.2), 16)
        cv.stroke(wing, taper(16, 0.08, 0.28, 0.08), pal.skin_dark, 0.5, blur=0.12)
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
            cv.paint(cv.ellipse(x, y, r, r), shade(pal.skin, 0.72), rng.uniform(0.2, 0.4),
                     blur=0.06)  # fmt: skip
    if look.beard:
        _draw_beard(look, pal, cv, face)


def _draw_beard(look: AvatarLook, pal: Palette, cv: Canvas, face: Image.Image) -> None:
    k = 1.05
    beard = cv.poly(
        mirror(
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
    mustache = cv.scaled((0.0, MOUTH_Y), MOUTH_SCALE).poly(  # sized to fit the mouth
        mirror([(0, 47.6), (2.4, 47.6), (4.4, 48.6), (5.4, 50.6), (3.6, 49.6), (0, 49.2)]),
        smooth=True,
    )
    both = ImageChops.lighter(beard, mustache)
    cv.paint(both, pal.hair, 0.85, blur=0.35, clip=face)
    rng = np.random.default_rng(11)
    for _ in range(160):  # a little texture so it reads as hair, not a shadow
        x, y = rng.uniform(-13, 13), rng.uniform(47, 59.5)
        cv.paint(cv.ellipse(x, y, 0.1, 0.32), pal.hair_light, 0.35, clip=both)


def _draw_glasses(cv: Canvas) -> None:
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
    bridge = bezier((-2.95, 36.6), (-1.2, 35.6), (1.2, 35.6), (2.95, 36.6), 16)
    cv.stroke(bridge, np.full(16, 0.35), frame)

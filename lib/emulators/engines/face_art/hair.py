"""Hair: each style's outlines and highlight strands, and painting them."""

from __future__ import annotations

import numpy as np
from PIL import Image

from lib.emulators.engines.face_art.canvas import Canvas, edge_shade
from lib.emulators.engines.face_art.geometry import F64, bezier, mirror, taper, wavy
from lib.emulators.engines.face_art.palette import Palette
from lib.emulators.engines.looks import AvatarLook

STATIC_BACK_HAIR = frozenset({"long_wavy", "bob"})


def draw_static_back_hair(look: AvatarLook, pal: Palette, cv: Canvas) -> None:
    if look.hair_style in STATIC_BACK_HAIR:
        for piece in hair_shapes(look.hair_style)[0]:
            cv.paint(cv.poly(piece, smooth=True), pal.hair_dark)


Outline = list[tuple[float, float]]

# Hair outlines in units (x right of centre, y down from the top), hand-placed, smoothed with
# Catmull-Rom when drawn. Each style: (back pieces, front pieces).
# fmt: off
_HAIR: dict[str, tuple[list[Outline], list[Outline]]] = {
    "long_wavy": (
        [mirror([(0, 30.0), (12.5, 31.0), (15.2, 40.0), (15.6, 50.0), (15.0, 60.0),
                  (13.6, 70.0), (0, 70.0)])],
        [wavy([
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
        [mirror([(0, 30.0), (15.6, 31.0), (17.4, 45.0), (16.6, 55.0), (14.6, 59.6),
                  (9.0, 59.8), (0, 59.0)])],
        [[(17.7, 57.4), (13.5, 57.0), (13.1, 46.0), (13.6, 36.0), (13.2, 29.0), (11.5, 27.6),
          (6.0, 28.4), (0.0, 28.1), (-6.0, 28.4), (-11.5, 27.6), (-13.2, 29.0), (-13.6, 36.0),
          (-13.1, 46.0), (-13.5, 57.0), (-17.7, 57.4), (-18.8, 45.0), (-18.8, 30.0),
          (-16.6, 19.0), (-10.0, 13.6), (0.0, 12.2), (10.0, 13.6), (16.6, 19.0), (18.8, 30.0),
          (18.8, 45.0)]],
    ),
}
# fmt: on


def hair_shapes(style: str) -> tuple[list[Outline], list[Outline]]:
    """(back pieces, front pieces); back pieces sit behind the face.

    For styles in STATIC_BACK_HAIR the back pieces are drawn into the static background: they
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
            bezier((-3.0, 12.4), (4.0, 12.0), (11.0, 15.0), (15.4, 24.0)),
            bezier((-3.0, 16.0), (2.0, 17.0), (7.0, 19.6), (11.0, 23.0)),
            bezier((-4.0, 13.2), (-10.0, 14.0), (-15.0, 20.0), (-16.4, 30.0)),
            bezier((16.8, 34.0), (18.4, 50.0), (15.0, 62.0), (17.6, 80.0)),
            bezier((-16.4, 34.0), (-17.8, 50.0), (-14.4, 63.0), (-16.6, 79.0)),
            bezier((18.6, 44.0), (20.0, 56.0), (18.2, 66.0), (19.4, 76.0)),
        ]
    elif style == "side_part":
        s += [
            bezier((-4.0, 11.4), (2.0, 10.6), (10.0, 12.6), (14.0, 19.0)),
            bezier((-4.4, 13.0), (-9.0, 13.4), (-12.6, 17.0), (-14.2, 23.0)),
        ]
    elif style == "bun":
        s += [
            bezier((0.0, 13.0), (-6.0, 13.6), (-11.6, 17.0), (-13.8, 25.0)),
            bezier((0.0, 13.0), (6.0, 13.6), (11.6, 17.0), (13.8, 25.0)),
        ]
    elif style == "bob":
        s += [
            bezier((-2.0, 13.6), (-10.0, 14.6), (-16.6, 24.0), (-16.8, 40.0)),
            bezier((3.0, 13.6), (10.0, 14.8), (16.4, 24.0), (16.6, 40.0)),
        ]
    return s


def draw_front_hair(look: AvatarLook, pal: Palette, cv: Canvas, front_mask: Image.Image) -> None:
    cv.paint(front_mask, pal.hair)
    cv.paint(edge_shade(front_mask, cv.length(1.6)), pal.hair_dark, 0.55)
    cv.paint(
        cv.gradient(lambda x, y: (y - 14.0) / 40.0 + 0 * x), pal.hair_dark, 0.5, clip=front_mask
    )
    for path in _hair_strands(look.hair_style):
        n = path.shape[0]
        cv.stroke(path, taper(n, 0.15, 1.3, 0.15), pal.hair_light, 0.45, blur=0.5, clip=front_mask)
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

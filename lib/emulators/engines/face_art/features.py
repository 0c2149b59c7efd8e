"""The moving features, drawn once per sprite: eyes, brows and mouth."""

from __future__ import annotations

import numpy as np
from PIL import ImageChops

from lib.emulators.engines.face_art.canvas import Canvas, edge_shade
from lib.emulators.engines.face_art.expressions import Expression
from lib.emulators.engines.face_art.geometry import (
    BROW_Y,
    EYE_X,
    EYE_Y,
    F64,
    MOUTH_Y,
    bezier,
    spline,
    taper,
)
from lib.emulators.engines.face_art.palette import Palette, shade
from lib.emulators.engines.looks import AvatarLook
from lib.emulators.engines.visemes import MouthPose


def draw_eyes(
    look: AvatarLook,
    pal: Palette,
    cv: Canvas,
    openness: float,
    gaze: tuple[float, float],
    smiling: bool,
) -> None:
    female = look.gender == "female"
    for sx in (-1.0, 1.0):
        ex = sx * EYE_X

        def pt(dx: float, dy: float, ex: float = ex, sx: float = sx) -> tuple[float, float]:
            # dx > 0 points outwards for both eyes; big eyes read friendlier in this style.
            return (ex + sx * dx * 1.13, EYE_Y + dy * 1.13)

        inner, outer = pt(-2.9, 0.25), pt(3.0, -0.15 if female else 0.05)
        upper_open = bezier(inner, pt(-1.6, -2.25), pt(1.5, -2.05), outer)
        upper_shut = bezier(inner, pt(-1.4, 0.95), pt(1.4, 0.9), outer)
        lo = (0.7, 0.55) if smiling else (1.35, 1.2)
        lower = bezier(inner, pt(-1.3, lo[0]), pt(1.5, lo[1]), outer)
        upper = upper_shut + (upper_open - upper_shut) * openness
        upper[:, 1] = np.minimum(upper[:, 1], lower[:, 1] - 0.02)
        crease = upper_open[3:-2] + np.array([0.0, -0.95])
        cv.stroke(crease, taper(len(crease), 0.06, 0.16, 0.06), pal.skin_dark, 0.55, blur=0.1)
        if openness > 0.0:
            opening = cv.poly(np.vstack([upper, lower[::-1]]))
            cv.paint(opening, (244, 239, 234))
            cx, cy = ex + gaze[0], EYE_Y + 0.1 + gaze[1]
            r = 1.78 if female else 1.68
            cv.paint(cv.ellipse(cx, cy, r, r), shade(pal.iris, 0.5), clip=opening)
            cv.paint(cv.ellipse(cx, cy, r * 0.84, r * 0.84), pal.iris, clip=opening)
            cv.paint(
                cv.ellipse(cx, cy + 0.55, r * 0.6, r * 0.45),
                shade(pal.iris, 1.3),
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
            cv.stroke(lower[2:-2], taper(len(lower) - 4, 0.05, 0.14, 0.05), pal.skin_dark, 0.6)
        w = (0.2, 0.42, 0.6) if female else (0.18, 0.32, 0.4)
        cv.stroke(upper, taper(len(upper), w[0], w[1], w[2]), pal.lash)
        if female:  # a small wing of lashes at the outer corner
            ox, oy = float(upper[-1, 0]), float(upper[-1, 1])
            flick = bezier(
                (ox - sx * 0.6, oy - 0.2),
                (ox + sx * 0.1, oy - 0.2),
                (ox + sx * 0.5, oy - 0.4),
                (ox + sx * 0.9, oy - 0.75),
                12,
            )
            cv.stroke(flick, np.linspace(0.45, 0.05, 12), pal.lash)
        if smiling:
            cheek = bezier(pt(-1.8, 2.2), pt(-0.5, 2.7), pt(1.2, 2.6), pt(2.4, 1.9), 16)
            cv.stroke(cheek, taper(16, 0.05, 0.16, 0.05), pal.skin_dark, 0.35, blur=0.15)


def draw_brows(look: AvatarLook, pal: Palette, cv: Canvas, ex: Expression, accent: bool) -> None:
    thick = 1.05 if look.gender == "male" else 0.9
    lift = ex.brow_raise + (0.6 if accent else 0.0)
    for sx in (-1.0, 1.0):
        up = lift + (ex.brow_asym if sx > 0 else 0.0)
        arch = ex.brow_arch
        pts = [
            (sx * 2.5, BROW_Y + 0.25 - up - ex.brow_inner),
            (sx * 4.6, BROW_Y - 0.75 - arch * 0.6 - up - ex.brow_inner * 0.4),
            (sx * 7.2, BROW_Y - 1.0 - arch * 0.7 - up),
            (sx * 9.9, BROW_Y - 0.1 - up * 0.8),
        ]
        path = spline(pts, closed=False, n=10)
        n = path.shape[0]
        widths = np.interp(np.linspace(0, 1, n), [0, 0.35, 0.7, 1], [1.0, 0.92, 0.7, 0.22])
        cv.stroke(path, widths * thick, pal.brow, 0.95, blur=0.12)
        cv.stroke(path[: n // 2], widths[: n // 2] * 0.45, shade(pal.brow, 1.3), 0.25, blur=0.2)


def draw_mouth(look: AvatarLook, pal: Palette, cv: Canvas, pose: MouthPose, smile: float) -> None:
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
    up_in = MOUTH_Y - (0.12 * oh + 0.02) * bulge - rise
    lo_in = MOUTH_Y + 0.88 * oh * bulge - rise
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
    cv.paint(upper, shade(pal.lips, 0.88))
    cv.paint(lower, pal.lips)
    cv.paint(
        cv.ellipse(0.3, float(lo_in[20] + lo_out[20]) / 2 - 0.05, 1.5, 0.35),
        shade(pal.lips, 1.35),
        0.45,
        blur=0.3,
        clip=lower,
    )
    both = ImageChops.lighter(upper, lower)
    cv.paint(edge_shade(both, cv.length(0.25)), shade(pal.lips, 0.75), 0.35)
    seam_w = np.full(41, 0.16 if oh <= 0.05 else 0.08) * edge + 0.02
    cv.stroke(
        line((up_in + lo_in) / 2 if oh <= 0.05 else up_in),
        seam_w,
        shade(pal.lips, 0.45),
        0.9 if pose.closed else 0.75,
    )
    for sx in (-1.0, 1.0):  # corners tuck into the cheeks
        cv.paint(
            cv.ellipse(sx * (hw + 0.1), float(up_in[0]) + 0.1, 0.35, 0.3),
            pal.skin_dark,
            0.45,
            blur=0.2,
        )

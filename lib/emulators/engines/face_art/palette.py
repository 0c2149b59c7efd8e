"""An avatar's colours: its look's hex colours and the shades the art derives from them."""

from __future__ import annotations

from dataclasses import dataclass

from lib.emulators.engines.looks import AvatarLook

RGB = tuple[int, int, int]


def hex_rgb(hex_color: str) -> RGB:
    h = hex_color.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def shade(c: RGB, f: float) -> RGB:
    """f < 1 darkens (and warms slightly, like real shadows on skin), f > 1 lightens."""
    if f >= 1.0:
        return mix(c, (255, 255, 255), min(1.0, f - 1.0))
    d = (round(c[0] * f), round(c[1] * f * 0.97), round(c[2] * f * 0.95))
    return (max(0, d[0]), max(0, d[1]), max(0, d[2]))


@dataclass(frozen=True)
class Palette:
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
    def of(look: AvatarLook) -> Palette:
        skin, hair = hex_rgb(look.skin), hex_rgb(look.hair)
        blonde = sum(hair) > 400
        return Palette(
            skin=skin,
            skin_dark=shade(skin, 0.72),
            skin_light=shade(skin, 1.18),
            blush=mix(skin, (214, 84, 92), 0.55),
            hair=hair,
            hair_dark=shade(hair, 0.62),
            hair_light=mix(hair, (255, 236, 205), 0.32 if blonde else 0.2),
            brow=shade(hair, 0.6 if blonde else 0.85),
            lash=(34, 24, 22),
            iris=hex_rgb(look.iris),
            lips=hex_rgb(look.lips),
            outfit=hex_rgb(look.outfit_color),
            inner=hex_rgb(look.inner_color),
        )

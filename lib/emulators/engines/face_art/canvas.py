"""Drawing in design units on a supersampled RGBA canvas: masks, painting, strokes, blur."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from lib.emulators.engines.face_art.geometry import F64, Pts, View, ribbon, spline
from lib.emulators.engines.face_art.palette import RGB


class Canvas:
    """An RGBA image in supersampled pixels (ss per output pixel), addressed in design units.

    `origin` is the image's top-left corner in supersampled output pixels.
    """

    def __init__(self, img: Image.Image, origin: tuple[float, float], view: View, ss: int) -> None:
        self.img = img
        self.ox, self.oy = origin
        self.view, self.ss = view, ss

    def sub(self, box: tuple[int, int, int, int], img: Image.Image) -> Canvas:
        return Canvas(img, (self.ox + box[0], self.oy + box[1]), self.view, self.ss)

    def scaled(self, pivot: tuple[float, float], k: float) -> Canvas:
        """A view of the same image that draws everything k times larger around `pivot`."""
        return Canvas(self.img, (self.ox, self.oy), self.view.about(pivot, k), self.ss)

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
        ImageDraw.Draw(m).polygon(self.xy(spline(pts) if smooth else pts), fill=255)
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
        self.paint(self.poly(ribbon(path, widths)), color, opacity, blur, clip)


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


def edge_shade(mask: Image.Image, radius: float) -> Image.Image:
    """Mask that is strong just inside the shape's edge and fades towards its middle."""
    inner = _blur(mask, radius)
    return ImageChops.multiply(mask, ImageChops.invert(inner).point(_DOUBLE))


_DOUBLE = [min(255, 2 * v) for v in range(256)]

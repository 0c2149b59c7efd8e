"""Write PNG previews of the local avatars and print render/TTS timings.

    python -m lib.emulators.engines.preview [OUT_DIR] [--size 854x480]

Writes one contact sheet per avatar (rest, speaking, blink, each emotion) and one sheet per
size with all avatars, then prints per size the median render time, the first (uncached) asset
build time, the assets' memory and the mouth box, and finally the TTS speed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from lib.emulators.engines.face import FaceRenderer
from lib.emulators.engines.face_art.assets import draw_assets
from lib.emulators.engines.face_art.stored import build_assets
from lib.emulators.engines.looks import AVATARS, avatar_by_id
from lib.emulators.engines.tts import VOICES, Synthesizer
from lib.emulators.engines.visemes import REST, MouthPose

SIZES = ((640, 360), (854, 480), (1280, 720))
EMOTIONS: tuple[str | None, ...] = (
    None,
    "excited",
    "serious",
    "friendly",
    "soothing",
    "broadcaster",
)


def _sheet(frames: list[np.ndarray], cols: int) -> Image.Image:
    h, w = frames[0].shape[:2]
    rows = (len(frames) + cols - 1) // cols
    sheet = Image.new("RGB", (w * cols, h * rows), (0, 0, 0))
    for i, f in enumerate(frames):
        sheet.paste(Image.fromarray(f), ((i % cols) * w, (i // cols) * h))
    return sheet


def _blink_time(r: FaceRenderer, seconds: float = 12.0) -> float:
    """A moment with the eyes shut: the frame with the fewest bright eye-white pixels."""
    x0, y0, x1, y1 = r.eyes_box

    def whites(t: float) -> int:
        eyes = r.render(t, REST)[y0 - 6 : y1 + 6, x0 - 6 : x1 + 6]
        return int((eyes.min(axis=2) > 200).sum())

    return min((i / 25.0 for i in range(int(seconds * 25))), key=whites)


def avatar_sheet(avatar_id: str, width: int, height: int) -> Image.Image:
    """Rest, four visemes (talking), a blink, then each emotion with a slightly open mouth."""
    r = FaceRenderer(avatar_id, width, height)
    shots: list[np.ndarray] = [r.render(1.0, REST).copy()]
    for pose in (
        MouthPose(0.85, 0.55, 0.05),
        MouthPose(0.5, 0.85, 0.0),
        MouthPose(0.65, 0.15, 0.8),
        MouthPose(0.0, 0.35, 0.05, closed=True),
    ):
        shots.append(r.render(1.0, pose, talking=True).copy())
    shots.append(r.render(_blink_time(r), REST).copy())
    shots += [r.render(3.0, MouthPose(0.3, 0.6, 0.0), emotion=e).copy() for e in EMOTIONS]
    return _sheet(shots, 4)


def time_render(avatar_id: str, width: int, height: int, frames: int = 200) -> tuple[float, float]:
    look = avatar_by_id(avatar_id)
    assert look is not None, avatar_id
    t0 = time.perf_counter()
    draw_assets(look, width, height)  # a real first build, not one kept from before
    build = time.perf_counter() - t0
    r = FaceRenderer(avatar_id, width, height)
    times = []
    for i in range(frames):
        t = i / 25.0
        mouth = MouthPose(abs(np.sin(t * 7)), 0.5 + 0.4 * np.sin(t * 3), max(0.0, np.sin(t * 2)))
        s = time.perf_counter()
        r.render(t, mouth, emotion="friendly", talking=i % 100 < 60)
        times.append(time.perf_counter() - s)
    return statistics.median(times) * 1000.0, build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", nargs="?", default="artifacts/preview")
    ap.add_argument("--size", default="854x480")
    ap.add_argument("--only", default="", help="avatar id to preview (default: all)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    w, h = (int(v) for v in args.size.split("x"))
    looks = [a for a in AVATARS if not args.only or a.avatar_id == args.only]
    for look in looks:
        avatar_sheet(look.avatar_id, w, h).save(out / f"{look.avatar_id}_{w}x{h}.png")
    for sw, sh in SIZES:
        frames = [FaceRenderer(a.avatar_id, sw, sh).render(1.0, REST).copy() for a in AVATARS]
        _sheet(frames, 3).save(out / f"all_{sw}x{sh}.png")
    for sw, sh in SIZES:
        ms, build = time_render(looks[0].avatar_id, sw, sh)
        mb = build_assets(looks[0], sw, sh).nbytes / 1e6
        box = FaceRenderer(looks[0].avatar_id, sw, sh).mouth_box
        print(
            f"render {sw}x{sh}: median {ms:.2f} ms/frame (first build {build:.2f} s, "
            f"assets {mb:.1f} MB, mouth box {box})"
        )
    synth, text = Synthesizer(), "Hello! I am your virtual presenter, and I can talk all day. " * 4
    t0 = time.perf_counter()
    u = synth.synthesize(text, VOICES[0])
    dt = time.perf_counter() - t0
    print(
        f"tts: {u.duration_ms / 1000:.1f} s of audio in {dt * 1000:.0f} ms "
        f"(RTF {dt * 1000 / u.duration_ms:.4f})"
    )
    print(f"previews in {out}/")


if __name__ == "__main__":
    main()

"""The illustrated avatar renderer: sizes, distinct looks, mouth shapes, blinking, determinism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lib.emulators.engines.face import FaceRenderer
from lib.emulators.engines.face_art.body import background
from lib.emulators.engines.face_art.stored import build_assets
from lib.emulators.engines.looks import AVATARS, avatar_by_id
from lib.emulators.engines.tts import voice_by_id
from lib.emulators.engines.visemes import REST, VISEME_POSES, MouthPose

SIZES = [(640, 360), (854, 480), (1280, 720)]
OPEN_A = VISEME_POSES["A"]


def crop(frame: np.ndarray, box: tuple[int, int, int, int], pad: int = 0) -> np.ndarray:
    x0, y0, x1, y1 = box
    return frame[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad].astype(np.int16)


def test_catalogue():
    assert len(AVATARS) >= 4
    assert len({a.avatar_id for a in AVATARS}) == len(AVATARS)
    for a in AVATARS:
        voice = voice_by_id(a.default_voice)
        assert voice is not None and voice.support_realtime, a.avatar_id
        assert voice.gender == a.gender, a.avatar_id
        assert avatar_by_id(a.avatar_id) is a
    assert {a.gender for a in AVATARS} == {"female", "male"}
    assert avatar_by_id("Nobody_public") is None


@pytest.mark.parametrize(("width", "height"), SIZES)
@pytest.mark.parametrize("avatar", AVATARS, ids=lambda a: a.avatar_id)
def test_renders_every_avatar_at_every_size(avatar, width, height):
    r = FaceRenderer(avatar.avatar_id, width, height)
    frame = r.render(0.5, REST)
    assert frame.shape == (height, width, 3)
    assert frame.dtype == np.uint8 and frame.flags.c_contiguous
    assert frame.std() > 20  # a picture, not a flat fill
    x0, y0, x1, y1 = r.mouth_box
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


@pytest.mark.parametrize(("width", "height"), [(320, 240), (500, 500), (360, 640)])
def test_other_even_sizes_work(width, height):
    frame = FaceRenderer(AVATARS[0].avatar_id, width, height).render(1.0, OPEN_A, talking=True)
    assert frame.shape == (height, width, 3)


def test_bad_arguments():
    with pytest.raises(KeyError, match="Ava_Studio_public"):
        FaceRenderer("Nobody_public", 640, 360)
    with pytest.raises(ValueError, match="even"):
        FaceRenderer(AVATARS[0].avatar_id, 641, 360)


def test_avatars_look_different():
    frames = {a.avatar_id: FaceRenderer(a.avatar_id, 640, 360).render(1.0, REST).copy()
              for a in AVATARS}  # fmt: skip
    for (ida, fa), (idb, fb) in itertools.combinations(frames.items(), 2):
        diff = np.abs(fa.astype(np.int16) - fb.astype(np.int16)).mean()
        assert diff > 12, (ida, idb, diff)


def test_mouth_follows_the_pose():
    r = FaceRenderer(AVATARS[0].avatar_id, 854, 480)
    box = r.mouth_box
    shots = {
        name: crop(r.render(2.0, pose), box)
        for name, pose in {
            "rest": REST,
            "A": OPEN_A,
            "O": VISEME_POSES["O"],
            "I": VISEME_POSES["I"],
            "MBP": VISEME_POSES["MBP"],
        }.items()
    }

    def diff(a: str, b: str) -> float:
        return float(np.abs(shots[a] - shots[b]).mean())

    assert diff("rest", "A") > 8
    assert diff("A", "O") > 4 and diff("O", "I") > 4
    assert diff("rest", "MBP") > 0.5  # pressed lips are subtle but not identical

    # An open mouth shows the dark inside of the mouth.
    def dark(a: str) -> int:
        return int((shots[a].max(axis=2) < 90).sum())

    assert dark("A") > dark("rest") + 50


def dark_fraction(frame: np.ndarray, box: tuple[int, int, int, int]) -> float:
    luma = crop(frame, box).astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return float((luma < 70).mean())


@pytest.mark.parametrize("avatar", AVATARS, ids=lambda a: a.avatar_id)
def test_open_mouth_reads_at_video_size(avatar):
    """Lip movement must survive VP8 at 854x480: a big mouth box, a dark open mouth."""
    r = FaceRenderer(avatar.avatar_id, 854, 480)
    x0, y0, x1, y1 = r.mouth_box
    assert x1 - x0 >= 90 and y1 - y0 >= 35
    assert abs((x0 + x1) / 2 - 427) <= 1  # centred under the nose
    rest = dark_fraction(r.render(2.0, REST), r.mouth_box)
    wide_open = dark_fraction(r.render(2.0, MouthPose(1.0, 0.5, 0.0)), r.mouth_box)
    assert wide_open - rest >= 0.08, (rest, wide_open)

    # Teeth show too: near-white, unsaturated pixels (skin is never grey) appear.
    def teeth(pose: MouthPose) -> int:
        f = crop(r.render(2.0, pose), r.mouth_box)
        lo, hi = f.min(axis=2), f.max(axis=2)
        return int(((lo > 170) & (hi - lo < 30)).sum())

    assert teeth(REST) == 0 and teeth(MouthPose(1.0, 0.5, 0.0)) > 200


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_head_and_shoulders_framing(width, height):
    look = AVATARS[0]
    r = FaceRenderer(look.avatar_id, width, height)
    ex0, ey0, ex1, ey1 = r.eyes_box
    mx0, my0, mx1, my1 = r.mouth_box
    assert abs((ex0 + ex1) / 2 - width / 2) <= 1 and abs((mx0 + mx1) / 2 - width / 2) <= 1
    assert 0.28 * height < (ey0 + ey1) / 2 < 0.40 * height
    # A close-up, at every size (the old, wider framing had 13 % and 15 %).
    assert mx1 - mx0 >= 0.18 * height
    assert (my0 + my1) / 2 - (ey0 + ey1) / 2 >= 0.155 * height
    # Headroom: the hair stops a little below the top edge (it was at 10.6 %).
    assets = build_assets(look, width, height)
    alpha_rows = np.flatnonzero((assets.head.inv[:, :, 0] < 128).any(axis=1))
    hair_top = assets.head_xy[1] + int(alpha_rows[0])
    assert 0.02 * height <= hair_top <= 0.09 * height
    # Hair to mouth is about half the frame height (the chin is a little further down).
    assert 0.48 * height <= my1 - hair_top <= 0.60 * height
    # The shoulders run off the bottom edge across much of the width.
    frame = r.render(0.0, REST)
    backdrop = background(look, width, height)
    covered = (np.abs(frame[-1].astype(np.int16) - backdrop[-1]).max(axis=1) > 12).mean()
    assert 0.5 <= covered <= 0.8
    assert assets.nbytes < 60e6  # per (avatar, size) cache entry


def test_head_motion_scales_with_the_frame():
    def reach(height: int) -> float:
        r = FaceRenderer(AVATARS[0].avatar_id, height * 16 // 9 // 2 * 2, height)
        return max(abs(r._head_offset(i * 0.1, 1.0, 1.0)[0]) for i in range(600))

    small, large = reach(360), reach(720)
    assert small >= 2  # visible at all
    assert 1.6 <= large / small <= 2.4


def test_rendering_is_deterministic():
    a = FaceRenderer(AVATARS[1].avatar_id, 640, 360, seed=3)
    b = FaceRenderer(AVATARS[1].avatar_id, 640, 360, seed=3)
    for i in range(60):
        t, pose = i * 0.04, MouthPose(abs(np.sin(i)), 0.5, 0.2)
        fa = a.render(t, pose, emotion="friendly", talking=i > 20).copy()
        fb = b.render(t, pose, emotion="friendly", talking=i > 20)
        assert np.array_equal(fa, fb)
    again = a.render(59 * 0.04, MouthPose(abs(np.sin(59)), 0.5, 0.2), emotion="friendly",
                     talking=True)  # fmt: skip
    assert np.array_equal(again, fb)


def test_render_reuses_its_buffer():
    r = FaceRenderer(AVATARS[0].avatar_id, 640, 360)
    first = r.render(0.0, REST)
    second = r.render(0.04, OPEN_A)
    assert first is second  # documented: copy before the next call


def eye_whites(r: FaceRenderer, t: float) -> int:
    eyes = crop(r.render(t, REST), r.eyes_box, pad=6)
    return int(((eyes[:, :, 0] > 215) & (eyes[:, :, 2] > 210)).sum())


def blink_runs(r: FaceRenderer, seconds: float = 10.0) -> list[int]:
    whites = np.array([eye_whites(r, i / 25.0) for i in range(int(seconds * 25))])
    closed = whites < 0.35 * whites.max()
    runs, n = [], 0
    for c in closed:
        if c:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_blinks_are_natural():
    r = FaceRenderer(AVATARS[0].avatar_id, 854, 480, seed=1)
    runs = blink_runs(r)
    assert 1 <= len(runs) <= 8  # every 2-6 s, sometimes doubled
    assert max(runs) <= 5  # ~150 ms, never a long close at 25 fps


def test_seed_changes_blink_timing():
    def closed_frames(seed: int) -> set[int]:
        r = FaceRenderer(AVATARS[0].avatar_id, 640, 360, seed=seed)
        whites = [eye_whites(r, i / 25.0) for i in range(250)]
        top = max(whites)
        return {i for i, w in enumerate(whites) if w < 0.35 * top}

    assert closed_frames(1) != closed_frames(2)


def test_emotions_are_visible():
    r = FaceRenderer(AVATARS[0].avatar_id, 854, 480)
    t, pose = 1.0, MouthPose(0.1, 0.5, 0.0)
    x0, y0, x1, y1 = r.eyes_box
    upper_face = (x0, y0 - (y1 - y0), x1, y1)  # brows and eyes
    frames = {e: r.render(t, pose, emotion=e).copy() for e in
              (None, "excited", "serious", "friendly", "soothing", "broadcaster")}  # fmt: skip
    for e in ("excited", "serious", "friendly", "soothing", "broadcaster"):
        face_diff = np.abs(crop(frames[e], upper_face) - crop(frames[None], upper_face)).mean()
        mouth_diff = np.abs(crop(frames[e], r.mouth_box) - crop(frames[None], r.mouth_box)).mean()
        assert face_diff + mouth_diff > 1.0, e
    # Smiles differ: excited is not serious around the mouth.
    assert np.abs(crop(frames["excited"], r.mouth_box) - crop(frames["serious"], r.mouth_box)
                  ).mean() > 2  # fmt: skip
    assert np.array_equal(r.render(t, pose, emotion="grumpy"), frames[None])
    assert np.array_equal(r.render(t, pose, emotion="Excited"), frames["excited"])


def test_head_moves_but_background_does_not():
    r = FaceRenderer(AVATARS[3].avatar_id, 640, 360)
    frames = [r.render(i * 0.5, REST, talking=True).copy() for i in range(12)]
    corner = [f[:40, :40] for f in frames]
    assert all(np.array_equal(corner[0], c) for c in corner)
    x0, y0, x1, y1 = r.eyes_box
    assert any(not np.array_equal(crop(frames[0], (x0, y0, x1, y1)), crop(f, (x0, y0, x1, y1)))
               for f in frames[1:])  # fmt: skip


def test_reused_head_composites_draw_the_same_frames_as_fresh_ones():
    # One renderer keeps composites from earlier frames; a fresh one per frame has none.
    warm = FaceRenderer(AVATARS[2].avatar_id, 854, 480, seed=5)
    for i in range(0, 250, 7):
        t, pose = i * 0.04, MouthPose(abs(np.sin(i)), 0.4, 0.1)
        cold = FaceRenderer(AVATARS[2].avatar_id, 854, 480, seed=5)
        assert np.array_equal(warm.render(t, pose), cold.render(t, pose))
    assert 1 < len(warm._heads) <= 8  # several offsets seen, memory bounded


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_i420_frames_equal_the_conversion_of_the_whole_frame(width, height):
    """`render_i420` converts only what the eyes, brows and mouth changed, over a kept
    conversion of background, head and collar: the picture is the same to the last bit,
    talking, blinking, with the head moving and the emotion changing."""
    from lib.wire.picture import I420

    for avatar in AVATARS[:3]:
        whole = FaceRenderer(avatar.avatar_id, width, height, seed=2)
        parts = FaceRenderer(avatar.avatar_id, width, height, seed=2)
        for i in range(40):
            t, pose = i * 0.13, MouthPose(abs(np.sin(i)), abs(np.cos(0.7 * i)), i % 3 / 2)
            emotion = ("friendly", None, "excited", "serious")[i % 4]
            talking = i % 5 > 0
            expected = I420.from_rgb(whole.render(t, pose, emotion=emotion, talking=talking))
            got = parts.render_i420(t, pose, emotion=emotion, talking=talking)
            assert np.array_equal(got.planes, expected.planes), (avatar.avatar_id, i)
    assert got is not parts.render_i420(t, pose, emotion=emotion, talking=talking)  # new each time

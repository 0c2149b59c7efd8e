import numpy as np
import pytest

from lib.wire.picture import I420, picture_size, to_rgb, to_video_frame


def test_rgb_converts_to_i420_and_back():
    rgb = np.zeros((480, 854, 3), np.uint8)
    rgb[100:200, 100:300] = (30, 160, 220)
    picture = I420.from_rgb(rgb)
    assert picture_size(picture) == (854, 480) == picture_size(rgb)
    back = to_rgb(picture)
    assert back.shape == rgb.shape and np.abs(back.astype(int) - rgb).mean() < 3
    frame = to_video_frame(picture)
    assert frame.format.name == "yuv420p" and (frame.width, frame.height) == (854, 480)


def test_patch_lands_at_even_coordinates_in_all_planes():
    base = I420.from_rgb(np.full((64, 64, 3), 40, np.uint8))
    patch = I420.from_rgb(np.full((8, 10, 3), (250, 20, 20), np.uint8))
    out = base.with_patch(patch, 11, 7).to_rgb()  # drawn at (10, 6)
    assert np.abs(out[6:14, 10:20].astype(int) - (250, 20, 20)).max() < 20  # red, hue kept
    assert np.abs(out[30:, 30:].astype(int) - 40).max() < 3  # elsewhere untouched
    assert np.abs(base.to_rgb().astype(int) - 40).max() < 3  # the original is not modified
    clipped = base.with_patch(I420.from_rgb(np.zeros((20, 20, 3), np.uint8)), 56, 56)
    assert clipped.to_rgb()[60, 60].max() < 20  # clipped at the frame's edge, no error


@pytest.mark.parametrize("shape", [(70, 64), (72, 63)])
def test_planes_that_are_not_4_2_0_are_refused(shape):
    with pytest.raises(ValueError, match="not an I420 picture"):
        I420(np.zeros(shape, np.uint8))


def test_conversion_is_the_same_from_any_thread_and_at_any_size():
    """Each thread keeps its own swscale context; sizes may change from frame to frame."""
    from concurrent.futures import ThreadPoolExecutor

    import av

    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (h, w, 3), np.uint8) for h, w in [(480, 854), (64, 64)] * 4]
    expected = [
        av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p").to_ndarray()
        for f in frames
    ]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda f: I420.from_rgb(f).planes, frames))
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def test_a_crop_is_the_conversion_of_the_same_region():
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (64, 96, 3), np.uint8)
    picture = I420.from_rgb(rgb)
    part = picture.crop(10, 6, 40, 24)
    assert (part.width, part.height) == (40, 24)
    assert np.array_equal(part.to_rgb(), picture.to_rgb()[6:30, 10:50])
    assert np.array_equal(picture.with_patch(part, 10, 6).planes, picture.planes)
    for bad in [(1, 0, 8, 8), (0, 0, 8, 6), (0, 0, 7, 8), (90, 0, 8, 8), (0, 0, 0, 8)]:
        with pytest.raises(ValueError, match="crop"):
            picture.crop(*bad)

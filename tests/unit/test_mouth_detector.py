"""The bench's mouth-movement detector (histogram of the mouth region against its rest)."""

from __future__ import annotations

import numpy as np

from lib.bench.studio_driver import HIST_BINS, FrameSample, first_mouth_frame


def _hist(dark: float, rng: np.random.Generator, jitter: float = 0.01) -> tuple[float, ...]:
    """Mostly skin-toned pixels, `dark` of them in the darkest bins (an open mouth)."""
    h = np.zeros(HIST_BINS)
    h[20] = 1.0 - dark
    h[2] = dark
    h[19:22] += rng.uniform(0, jitter, 3)  # compression noise moves mass between neighbours
    return tuple(float(x) for x in h / h.sum())


def _frames(start: float, n: int, dark: float, rng: np.random.Generator) -> list[FrameSample]:
    return [FrameSample(start + i * 0.04, 100.0, None, hist=_hist(dark, rng)) for i in range(n)]


def test_the_first_frame_with_the_lips_apart_is_found_and_rest_noise_is_not() -> None:
    rng = np.random.default_rng(3)
    rest = _frames(9.0, 25, 0.0, rng)  # the second before Speak (t = 10)
    idle = _frames(10.0, 5, 0.0, rng)  # still resting after the click
    moved = _frames(10.2, 5, 0.06, rng)  # lips apart: 6 % of the region turns dark
    samples = rest + idle + moved
    found = first_mouth_frame(samples, 10.0)
    assert found is moved[0]
    assert first_mouth_frame(rest + idle, 10.0) is None  # noise alone never counts


def test_no_verdict_without_a_second_of_rest_before() -> None:
    rng = np.random.default_rng(4)
    samples = _frames(9.9, 2, 0.0, rng) + _frames(10.0, 5, 0.2, rng)
    assert first_mouth_frame(samples, 10.0) is None


def test_frames_without_a_histogram_are_ignored() -> None:
    rng = np.random.default_rng(5)
    rest = _frames(9.0, 25, 0.0, rng)
    plain = [FrameSample(10.1, 100.0, 0.5)]  # e.g. the placeholder, no mouth box
    moved = _frames(10.2, 3, 0.1, rng)
    assert first_mouth_frame(rest + plain + moved, 10.0) is moved[0]


def test_one_odd_resting_frame_does_not_raise_the_bar_over_the_lips() -> None:
    rng = np.random.default_rng(6)
    rest = _frames(9.0, 25, 0.0, rng)
    rest[10] = FrameSample(rest[10].t, 100.0, None, hist=_hist(0.08, rng))  # a keyframe's step
    moved = _frames(10.1, 3, 0.06, rng)
    assert first_mouth_frame(rest + moved, 10.0) is moved[0]

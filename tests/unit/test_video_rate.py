import itertools

from lib.media.video_rate import MIN_BPS, UP_DWELL_S, VideoRate


def chrome_ramp(start: float, seconds: float, t0: float = 0.0) -> list[tuple[float, int]]:
    """Chrome's REMB with no probing from the sender: +2 % every 0.24 s (seen on loopback)."""
    out, bps, t = [], start, t0
    while t < t0 + seconds:
        out.append((t, int(bps)))
        bps *= 1.02
        t += 0.24
    return out


def test_runs_at_the_rate_its_size_needs_through_chromes_slow_climb():
    """aiortc followed this climb with a codec re-open (a keyframe) every 10 %: 9 in 25 s."""
    rate = VideoRate.for_size(854, 480, now=0.0)
    assert rate.rate == rate.ceiling == 614_880
    assert VideoRate.for_size(640, 360, 0).rate < rate.rate < VideoRate.for_size(1280, 720, 0).rate
    for t, bps in chrome_ramp(MIN_BPS, 25.0, t0=2.0):
        rate.on_estimate(bps, t)
        assert rate.rate == 614_880
    assert rate.changes == 0


def test_a_cut_is_followed_at_once_and_the_climb_back_takes_few_steps():
    rate = VideoRate.for_size(854, 480, now=0.0)
    rate.on_estimate(700_000, 1.0)
    rate.on_estimate(400_000, 2.0)  # overuse: Chrome cut its estimate
    assert rate.rate == 400_000 and rate.changes == 1
    rate.on_estimate(390_000, 2.5)  # a small fall: not worth a keyframe
    assert rate.rate == 400_000
    steps = []
    for t, bps in chrome_ramp(390_000, 30.0, t0=3.0):
        before = rate.rate
        rate.on_estimate(bps, t)
        if rate.rate != before:
            steps.append((t, rate.rate))
    assert rate.rate == rate.ceiling
    assert 1 <= len(steps) <= 3, steps
    times = [2.0] + [t for t, _ in steps]
    assert all(b - a >= UP_DWELL_S for a, b in itertools.pairwise(times))


def test_estimates_are_bounded_and_a_resize_keeps_a_cut():
    rate = VideoRate.for_size(854, 480, now=0.0)
    rate.on_estimate(300_000, 1.0)
    rate.on_estimate(10_000, 2.0)
    assert rate.rate == MIN_BPS
    rate.resize(1280, 720, 3.0)  # still held down by the cut
    assert rate.rate == MIN_BPS
    fresh = VideoRate.for_size(854, 480, now=0.0)
    fresh.resize(1280, 720, 1.0)
    assert fresh.rate == fresh.ceiling > 614_880

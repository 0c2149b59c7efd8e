"""Facts the app and the local servers each keep for themselves (the servers share no code with
the app but the wire format), held together here so that neither hides the other's error."""

from __future__ import annotations

from lib.avatar.base import RESOLUTIONS as CLIENT_RESOLUTIONS
from lib.bridge.agents import DEFAULT_QUESTIONS as APP_QUESTIONS
from lib.emulators.engines.personas import DEFAULT_QUESTIONS as SERVER_QUESTIONS
from lib.emulators.rooms.catalog import RESOLUTIONS as SERVER_RESOLUTIONS


def test_quality_maps_to_the_same_frame_size_on_both_sides():
    assert dict(CLIENT_RESOLUTIONS) == dict(SERVER_RESOLUTIONS)
    for width, height in CLIENT_RESOLUTIONS.values():
        assert width % 2 == 0 and height % 4 == 0  # what an I420 frame of the local room needs


def test_the_interviewer_asks_the_same_questions_whoever_supplies_them():
    assert tuple(APP_QUESTIONS) == tuple(SERVER_QUESTIONS)


def test_a_scripted_wav_is_resampled_as_the_server_resamples_speech():
    import numpy as np

    from lib.emulators.engines.audio import resample as server_resample
    from lib.media.pcm import resample as app_resample

    rng = np.random.default_rng(7)
    for rate, channels in ((48_000, 2), (44_100, 2), (22_050, 1), (16_000, 1), (24_000, 1)):
        pcm = (rng.standard_normal(rate * channels // 2) * 4000).astype(np.int16)
        assert np.array_equal(
            app_resample(pcm, rate, 24_000, channels), server_resample(pcm, rate, 24_000, channels)
        ), (rate, channels)

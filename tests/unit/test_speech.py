"""The emulator's speech: the mouth the producer draws leads the audio it sends by one frame."""

from __future__ import annotations

import asyncio

import numpy as np

from lib.emulators.engines.tts import Synthesizer
from lib.emulators.engines.visemes import REST, pose_from_audio
from lib.emulators.rooms.catalog import VOICES
from lib.emulators.rooms.speech import (
    MOUTH_LEAD_MS,
    SAMPLE_RATE,
    SAMPLES_PER_MS,
    Speech,
    StreamedSpeech,
    TtsSpeech,
)

TICK = 20 * SAMPLES_PER_MS


class _Quiet:
    def started(self, speech: Speech) -> None: ...

    def word(self, speech: Speech, text: str) -> None: ...

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None: ...


def test_synthesised_speech_shows_the_mouth_one_frame_ahead_of_its_sound() -> None:
    utterance = Synthesizer().synthesize("Testing the mouth.", VOICES[0])

    async def run() -> None:
        speech = TtsSpeech(utterance, _Quiet(), text="Testing the mouth.")
        assert speech.mouth_now() == utterance.mouth_at(MOUTH_LEAD_MS)
        speech.read(TICK)  # the first 20 ms go out...
        # ...with the pose of the sound a frame later: already visibly open.
        assert speech.mouth_now() == utterance.mouth_at(20 + MOUTH_LEAD_MS)
        assert speech.mouth_now().open > utterance.mouth_at(20).open + 0.1
        while speech.read(TICK).size:
            pass
        assert speech.mouth_now() == REST  # closed once the sound is over

    asyncio.run(run())


def test_streamed_speech_takes_its_pose_from_the_audio_a_frame_ahead() -> None:
    async def run() -> None:
        speech = StreamedSpeech(_Quiet(), event_id="e1")
        assert speech.mouth_now() == REST  # nothing streamed yet
        # 40 ms of silence, then loud speech-like noise: the lead sees the loud part first.
        rng = np.random.default_rng(1)
        loud = (rng.standard_normal(24 * 200) * 8000).astype(np.int16)
        speech.append_24k(np.concatenate([np.zeros(24 * 40, np.int16), loud]))
        leading = speech.mouth_now()
        assert leading.open > pose_from_audio(np.zeros(1920, np.int16), SAMPLE_RATE).open
        assert leading.open > 0.2
        # A short tail (less than the lead) still moves the mouth rather than snapping shut.
        tail = StreamedSpeech(_Quiet(), event_id="e2")
        tail.append_24k(loud[: 24 * 10])
        assert tail.mouth_now().open > 0

    asyncio.run(run())

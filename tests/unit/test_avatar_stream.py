"""The emulator's media clock: speech after silence starts at once, not at the next 20 ms slot."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from lib.emulators.avatar_stream import TICK_S, AvatarStream
from lib.emulators.catalog import AVATARS, VOICES
from lib.emulators.room_client import RoomClient
from lib.emulators.speech import Speech, TtsSpeech
from lib.engines.face import FaceRenderer
from lib.engines.tts import Synthesizer


class _Viewer(RoomClient):
    """A viewer that only notes when each audio packet was handed to it (loop time)."""

    def __init__(self) -> None:
        super().__init__(websocket=None)  # type: ignore[arg-type]  # never sends
        self.audio_at: list[float] = []

    def offer_audio(self, packet: bytes) -> None:
        self.audio_at.append(asyncio.get_running_loop().time())


class _Started:
    def __init__(self) -> None:
        self.at: float | None = None

    def started(self, speech: Speech) -> None:
        self.at = asyncio.get_running_loop().time()

    def word(self, speech: Speech, text: str) -> None: ...

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None: ...


def test_speech_after_silence_starts_without_waiting_for_the_next_tick() -> None:
    utterance = Synthesizer().synthesize("Hi.", VOICES[0])

    async def run() -> list[float]:
        loop = asyncio.get_running_loop()
        stream = AvatarStream(FaceRenderer(AVATARS[0].avatar_id, 320, 180))
        viewer = _Viewer()
        stream._clients.add(viewer)  # a watcher keeps the clock ticking through silence
        stream._ensure_running()
        waits = []
        try:
            for _ in range(7):
                while stream.is_speaking:
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.1)
                # Half a tick after the last (silent) tick: the grid's next slot is 10 ms away.
                last = viewer.audio_at[-1]
                await asyncio.sleep(max(0.0, last + TICK_S / 2 - loop.time()))
                listener = _Started()
                queued = loop.time()
                stream.enqueue(TtsSpeech(utterance, listener, text="Hi."))
                while listener.at is None:
                    await asyncio.sleep(0.001)
                waits.append(listener.at - queued)
        finally:
            stream.close(1000, "done")
        return waits

    waits: Any = asyncio.run(run())
    # On the fixed grid each would wait ~10 ms for its slot; moved, the first tick is at once.
    assert statistics.median(waits) < TICK_S / 4, waits

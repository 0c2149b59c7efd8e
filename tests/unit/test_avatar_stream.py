"""The emulator's media clock: speech after silence starts at once, not at the next 20 ms slot;
a speak request parts the lips before the voice is ready."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from lib.emulators.engines.face import FaceRenderer
from lib.emulators.engines.tts import Synthesizer
from lib.emulators.engines.visemes import REST
from lib.emulators.rooms.catalog import AVATARS, VOICES
from lib.emulators.rooms.room_client import RoomClient
from lib.emulators.rooms.speech import Speech, TtsSpeech
from lib.emulators.rooms.stream import (
    ANTICIPATION,
    ANTICIPATION_MAX_S,
    TICK_S,
    AvatarStream,
)


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


class _Recorded(AvatarStream):
    """Notes each frame's mouth (loop time, pose) instead of drawing it."""

    def __init__(self) -> None:
        super().__init__(FaceRenderer(AVATARS[0].avatar_id, 320, 180))
        self.frames: list[tuple[float, Any]] = []

    def _render(self, captured_at: float, t: float, mouth: Any, talking: bool) -> None:
        self.frames.append((asyncio.get_running_loop().time(), mouth))


def test_a_speak_request_parts_the_lips_at_once_and_the_voice_takes_over() -> None:
    utterance = Synthesizer().synthesize("Hello there.", VOICES[0])

    async def run() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        stream = _Recorded()
        stream._clients.add(_Viewer())
        stream._ensure_running()
        try:
            await asyncio.sleep(0.3)
            idle = [m for _, m in stream.frames]
            asked = loop.time()
            stream.anticipate()  # the request arrived; synthesis takes a while
            await asyncio.sleep(0.15)
            waiting = [(t - asked, m) for t, m in stream.frames if t >= asked]
            listener = _Started()
            stream.enqueue(TtsSpeech(utterance, listener, text="Hello there."))
            while stream.is_speaking:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            after = [m for t, m in stream.frames[-3:]]
            stream.anticipate()
            await asyncio.sleep(0.1)
            stream.cancel_anticipation()  # synthesis failed: nothing will be said
            await asyncio.sleep(0.1)
            cancelled = stream.frames[-1][1]
            stream.anticipate()
            await asyncio.sleep(ANTICIPATION_MAX_S + 0.2)  # asked, but nothing came
            expired = stream.frames[-1][1]
        finally:
            stream.close(1000, "done")
        return {
            "idle": idle,
            "waiting": waiting,
            "after": after,
            "cancelled": cancelled,
            "expired": expired,
        }

    r = asyncio.run(run())
    assert r["idle"] and all(m == REST for m in r["idle"])
    first = r["waiting"][0][1]  # the very next frame: drawn on the request, not on the sound
    assert 0.05 < first.open < ANTICIPATION.open  # on its way, not a snap
    assert r["waiting"][-1][1] == ANTICIPATION
    assert all(m == REST for m in r["after"]), "speech over: the lips rest again"
    assert r["cancelled"] == REST and r["expired"] == REST


class _SlowRenders(AvatarStream):
    """Each frame takes 35 ms to draw (a busy machine); notes the stream time of each frame
    drawn."""

    def __init__(self) -> None:
        super().__init__(FaceRenderer(AVATARS[0].avatar_id, 160, 90))
        self.drawn: list[float] = []

    def _render_packet(
        self, renderer: Any, seq: int, captured_at: float, t: float, *_: Any
    ) -> bytes:
        import time

        time.sleep(0.035)
        self.drawn.append(t)
        return b""


class _Sink(_Viewer):
    def offer_video(self, packet: bytes) -> None: ...


def test_a_frame_due_during_a_render_is_drawn_next_not_dropped() -> None:
    """A speak request landing while a frame is being drawn still gets its own frame (the one
    that starts parting the lips), right after that render, instead of waiting for a later slot."""
    import time

    async def run() -> tuple[list[float], list[float]]:
        stream = _SlowRenders()
        stream._clients.add(_Sink())
        stream._ensure_running()
        asked: list[float] = []
        try:
            await asyncio.sleep(0.2)
            for _ in range(3):
                while not stream._rendering:  # a render is under way
                    await asyncio.sleep(0.001)
                asked.append(time.monotonic() - stream._born)
                stream.anticipate()
                await asyncio.sleep(0.3)
                stream.cancel_anticipation()
                await asyncio.sleep(0.1)
        finally:
            stream.close(1000, "done")
            await asyncio.sleep(0.1)  # the last render hands its frame back to this loop
        return asked, stream.drawn

    asked, drawn = asyncio.run(run())
    for at in asked:
        assert any(abs(t - at) < 0.01 for t in drawn), (at, drawn)


def test_the_counts_account_for_every_frame_the_schedule_asked_for() -> None:
    """Renders slower than the 40 ms slot: the frames not drawn are counted as merged into a
    newer one, so a soak can tell a starved renderer from frames lost further on."""

    class Slower(_SlowRenders):
        def _render_packet(self, *args: Any) -> bytes:
            import time

            time.sleep(0.025)  # with the 35 ms of _SlowRenders: 60 ms a frame
            return super()._render_packet(*args)

    async def run() -> dict[str, Any]:
        stream = Slower()
        stream._clients.add(_Sink())
        stream._ensure_running()
        try:
            await asyncio.sleep(1.0)
        finally:
            stream.close(1000, "done")
            await asyncio.sleep(0.1)
        return stream.stats()

    counts = asyncio.run(run())
    assert 20 <= counts["due"] <= 30, counts
    assert counts["rendered"] <= 18 and counts["merged"] >= 4, counts
    unaccounted = counts["due"] - counts["rendered"] - counts["merged"] - counts["late"]
    assert 0 <= unaccounted <= 2, counts  # the frame in flight when it closed
    assert counts["offered"] == counts["rendered"]  # one viewer

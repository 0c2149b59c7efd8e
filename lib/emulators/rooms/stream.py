"""The per-session media producer: 25 fps video and 20 ms audio on one monotonic clock.

One coroutine ticks every 20 ms at absolute deadlines (no drift); speech that starts after
silence moves the grid so that its first tick is at once. Each tick takes the next
20 ms of speech audio (silence when idle, so viewers' clocks keep running) and, every second
tick, a video frame whose mouth is the pose of the speech at that same instant, so sound and
lips are in sync at the source. Rendering runs on a worker thread; if the previous frame is
still rendering when the next is due, that frame is skipped rather than queued. When the
loop falls far behind (a stalled process) the clock jumps ahead instead of bursting.

The producer runs only while someone watches or something is being said: speech progresses
in real time even with no viewer, so sync tasks finish when they would on the real service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.websockets import WebSocket

from lib.emulators.engines.face import FaceRenderer
from lib.emulators.engines.visemes import REST, MouthPose, lerp
from lib.emulators.faults import FAULTS
from lib.emulators.rooms.room_client import RoomClient
from lib.emulators.rooms.speech import SAMPLE_RATE, Speech
from lib.wire import localroom

log = logging.getLogger(__name__)

TICK_S = 0.020
TICKS_PER_FRAME = 2  # 25 fps
SAMPLES_PER_TICK = SAMPLE_RATE * 20 // 1000
MAX_LAG_S = 0.25
# Between a speak request and its first sound (synthesis, queueing) the lips part a little, as
# people's do before they speak (speech preparation starts the lips moving 100-300 ms before
# the voice). The avatar visibly reacts at once; the visemes take over with the sound.
ANTICIPATION = MouthPose(0.15, 0.4, 0.0)
ANTICIPATION_RAMP_S = 0.06  # reached over this long (a lip parting, not a snap)
ANTICIPATION_MAX_S = 1.0  # speech that has not come by then is not coming soon: rest again


@dataclass
class VideoCounts:
    """Where a stream's video frames went, since it started (`GET /_control/stats`): of the
    frames the 25 fps schedule asked for, how many were drawn, and why the others were not."""

    due: int = 0  # video slots the schedule reached (a frame each at 25 fps)
    late: int = 0  # slots passed over because the clock was behind (the process was starved)
    merged: int = 0  # due while the previous frame was still rendering, then a newer one came
    rendered: int = 0
    offered: int = 0  # frames handed to viewers (each viewer may still skip some)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# Shared by all sessions; numpy drawing releases the GIL for much of its work.
_RENDER_POOL = ThreadPoolExecutor(
    max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="avatar-render"
)


class AvatarStream:
    @classmethod
    async def create(
        cls, *, avatar_id: str, width: int, height: int, emotion: str | None = None
    ) -> AvatarStream:
        # The first renderer of an (avatar, size) draws its art (~1 s): keep that off the loop.
        renderer = await asyncio.to_thread(FaceRenderer, avatar_id, width, height)
        return cls(renderer, emotion=emotion)

    def __init__(self, renderer: FaceRenderer, *, emotion: str | None = None) -> None:
        self.width = renderer.width
        self.height = renderer.height
        self.emotion = emotion
        self._renderer: FaceRenderer | None = renderer
        self._clients: set[RoomClient] = set()
        self._queue: deque[Speech] = deque()
        self._current: Speech | None = None
        self._task: asyncio.Task[None] | None = None
        self._rendering = False
        # The newest frame that fell due during a render: (captured_at, t, mouth, talking).
        self._pending: tuple[float, float, MouthPose, bool] | None = None
        self._closed = False
        self._audio_seq = 0
        self._video_seq = 0
        self._born = time.monotonic()
        self._kick = asyncio.Event()  # speech is waiting to start: tick now, not at the next slot
        self._anticipating_since: float | None = None  # monotonic; a speak request is pending
        self._anticipation_frame = False  # draw the first parted-lips frame at the next tick
        self.video = VideoCounts()

    # ---- state ---------------------------------------------------------------------------
    @property
    def is_speaking(self) -> bool:
        return self._current is not None or bool(self._queue)

    def queued_s(self) -> float:
        """Seconds of speech still to play: the rest of the current one and all queued."""
        current = [self._current] if self._current is not None else []
        return sum(s.remaining for s in (*current, *self._queue)) / SAMPLE_RATE

    def stats(self) -> dict[str, Any]:
        """The video counts, and per viewer what it was sent and what it skipped."""
        viewers = [{"sent": c.video_sent, "skipped": c.video_replaced} for c in self._clients]
        return {**self.video.as_dict(), "viewers": viewers}

    # ---- viewers -------------------------------------------------------------------------
    def add_client(self, websocket: WebSocket) -> RoomClient:
        client = RoomClient(websocket)
        self._clients.add(client)
        self._ensure_running()
        return client

    def remove_client(self, client: RoomClient) -> None:
        self._clients.discard(client)

    def broadcast(self, message: dict[str, Any]) -> None:
        """A data-channel message to every viewer (lost if nobody watches, as on LiveKit)."""
        text = json.dumps(message)
        for client in self._clients:
            client.offer_text(text)

    # ---- speech --------------------------------------------------------------------------
    def anticipate(self) -> None:
        """Speech was asked for and is being prepared: part the lips now (when idle)."""
        if self._closed or self.is_speaking or self._anticipating_since is not None:
            return
        self._anticipating_since = time.monotonic()
        self._anticipation_frame = True
        self._kick.set()
        self._ensure_running()

    def cancel_anticipation(self) -> None:
        """The speech that was asked for will not come (synthesis failed, interrupted)."""
        self._anticipating_since = None

    def _anticipation_pose(self) -> MouthPose:
        since = self._anticipating_since
        if since is None:
            return REST
        elapsed = time.monotonic() - since
        if elapsed > ANTICIPATION_MAX_S:
            self._anticipating_since = None
            return REST
        # The first frame is already well on its way (the frame shows the next 40 ms).
        k = min(1.0, (elapsed + TICK_S * TICKS_PER_FRAME) / ANTICIPATION_RAMP_S)
        return lerp(REST, ANTICIPATION, k)

    def enqueue(self, speech: Speech) -> None:
        if self._closed:
            speech.finish(0.0)
            return
        if not self.is_speaking:
            self._kick.set()
        self._queue.append(speech)
        self._ensure_running()

    def interrupt(self) -> None:
        """Drop what is queued and stop what is playing; the stop event reports what was spoken."""
        self.cancel_anticipation()
        for speech in self._queue:
            speech.finish(0.0)  # never started, so no events for it
        self._queue.clear()
        current, self._current = self._current, None
        if current is not None:
            if current.started:
                current.listener.ended(current, current.spoken_ms, True)
            current.finish(current.spoken_ms)

    # ---- lifecycle -----------------------------------------------------------------------
    def close(self, code: int, reason: str) -> None:
        """End the room: resolve pending speech, close every viewer after its queued data."""
        if self._closed:
            return
        self._closed = True
        for speech in [*self._queue, *([self._current] if self._current else [])]:
            speech.finish(speech.spoken_ms)
        self._queue.clear()
        self._current = None
        for client in self._clients:
            client.request_close(code, reason)
        if self._task is not None:
            self._task.cancel()
        self._renderer = None  # closed sessions are remembered; their frame buffers are not

    async def wait_viewers_closed(self, timeout: float) -> None:
        waits = [asyncio.create_task(c.finished.wait()) for c in self._clients]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=timeout)
            for task in pending:
                task.cancel()

    def _ensure_running(self) -> None:
        if self._closed or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self._produce(), name="avatar-stream")

    # ---- the clock -----------------------------------------------------------------------
    async def _produce(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        wall0 = time.time()
        tick = 0
        try:
            while not self._closed and (self._clients or self.is_speaking):
                due = t0 + tick * TICK_S
                now = loop.time()
                if now < due and self._kick.is_set():
                    # New speech after silence: move the clock so its first tick is now (up to
                    # 20 ms sooner). Viewers just get this audio packet a little early.
                    self._kick.clear()
                    t0 -= due - now
                    wall0 -= due - now
                    continue
                if now < due:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._kick.wait(), due - now)
                    continue
                lag = now - due
                if lag > MAX_LAG_S:
                    skip = int(lag / TICK_S)
                    late = len(range(tick, tick + skip, TICKS_PER_FRAME))
                    self.video.due += late
                    self.video.late += late
                    tick += skip
                    continue
                every = TICKS_PER_FRAME
                slow = FAULTS.peek("media_slow")  # fault injection: a congested video path
                if slow is not None and slow.value > 0:
                    every = max(TICKS_PER_FRAME, round(1 / (TICK_S * slow.value)))
                if tick % TICKS_PER_FRAME == 0:
                    self.video.due += 1
                video_due = tick % every == 0 and lag < TICK_S * TICKS_PER_FRAME
                if tick % every == 0 and not video_due:
                    self.video.late += 1
                # loop.time() is the monotonic clock, so `due - _born` is the stream's own time.
                self._tick(wall0 + tick * TICK_S, due - self._born, video_due)
                tick += 1
        except asyncio.CancelledError:
            pass
        except Exception:  # a bug here must not take the server down; log it loudly
            log.exception("avatar stream producer failed")

    def _tick(self, captured_at: float, t: float, video_due: bool) -> None:
        pcm, events = self._next_audio()
        # The mouth of the audio just read (not of the tick before), and a frame at once when
        # speech begins instead of at the next 40 ms video slot: the mouth starts sooner.
        speech = self._current
        if speech is not None:
            self._anticipating_since = None
            mouth = speech.mouth_now()
        else:
            mouth = self._anticipation_pose()
        talking = speech is not None and speech.started
        started = any(kind == "started" for kind, _, _ in events)
        video_due = video_due or started or self._anticipation_frame
        self._anticipation_frame = False
        stalled = FAULTS.stalled()  # fault injection: media stops, events go on
        if self._clients and not stalled:
            packet = localroom.pack_audio(self._audio_seq, captured_at, pcm, SAMPLE_RATE)
            for client in self._clients:
                client.offer_audio(packet)
        self._audio_seq = (self._audio_seq + 1) & 0xFFFFFFFF
        for kind, sp, arg in events:  # after the audio they describe has gone out
            if kind == "started":
                sp.listener.started(sp)
            elif kind == "word":
                sp.listener.word(sp, arg)
            else:
                sp.listener.ended(sp, sp.spoken_ms, False)
                sp.finish(sp.spoken_ms)
        if video_due and self._clients and not stalled:
            self._render(captured_at, t, mouth, talking)

    def _next_audio(self) -> tuple[npt.NDArray[np.int16], list[tuple[str, Speech, str]]]:
        out = np.zeros(SAMPLES_PER_TICK, dtype=np.int16)
        events: list[tuple[str, Speech, str]] = []
        filled = 0
        while filled < SAMPLES_PER_TICK:
            speech = self._current
            if speech is None:
                if not self._queue:
                    break
                speech = self._current = self._queue.popleft()
            chunk = speech.read(SAMPLES_PER_TICK - filled)
            out[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
            if len(chunk) and not speech.started:
                speech.started = True
                events.append(("started", speech, ""))
            events.extend(("word", speech, w) for w in speech.due_words())
            if speech.exhausted:
                if not speech.started:  # zero-length audio still gets its start/stop pair
                    speech.started = True
                    events.append(("started", speech, ""))
                events.append(("ended", speech, ""))
                self._current = None
                continue
            if len(chunk) == 0:
                break  # streamed input is behind real time: silence until more arrives
        return out, events

    # ---- video ---------------------------------------------------------------------------
    def _render(self, captured_at: float, t: float, mouth: MouthPose, talking: bool) -> None:
        renderer = self._renderer
        if renderer is None:
            return
        if self._rendering:
            # The last frame is still rendering: keep only the newest frame due meanwhile and
            # draw it as soon as that one is done. Dropping it instead cost up to a whole
            # 40 ms slot, most often for the frame that first parts the lips (a speak request
            # lands during a render in ~4 of 9 rounds on a busy machine).
            if self._pending is not None:
                self.video.merged += 1
            self._pending = (captured_at, t, mouth, talking)
            return
        self._rendering = True
        seq = self._video_seq
        self._video_seq = (self._video_seq + 1) & 0xFFFFFFFF
        loop = asyncio.get_running_loop()
        future = _RENDER_POOL.submit(
            self._render_packet, renderer, seq, captured_at, t, mouth, talking
        )

        def done(f: Future[bytes]) -> None:
            loop.call_soon_threadsafe(self._deliver, f)

        future.add_done_callback(done)

    def _render_packet(
        self,
        renderer: FaceRenderer,
        seq: int,
        captured_at: float,
        t: float,
        mouth: MouthPose,
        talking: bool,
    ) -> bytes:
        current = self._current
        emotion = getattr(current, "emotion", None) if talking else None
        picture = renderer.render_i420(t, mouth, emotion=emotion or self.emotion, talking=talking)
        return localroom.pack_i420(seq, captured_at, picture)

    def _deliver(self, future: Future[bytes]) -> None:
        self._rendering = False
        if self._closed:
            return
        try:
            packet = future.result()
        except Exception:
            log.exception("frame rendering failed")
            packet = None
        if packet is not None:
            self.video.rendered += 1
            for client in self._clients:
                client.offer_video(packet)
                self.video.offered += 1
        pending, self._pending = self._pending, None
        if pending is not None and self._clients:
            self._render(*pending)

"""Avatar media → streamlit-webrtc source tracks.

`AvatarMedia` is where a session's frames and audio land (any thread: the avatar runner hands
them over from its transport) and the source the aiortc loop reads from: the newest video
frame, and a small audio jitter buffer at 48 kHz.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fractions
import threading
import time
from typing import Any, TypeVar

import av
import numpy as np
import numpy.typing as npt
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from PIL import Image, ImageDraw, ImageFont

from lib.wire.picture import I420, Picture, picture_size, to_video_frame

AUDIO_RATE = 48000
AUDIO_PTIME = 0.02
SAMPLES_PER_FRAME = int(AUDIO_RATE * AUDIO_PTIME)
# Audio kept ahead of playout: enough to ride out loopback jitter, small enough for lip-sync.
AUDIO_TARGET_MS = 60
AUDIO_MAX_MS = 250


class AudioJitterBuffer:
    """Thread-safe PCM16 mono FIFO; trims to AUDIO_TARGET_MS when it grows past AUDIO_MAX_MS
    (two clocks drift: the avatar server's and the browser-facing track's)."""

    def __init__(self, max_ms: int = AUDIO_MAX_MS, target_ms: int = AUDIO_TARGET_MS) -> None:
        self._max = AUDIO_RATE * max_ms // 1000
        self._target = AUDIO_RATE * target_ms // 1000
        self._chunks: collections.deque[npt.NDArray[np.int16]] = collections.deque()
        self._size = 0
        self._lock = threading.Lock()
        self.underruns = 0
        self.dropped_samples = 0

    def push(self, pcm: npt.NDArray[np.int16]) -> None:
        with self._lock:
            self._chunks.append(pcm)
            self._size += pcm.size
            if self._size > self._max:
                self._drop(self._size - self._target)

    def _drop(self, n: int) -> None:
        while n > 0 and self._chunks:
            head = self._chunks[0]
            if head.size <= n:
                self._chunks.popleft()
                n -= head.size
                self._size -= head.size
                self.dropped_samples += head.size
            else:
                self._chunks[0] = head[n:]
                self._size -= n
                self.dropped_samples += n
                n = 0

    def pull(self, n: int) -> npt.NDArray[np.int16]:
        out = np.zeros(n, dtype=np.int16)
        filled = 0
        with self._lock:
            while filled < n and self._chunks:
                head = self._chunks[0]
                take = min(n - filled, head.size)
                out[filled : filled + take] = head[:take]
                filled += take
                if take == head.size:
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[take:]
                self._size -= take
            if filled < n and self._size == 0 and filled > 0:
                self.underruns += 1
        return out

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()
            self._size = 0

    @property
    def buffered_samples(self) -> int:
        return self._size

    @property
    def buffered_ms(self) -> float:
        with self._lock:
            return self._size * 1000 / AUDIO_RATE


def _resample_linear(pcm: npt.NDArray[np.int16], src: int, dst: int) -> npt.NDArray[np.int16]:
    if src == dst or pcm.size == 0:
        return pcm
    n = round(pcm.size * dst / src)
    x = np.linspace(0, pcm.size - 1, n)
    return np.interp(x, np.arange(pcm.size), pcm.astype(np.float32)).astype(np.int16)


def placeholder(width: int, height: int, text: str) -> npt.NDArray[np.uint8]:
    """Shown before the first avatar frame: a quiet dark card with a status line."""
    img = Image.new("RGB", (width, height), (24, 26, 33))
    draw = ImageDraw.Draw(img)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            "DejaVuSans.ttf", max(14, height // 22)
        )
    except OSError:
        font = ImageFont.load_default()
    w = draw.textlength(text, font=font)
    draw.text(((width - w) / 2, height / 2 - height // 40), text, fill=(150, 156, 170), font=font)
    return np.asarray(img, dtype=np.uint8).copy()


def badge(text: str, frame_width: int) -> npt.NDArray[np.uint8]:
    """A small rounded label (e.g. "Looking that up…") to draw over the avatar's corner."""
    size = max(12, frame_width // 45)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            "DejaVuSans.ttf", size
        )
    except OSError:
        font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    w = int(probe.textlength(text, font=font)) + size * 2
    h = size * 2
    img = Image.new("RGB", (w, h), (24, 28, 38))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=h // 2, fill=(245, 166, 35))
    draw.text((size, size // 2), text, fill=(24, 28, 38), font=font)
    return np.asarray(img, dtype=np.uint8).copy()


FPS_WINDOW_S = 2.0
VIDEO_BACKLOG = 3  # frames: at most 80 ms behind the newest
AUDIO_LIVE_S = 0.2  # the avatar counts as streaming audio if a chunk came this recently


class Wakeups:
    """asyncio.Events of track loops, set from whichever thread delivers media."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def add(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._items.append((loop, event))

    def remove(self, event: asyncio.Event) -> None:
        with self._lock:
            self._items = [w for w in self._items if w[1] is not event]

    def wake(self) -> None:
        with self._lock:
            items = list(self._items)
        for loop, event in items:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float) -> None:
        """Until the next wake, or `timeout` seconds."""
        event = asyncio.Event()
        self.add(asyncio.get_running_loop(), event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), max(0.0, timeout))
        finally:
            self.remove(event)


class AvatarMedia:
    """Media + events of the current avatar session, read by the WebRTC tracks and the page."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Picture | None = None
        self._frame_seq = 0
        # The last few frames, so that frames arriving closer together than the media loop
        # takes them (the room's reader and the loop share the GIL) all go out, in order.
        self._recent: collections.deque[tuple[int, Picture, float]] = collections.deque(
            maxlen=VIDEO_BACKLOG
        )
        self.video_arrived = Wakeups()
        self.audio_arrived = Wakeups()
        self._audio_in_at: float | None = None  # monotonic, last avatar audio chunk
        self._status = "Press Start to bring the avatar in"
        self._placeholder: tuple[str, npt.NDArray[np.uint8]] | None = None
        self._badge: str | None = None  # drawn over the avatar (e.g. a tool is running)
        self._badge_img: tuple[str, int, npt.NDArray[np.uint8], I420] | None = None
        self.audio = AudioJitterBuffer()
        # The voice model's own voice (audio-only fallback): queued whole, played in order.
        self.voice = AudioJitterBuffer(max_ms=180_000, target_ms=180_000)
        self.frames_in = 0
        self._arrivals: collections.deque[float] = collections.deque()  # monotonic, recent
        self.frames_out = 0
        self.first_frame_out_at: float | None = None
        self.closed = False

    # ---- transport side ----------------------------------------------------------------
    def on_video(self, picture: Picture) -> None:
        now = time.monotonic()
        with self._lock:
            self._frame = picture
            self._frame_seq += 1
            self._recent.append((self._frame_seq, picture, now))
            self.frames_in += 1
            self._arrivals.append(now)
            while self._arrivals and now - self._arrivals[0] > FPS_WINDOW_S:
                self._arrivals.popleft()
        self.video_arrived.wake()  # the WebRTC track, on its own loop

    @property
    def frame_seq(self) -> int:
        return self._frame_seq

    def on_audio(self, pcm: npt.NDArray[np.int16], sample_rate: int) -> None:
        self.audio.push(_resample_linear(pcm, sample_rate, AUDIO_RATE))
        self._audio_in_at = time.monotonic()
        self.audio_arrived.wake()

    def avatar_audio_live(self) -> bool:
        """Is the avatar streaming audio now (its chunks pace the outgoing track)?"""
        at = self._audio_in_at
        return at is not None and time.monotonic() - at < AUDIO_LIVE_S

    def reset(self, status: str) -> None:
        """Session ended or changed: drop the last frame and queued audio, show `status`."""
        with self._lock:
            self._frame = None
            self._frame_seq += 1
            self._recent.clear()
            self._status = status
            self.first_frame_out_at = None
        self.audio.clear()

    def close(self) -> None:
        """Its owner (the avatar runner) has shut down: the tracks reading this media end, so
        nothing keeps pumping it (see `_cached`)."""
        self.closed = True
        self.reset("The avatar session has ended")
        self.video_arrived.wake()
        self.audio_arrived.wake()

    def video_health(self) -> tuple[float, float | None]:
        """(frames per second over the last FPS_WINDOW_S, seconds since the last frame);
        the age is None before the first frame."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._arrivals if now - t <= FPS_WINDOW_S]
            last = self._arrivals[-1] if self._arrivals else None
        return len(recent) / FPS_WINDOW_S, (now - last) if last is not None else None

    def set_badge(self, text: str | None) -> None:
        with self._lock:
            self._badge = text

    def _with_badge(self, picture: Picture, text: str) -> Picture:
        width, height = picture_size(picture)
        if self._badge_img is None or self._badge_img[:2] != (text, width):
            img = badge(text, width)
            # I420 needs an even width and a height that is a multiple of 4: trim to that.
            fit = img[: img.shape[0] & ~3, : img.shape[1] & ~1]
            self._badge_img = (text, width, img, I420.from_rgb(fit))
        margin = max(8, width // 60) & ~1
        if isinstance(picture, I420):
            return picture.with_patch(self._badge_img[3], margin, margin)
        img = self._badge_img[2]
        out = picture.copy()  # the transport's frame is shared: draw on a copy
        h, w = min(img.shape[0], height - margin), min(img.shape[1], width - margin)
        out[margin : margin + h, margin : margin + w] = img[:h, :w]
        return out

    # ---- track side (aiortc loop thread) -------------------------------------------------
    def video_frame(self, pts: int, time_base: fractions.Fraction) -> av.VideoFrame:
        return self.next_video_frame(self._frame_seq)[0]

    def next_video_frame(self, after: int) -> tuple[av.VideoFrame, int, float | None]:
        """The oldest frame newer than frame number `after` that is still kept (else the
        newest, or the placeholder): the frame, its number, and when it arrived (monotonic;
        None for a repeat or the placeholder)."""
        with self._lock:
            seq, picture, arrived = next(
                ((n, p, t) for n, p, t in self._recent if n > after),
                (self._frame_seq, self._frame, None),
            )
            status = self._status
            badge_text = self._badge
        if picture is not None and badge_text:
            picture = self._with_badge(picture, badge_text)
        if picture is None:
            if self._placeholder is None or self._placeholder[0] != status:
                self._placeholder = (status, placeholder(854, 480, status))
            picture = self._placeholder[1]
        elif self.first_frame_out_at is None:
            self.first_frame_out_at = time.time()
        self.frames_out += 1
        return to_video_frame(picture), seq, arrived  # the track stamps pts

    def audio_ready(self) -> bool:
        """A whole 20 ms of avatar audio is waiting to go out."""
        return self.audio.buffered_samples >= SAMPLES_PER_FRAME

    def play_voice(self, pcm: npt.NDArray[np.int16], sample_rate: int) -> None:
        self.voice.push(_resample_linear(pcm, sample_rate, AUDIO_RATE))

    def audio_frame(self, pts: int, time_base: fractions.Fraction) -> av.AudioFrame:
        pcm = self.audio.pull(SAMPLES_PER_FRAME)
        if self.voice.buffered_ms > 0:
            mixed = pcm.astype(np.int32) + self.voice.pull(SAMPLES_PER_FRAME)
            pcm = np.clip(mixed, -32768, 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        return frame


VIDEO_CLOCK = 90000
IDLE_REPEAT_S = 0.1  # with no new frame, repeat the last one this often (keeps the stream up)


class AvatarVideoTrack(MediaStreamTrack):
    """Video out to the browser, driven by the avatar's own frames: each new frame is sent as
    soon as it arrives, instead of being sampled by a second 25 fps clock (which adds up to a
    frame of latency and, as the two clocks drift, shows one frame twice and drops the next)."""

    kind = "video"

    def __init__(self, media: AvatarMedia) -> None:
        super().__init__()
        self.media = media
        self._started: float | None = None
        self._seen = -1
        self._pts = -1

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live" or self.media.closed:
            self.stop()
            raise MediaStreamError
        if self.media.frame_seq == self._seen:
            await self.media.video_arrived.wait(IDLE_REPEAT_S)
        frame, self._seen, arrived = self.media.next_video_frame(self._seen)
        now = time.monotonic()
        if self._started is None:
            self._started = now
        # Stamped when it arrived, not when the loop got to it: frames of a burst keep their
        # spacing (and never go backwards, nor repeat a stamp).
        at = min(now, arrived) if arrived is not None else now
        self._pts = max(self._pts + 1, int((at - self._started) * VIDEO_CLOCK))
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


ARRIVAL_SLACK_S = 0.03  # how late an avatar chunk may be before its slot goes out silent
MAX_LAG_S = 0.2  # own clock: further behind than this, start again from now


class AvatarAudioTrack(MediaStreamTrack):
    """Audio out to the browser, paced by the avatar's own 20 ms chunks while it streams: each
    is sent as it arrives. A second clock re-sampling a buffer (streamlit-webrtc's source
    track) held audio back by however much that buffer had grown (up to AUDIO_MAX_MS), so the
    browser, which lines video up with audio, held the video back with it, and the lips led
    the voice by that much. With no avatar audio (before start, the voice-only fallback) the
    track keeps its own 20 ms clock."""

    kind = "audio"

    def __init__(self, media: AvatarMedia) -> None:
        super().__init__()
        self.media = media
        self._pts = 0
        self._next_due: float | None = None  # monotonic

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live" or self.media.closed:
            self.stop()
            raise MediaStreamError
        now = time.monotonic()
        if self._next_due is None:
            self._next_due = now
        while not self.media.audio_ready():
            slack = ARRIVAL_SLACK_S if self.media.avatar_audio_live() else 0.0
            wait = self._next_due + slack - time.monotonic()
            if wait <= 0:
                break
            await self.media.audio_arrived.wait(wait)
        arrived = self.media.audio_ready()
        frame = self.media.audio_frame(self._pts, fractions.Fraction(1, AUDIO_RATE))
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._pts += frame.samples
        now = time.monotonic()
        if arrived or now - self._next_due > MAX_LAG_S:
            self._next_due = now + AUDIO_PTIME  # paced by arrivals (or restarted)
        else:
            self._next_due += AUDIO_PTIME  # own clock, absolute slots: no drift
        return frame


TrackT = TypeVar("TrackT", "AvatarAudioTrack", "AvatarVideoTrack")


def _cached(state: Any, key: str, media: AvatarMedia, kind: type[TrackT]) -> TrackT:
    """One media-driven track per media, kept in `state` (st.session_state) across reruns and
    reconnects.

    streamlit-webrtc (pinned 0.79.0) feeds source tracks to each peer connection through one
    global aiortc MediaRelay, whose reader calls `recv()` on a source until it raises; it never
    stops a source itself. So a track must end on its own, or it is pumped forever (50 audio
    and 10-25 video frames a second) and keeps its media alive after its tab has gone. It ends
    when its media is closed (the avatar runner shut down: Stop, page left, tab gone, app exit)
    or replaced here. Not with each WebRTC session: the library stops a session's worker and
    makes the next one in the same run, with the tracks this run already passed in."""
    track = state.get(key)
    if isinstance(track, kind) and track.readyState == "live" and track.media is media:
        return track
    if isinstance(track, MediaStreamTrack) and track.readyState == "live":
        track.stop()  # its media was replaced
    track = kind(media)
    state[key] = track
    return track


def cached_audio_track(state: Any, key: str, media: AvatarMedia) -> AvatarAudioTrack:
    return _cached(state, key, media, AvatarAudioTrack)


def cached_video_track(state: Any, key: str, media: AvatarMedia) -> AvatarVideoTrack:
    return _cached(state, key, media, AvatarVideoTrack)

"""aiortc 1.16.0, patched for drawn avatars sent from a machine that several streams share.

Upstream bugs: every frame is handed to a thread pool to encode and back (two thread hand-offs
that cost more than the encode); a relay subscriber's queue is unbounded, so a sender that falls
behind sends video seconds late; the VP8 codec is re-opened (a keyframe) on each 10 % move of
the browser's bandwidth estimate. The rest tunes aiortc for this app: VP8 options for drawn
pictures, 60 ms microphone packets, and the playout-delay header extension it does not know.
Measurements behind each: docs/performance.md.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from lib.media.silence import SilenceRun, audio_level_dbov
from lib.media.video_rate import MIN_CHANGE, VideoRate
from lib.patches.patch import Patch

DISTRIBUTION: Final = "aiortc"
CHECKED: Final = "1.16.0"
# VP8 for drawn frames: no temporal denoiser (it blurs a mouth starting to open into the last
# frame), libvpx's fastest real-time search, unchanged macroblocks skipped (`static-thresh` is a
# sum of differences per 16x16 block: a moving lip is far above 100), one thread per encoder
# (threads cost more CPU in total, and the streams share two cores).
VP8_OPTIONS: Final[dict[str, str]] = {
    "noise-sensitivity": "0",
    "cpu-used": "-16",
    "static-thresh": "100",
}
VP8_THREADS: Final = 1
# Chrome picks its Opus frame size from `ptime` in our answers: a third as many packets, each a
# hop to aiortc's decoder thread and back; at most 40 ms later to the voice server, which waits
# 500 ms of silence before it acts.
MIC_PTIME_MS: Final = 60
RELAY_VIDEO_FRAMES: Final = 2
# The playout-delay RTP header extension (a webrtc.org experiment Chrome implements): the sender
# bounds the receiver's video playout delay, in 10 ms units. Min 0 lets Chrome show each frame
# as soon as it is decoded; max 0 stops it holding video back to line it up with the voice.
PLAYOUT_DELAY_URI: Final = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
PLAYOUT_DELAY_MS: Final = (0, 0)
_applied: set[str] = set()


def lean_vp8_encoder() -> None:
    """aiortc's senders encode VP8 with `VP8_OPTIONS`, at the rate `VideoRate` keeps for the
    frame size (read against aiortc's Vp8Encoder, which keeps a codec it finds open when size
    and bitrate still match)."""
    if "vp8" in _applied:
        return
    import aiortc.rtcrtpsender
    import av
    from aiortc.codecs.vpx import DEFAULT_BITRATE, Vp8Encoder

    class DrawnVp8Encoder(Vp8Encoder):
        def __init__(self) -> None:
            super().__init__()
            self.options: dict[str, str] = {}  # what the current codec was opened with
            self.opened: Any = None  # the codec this class opened (aiortc's would replace it)
            self.video_rate: VideoRate | None = None  # from the first frame's size
            self.early_estimates: list[int] = []  # REMBs that came before the first frame

        # aiortc's sender writes each REMB estimate here; its encode() reads the rate back.
        @property
        def target_bitrate(self) -> int:
            return self.video_rate.rate if self.video_rate else DEFAULT_BITRATE

        @target_bitrate.setter
        def target_bitrate(self, bps: int) -> None:
            if self.video_rate is None:
                self.early_estimates.append(bps)
            else:
                self.video_rate.on_estimate(bps, time.monotonic())

        def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
            if frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            now = time.monotonic()
            if self.video_rate is None:
                self.video_rate = VideoRate.for_size(frame.width, frame.height, now)
                for bps in self.early_estimates:
                    self.video_rate.on_estimate(bps, now)
            elif self.codec is not None and (frame.width, frame.height) != (
                self.codec.width,
                self.codec.height,
            ):
                self.video_rate.resize(frame.width, frame.height, now)
            codec, rate = self.codec, self.video_rate.rate
            if (
                codec is None
                or (frame.width, frame.height) != (codec.width, codec.height)
                or abs(rate - (codec.bit_rate or 0)) / (codec.bit_rate or 1) > MIN_CHANGE
            ):
                codec = av.CodecContext.create("libvpx", "w")
                codec.width, codec.height = frame.width, frame.height
                codec.bit_rate = rate
                codec.pix_fmt = "yuv420p"
                codec.gop_size = 3000
                codec.qmin, codec.qmax = 2, 56
                self.options = {
                    "bufsize": str(rate),
                    "deadline": "realtime",
                    "lag-in-frames": "0",
                    "minrate": str(rate),
                    "maxrate": str(rate),
                    "overshoot-pct": "15",
                    "partitions": "0",
                    "undershoot-pct": "100",
                    **VP8_OPTIONS,
                }
                codec.options = dict(self.options)  # the codec consumes its copy when opened
                codec.thread_count = VP8_THREADS
                self.codec = self.opened = codec
            result: tuple[list[bytes], int] = super().encode(frame, force_keyframe)
            return result

    original = aiortc.codecs.get_encoder

    def get_encoder(codec: Any) -> Any:
        if str(codec.mimeType).lower() == "video/vp8":
            return DrawnVp8Encoder()
        return original(codec)

    setattr(aiortc.rtcrtpsender, "get_encoder", get_encoder)  # noqa: B010 - not re-exported
    _applied.add("vp8")


def encode_on_the_media_loop() -> None:
    """Senders encode on the media loop (PyAV releases the GIL while libvpx and libopus work)
    instead of in the loop's thread pool, and reuse a settled encoder's silence packet
    (`SilenceRun`). Read against RTCRtpSender._next_encoded_frame and its private fields."""
    if "inline" in _applied:
        return
    import aiortc.rtcrtpsender as rtpsender
    from av import AudioFrame
    from av.frame import Frame

    async def next_encoded_frame(self: Any, codec: Any) -> Any:
        data = await self._RTCRtpSender__track.recv()
        if not self._enabled:
            return None  # still read, so frames do not pile up; not encoded
        if self._RTCRtpSender__encoder is None:
            # Looked up at each use: `lean_vp8_encoder` replaces it in the module.
            self._RTCRtpSender__encoder = vars(rtpsender)["get_encoder"](codec)
        encoder = self._RTCRtpSender__encoder
        audio_level: Any = None  # typed int by aiortc, which passes None for video too
        if isinstance(data, AudioFrame):
            silence: SilenceRun = self.__dict__.setdefault("avatarlab_silence", SilenceRun())
            audio_level = audio_level_dbov(data)
            cached = silence.next(data, audio_level)
            if cached is not None:
                return rtpsender.RTCEncodedFrame(*cached)
            payloads, timestamp = silence.encode(encoder, data)
        elif isinstance(data, Frame):
            force_keyframe = self._RTCRtpSender__force_keyframe
            self._RTCRtpSender__force_keyframe = False
            payloads, timestamp = encoder.encode(data, force_keyframe)
        else:
            payloads, timestamp = encoder.pack(data)
        if not payloads or timestamp is None:
            return None
        return rtpsender.RTCEncodedFrame(payloads, timestamp, audio_level)

    rtpsender.RTCRtpSender._next_encoded_frame = next_encoded_frame  # type: ignore[method-assign]
    _applied.add("inline")


def longer_mic_packets() -> None:
    """Ask browsers for MIC_PTIME_MS microphone packets: aiortc's answers copy their codec
    parameters from these capabilities. Our own sending keeps 20 ms."""
    import aiortc.codecs

    for codec in aiortc.codecs.CODECS["audio"]:
        if codec.mimeType.lower() == "audio/opus":
            codec.parameters["ptime"] = MIC_PTIME_MS


class NewestFrames(asyncio.Queue[Any]):
    """A queue that keeps the newest `maxsize` items: a put on a full queue drops the oldest.
    The end-of-stream marker (None) is always kept, so a reader still learns the track ended."""

    def put_nowait(self, item: Any) -> None:
        while self.full():
            self.get_nowait()
        super().put_nowait(item)


def bounded_video_relay() -> None:
    """Video subscribers of a MediaRelay (streamlit-webrtc sends every track through one) get a
    queue of the newest RELAY_VIDEO_FRAMES: a sender that falls behind skips frames instead of
    drifting behind the voice. Audio keeps aiortc's queue: it must not skip. Read against
    RelayStreamTrack._queue and the buffered proxies."""
    if "relay" in _applied:
        return
    from aiortc.contrib.media import MediaRelay

    original = MediaRelay.subscribe

    def subscribe(self: Any, track: Any, buffered: bool = True) -> Any:
        proxy = original(self, track, buffered)
        if buffered and track.kind == "video":
            setattr(proxy, "_queue", NewestFrames(maxsize=RELAY_VIDEO_FRAMES))  # noqa: B010
        return proxy

    MediaRelay.subscribe = subscribe  # type: ignore[method-assign]
    _applied.add("relay")


def playout_delay_payload(min_ms: int, max_ms: int) -> bytes:
    """Two 12-bit fields, min then max, in 10 ms units (values above 40.95 s are clamped)."""
    lo, hi = (min(4095, max(0, round(ms / 10))) for ms in (min_ms, max_ms))
    return bytes([lo >> 4, ((lo & 0xF) << 4) | (hi >> 8), hi & 0xFF])


def prompt_video_playout() -> None:
    """Video senders carry PLAYOUT_DELAY_MS when the browser offers the extension: it is added
    to the video header extensions aiortc negotiates and written into every video packet of a
    sender that negotiated it. Read against codecs.HEADER_EXTENSIONS and
    rtp.HeaderExtensionsMap."""
    if "playout" in _applied:
        return
    import aiortc.codecs
    from aiortc import rtp
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters

    video = aiortc.codecs.HEADER_EXTENSIONS["video"]
    if not any(x.uri == PLAYOUT_DELAY_URI for x in video):
        # The id is only used in offers aiortc makes; answers take the browser's id.
        video.append(RTCRtpHeaderExtensionParameters(id=5, uri=PLAYOUT_DELAY_URI))
    payload = playout_delay_payload(*PLAYOUT_DELAY_MS)
    configure, pack_values = rtp.HeaderExtensionsMap.configure, rtp.HeaderExtensionsMap.set

    def configure_ids(self: Any, parameters: Any) -> None:
        configure(self, parameters)
        ids = [x.id for x in parameters.headerExtensions if x.uri == PLAYOUT_DELAY_URI]
        self.avatarlab_playout_delay_id = ids[0] if ids else None

    def pack_with_delay(self: Any, values: Any) -> tuple[int, bytes]:
        profile, data = pack_values(self, values)
        ext_id = getattr(self, "avatarlab_playout_delay_id", None)
        if ext_id is None:
            return profile, data
        extensions = list(rtp.unpack_header_extensions(profile, data))
        return rtp.pack_header_extensions([*extensions, (ext_id, payload)])

    rtp.HeaderExtensionsMap.configure = configure_ids  # type: ignore[method-assign]
    rtp.HeaderExtensionsMap.set = pack_with_delay  # type: ignore[method-assign]
    _applied.add("playout")


PATCHES: Final = (
    Patch("VP8 tuned for drawn frames", DISTRIBUTION, CHECKED, lean_vp8_encoder),
    Patch("encoding on the media loop", DISTRIBUTION, CHECKED, encode_on_the_media_loop),
    Patch("60 ms microphone packets", DISTRIBUTION, CHECKED, longer_mic_packets),
    Patch("newest-frames video relay", DISTRIBUTION, CHECKED, bounded_video_relay),
    Patch("prompt video playout", DISTRIBUTION, CHECKED, prompt_video_playout),
)

"""streamlit-webrtc settings shared by the pages."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from typing import Any

import numpy as np

from lib.video_rate import MIN_CHANGE, VideoRate
from lib.webrtc_frontend import serve_single_start_frontend

log = logging.getLogger(__name__)
_patched = False

# No STUN/TURN: media stays on this machine or the LAN, and without this streamlit-webrtc
# would inject Google's STUN server, which is unreachable offline and slows ICE gathering.
RTC_CONFIGURATION: dict[str, Any] = {"iceServers": []}
# The avatar's <video> and <audio> in the pages: plays by itself, inline, no controls.
VIDEO_HTML_ATTRS: dict[str, Any] = {
    "autoPlay": True,
    "playsInline": True,
    "controls": False,
    "style": {"width": "100%", "borderRadius": "12px"},
}
AUDIO_HTML_ATTRS: dict[str, Any] = {"autoPlay": True, "muted": False}


def prepare() -> None:
    """What every page with a streamer calls first."""
    serve_single_start_frontend()
    allow_loopback_ice()
    patient_consent_checks()
    ignore_misread_navigation()
    lean_vp8_encoder()
    encode_on_the_media_loop()
    longer_mic_packets()
    bounded_video_relay()
    prompt_video_playout()


def allow_loopback_ice() -> None:
    """aioice never offers 127.0.0.1, so in a loopback-only sandbox ICE fails. Offer it in
    addition to the real host addresses (harmless for remote browsers: that pair just fails).
    Pinned aioice==0.13.0 is what this patch was checked against."""
    global _patched
    if _patched:
        return
    import aioice.ice

    original = aioice.ice.get_host_addresses

    def with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses: list[str] = list(original(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
        if use_ipv4 and "127.0.0.1" not in addresses:
            addresses.append("127.0.0.1")
        return addresses

    aioice.ice.get_host_addresses = with_loopback
    _patched = True


# A consent check (RFC 7675) retransmits as other STUN requests do, 0.5, 1 and 2 s apart, and
# waits 7.5 s in all for its answer; aioice sends one request and gives up after 0.5 s.
CONSENT_RETRANSMISSIONS = 3
_consent_patched = False


def patient_consent_checks() -> None:
    """aioice re-checks the browser's consent every ~5 s with a single request and a 0.5 s
    timeout, and ends the connection after 6 checks in a row that timed out. A browser on a
    busy machine answers late or not at all while it keeps streaming: in a 4-stream soak on
    2 cores answered checks took 0.15-0.7 s, whole runs of checks went unanswered while the
    tab's microphone packets kept coming, and every stream was torn down and re-connected 6-9
    times in 3 minutes, each time with ~10 s of frozen video.

    Here a check retransmits and waits 7.5 s for its answer, and a check that got none does
    not count against the browser if it sent us packets meanwhile (RFC 7675 asks for a STUN
    answer; a browser that is still sending on the connection plainly still wants it). A
    browser that went silent loses the connection after six such checks (~75 s; a closed tab
    ends it at once, through DTLS and the page lifecycle). Checked against the pinned
    aioice==0.13.0 (Connection.query_consent, data_received and the fields they use)."""
    global _consent_patched
    if _consent_patched:
        return
    import random

    import aioice.ice
    from aioice import stun

    original_data_received = aioice.ice.Connection.data_received

    def data_received(self: Any, data: bytes, component: int) -> None:
        self.avatarlab_heard_at = time.monotonic()
        original_data_received(self, data, component)

    async def query_consent(self: Any) -> None:
        assert self.remote_password is not None
        failures = 0
        while True:
            await asyncio.sleep(aioice.ice.CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))
            for pair in self._nominated.values():
                request = self.build_request(pair, nominate=False)
                asked_at = time.monotonic()
                try:
                    await pair.protocol.request(
                        request,
                        pair.remote_addr,
                        integrity_key=self.remote_password.encode("utf8"),
                        retransmissions=CONSENT_RETRANSMISSIONS,
                    )
                    failures = 0
                except stun.TransactionError:
                    if getattr(self, "avatarlab_heard_at", 0.0) >= asked_at:
                        log.debug("ICE consent check unanswered, but the browser is sending")
                        failures = 0
                        continue
                    failures += 1
                    log.info("ICE consent check %d in a row went unanswered", failures)
                if failures >= aioice.ice.CONSENT_FAILURES:
                    log.warning("ICE consent expired: the browser stopped answering")
                    self._query_consent_task = None
                    await self.close()
                    return

    aioice.ice.Connection.data_received = data_received  # type: ignore[method-assign]
    aioice.ice.Connection.query_consent = query_consent  # type: ignore[method-assign]
    _consent_patched = True


_nav_patched = False


def ignore_misread_navigation() -> None:
    """streamlit-webrtc stops its worker and cached tracks when it thinks the user left the
    page, by comparing the page hash of the run that created them with the session's current
    one. Under st.navigation those two differ while the user stays (the default page is
    reached at "/"), so media stopped at a random rerun — the video froze mid-session. Page
    leave is handled by `lib.page_lifecycle`, and a closed tab still ends the session through
    the observer's other trigger (session shutdown); so the hash check is turned off.
    Checked against the pinned streamlit-webrtc==0.79.0."""
    global _nav_patched
    if _nav_patched:
        return
    from streamlit_webrtc.shutdown import SessionShutdownObserver

    SessionShutdownObserver._resolve_initial_page_script_hash = staticmethod(  # type: ignore[method-assign]
        lambda app_session: ""
    )
    _nav_patched = True


# aiortc's VP8 options, but for frames that are drawn, not filmed: no temporal denoiser (it
# only blurs small real changes, like a mouth starting to open, into the previous frame),
# libvpx's fastest real-time search, and macroblocks that did not change (the backdrop, most of
# the face) skipped instead of re-coded, on one thread (threads cost more CPU in total, and four
# streams share two cores). Measured on 854x480 talking-avatar frames (yuv420p in, 600 kbps):
# 2.02 → 0.95 ms of CPU a frame; PSNR 47.0 dB overall, 42.6 dB in the mouth box either way
# (`static-thresh` 100 is a sum of differences per 16x16 block: a moving lip is far above it).
VP8_OPTIONS: dict[str, str] = {"noise-sensitivity": "0", "cpu-used": "-16", "static-thresh": "100"}
VP8_THREADS = 1
_vp8_patched = False


def lean_vp8_encoder() -> None:
    """Have aiortc's senders use `VP8_OPTIONS`. Checked against the pinned aiortc==1.16.0: its
    encoder keeps a codec it finds open when size and bitrate still match."""
    global _vp8_patched
    if _vp8_patched:
        return
    import aiortc.codecs
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
    _vp8_patched = True


MIN_AUDIO_LEVEL = -127  # dBov, RFC 6465: what digital silence measures
OPUS_CLOCK = 48000  # RTP clock of Opus, whatever the input rate
# Silent frames encoded before the encoder's output is reused: by then its packets are pure
# silence (they decode to zeros), and speech after the run decodes as loud, 20 ms by 20 ms
# within 1 dB, as when every silent frame is encoded (tests/unit/test_webrtc.py).
SILENCE_SETTLE_FRAMES = 10


def audio_level_dbov(frame: Any) -> int:
    """RFC 6465 Appendix A, computed as aiortc's `compute_audio_level_dbov` does (same bytes,
    same rounding), with numpy instead of a Python loop over every sample (~0.07 ms a frame,
    50 frames a second per stream, on the media loop)."""
    samples = np.frombuffer(frame.planes[0], dtype=np.int16).astype(np.float64)
    rms = math.sqrt(float(np.dot(samples, samples)) / (frame.samples * 32767 * 32767))
    if rms <= 0:
        return MIN_AUDIO_LEVEL
    return round(min(0.0, max(float(MIN_AUDIO_LEVEL), 20 * math.log10(rms))))


class SilenceRun:
    """An audio sender's run of digitally silent frames. The avatar is silent most of the
    time, and each silent 20 ms cost an Opus encode (~0.2 ms on the media loop, 50 a second
    per stream). Once SILENCE_SETTLE_FRAMES silent frames have been encoded, the last packet
    is sent again for each further silent frame, its timestamp advanced by the frame's
    length, and the browser decodes the same silence. The encoder is not fed meanwhile, so
    it must not see the gap: PyAV's resampler in front of it stamps the first frame after a
    jump in pts by its own sample count. Frames reach it with pts less the skipped time, and
    its timestamps come back plus the skipped samples."""

    def __init__(self) -> None:
        self.length = 0  # silent frames in a row, this one included
        self.timestamp: int | None = None  # of the last packet sent
        self.packet: list[bytes] | None = None  # the settled encoder's silence
        self.skipped_pts = 0  # time not shown to the encoder, in the frames' time base
        self.skipped_rtp = 0  # the same, in the RTP clock

    def next(self, frame: Any, level: int) -> tuple[list[bytes], int, int] | None:
        """(payloads, timestamp, level) to send instead of encoding `frame`, or None."""
        if level > MIN_AUDIO_LEVEL or np.frombuffer(frame.planes[0], dtype=np.int16).any():
            self.length, self.packet = 0, None
            return None
        self.length += 1
        if self.packet is None or self.timestamp is None:
            return None
        step = round(frame.samples * OPUS_CLOCK / frame.sample_rate)
        self.timestamp += step
        self.skipped_rtp += step
        self.skipped_pts += round(frame.samples / frame.sample_rate / frame.time_base)
        return self.packet, self.timestamp, level

    def encode(self, encoder: Any, frame: Any) -> tuple[list[bytes], int | None]:
        """Encode `frame` as if the skipped frames had never existed; the packets' timestamp
        on the sender's timeline (aiortc's is None while its resampler buffers)."""
        pts = frame.pts
        if pts is not None:
            frame.pts = pts - self.skipped_pts
        try:
            payloads, timestamp = encoder.encode(frame)
        finally:
            frame.pts = pts  # the frame may be shared (a relay hands it to every subscriber)
        if not payloads or timestamp is None:
            return payloads, timestamp
        self.timestamp = timestamp + self.skipped_rtp
        if self.length >= SILENCE_SETTLE_FRAMES:
            self.packet = payloads
        return payloads, self.timestamp


_inline_patched = False


def encode_on_the_media_loop() -> None:
    """aiortc's senders hand every frame to the loop's default thread pool to encode, and
    await the result: two thread hand-offs per frame (50 audio + 25 video frames a second per
    stream) that cost more than a 0.15 ms Opus or ~1-2 ms VP8 encode. On a loaded machine each
    hand-off waits for a core and the GIL, so a sender spent 7-18 ms per video frame in a
    4-stream soak, and its relay queue skipped frames. Encoding inline on the media loop
    (PyAV releases the GIL while libvpx and libopus work) took that to ~3 ms and cut the app's
    CPU for one 480p Studio stream from 22 % to 18.5-20 % of a core (its /proc CPU time over
    20 s, three runs before and two after; `python -m lib bench avatar`'s app figure is
    noisier: 21.9 → 21.0 %).
    Checked against the pinned aiortc==1.16.0 (RTCRtpSender._next_encoded_frame and its
    private fields); another version keeps aiortc's own code."""
    global _inline_patched
    if _inline_patched:
        return
    import aiortc
    import aiortc.rtcrtpsender as rtpsender
    from av import AudioFrame
    from av.frame import Frame

    if aiortc.__version__ != "1.16.0":
        log.warning("aiortc %s: encoding stays in its thread pool", aiortc.__version__)
        return

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
    _inline_patched = True


MIC_PTIME_MS = 60


def longer_mic_packets() -> None:
    """Ask browsers for 60 ms microphone packets instead of 20 ms: `ptime` in the Opus
    parameters of our SDP answers, from which Chrome picks its Opus frame size (measured in a
    soak: 2880 samples a packet, 17 packets a second instead of 50). Each packet is a hop
    from the media loop to aiortc's decoder thread and back, and a decode; a third as many
    ease a loop that four streams share. The cost is at most 40 ms before the voice server
    hears the end of a phrase, which it only acts on after 500 ms of silence. Our own sending
    is untouched (aiortc's encoder keeps 20 ms). Checked against the pinned aiortc==1.16.0,
    whose answers copy their codec parameters from these capabilities."""
    import aiortc.codecs

    for codec in aiortc.codecs.CODECS["audio"]:
        if codec.mimeType.lower() == "audio/opus":
            codec.parameters["ptime"] = MIC_PTIME_MS


RELAY_VIDEO_FRAMES = 2
_relay_patched = False


class NewestFrames(asyncio.Queue[Any]):
    """A queue that keeps the newest `maxsize` items: a put on a full queue drops the oldest.
    The end-of-stream marker (None) is always kept, so a reader still learns the track ended."""

    def put_nowait(self, item: Any) -> None:
        while self.full():
            self.get_nowait()
        super().put_nowait(item)


def bounded_video_relay() -> None:
    """streamlit-webrtc hands each outgoing track to the browser through aiortc's MediaRelay,
    subscribed with an unbounded queue: when the sender (encode, packetise, send on the
    shared loop) falls behind, video frames pile up there and the picture drifts seconds
    behind the voice (38 frames, 1.5 s, seen in a 4-stream soak). Video subscribers get a
    queue of the newest RELAY_VIDEO_FRAMES instead: a sender that falls behind skips frames,
    one that catches up sends them all. Audio keeps aiortc's queue (it must not skip).
    Checked against the pinned aiortc==1.16.0 (RelayStreamTrack._queue, buffered proxies)."""
    global _relay_patched
    if _relay_patched:
        return
    from aiortc.contrib.media import MediaRelay

    original = MediaRelay.subscribe

    def subscribe(self: Any, track: Any, buffered: bool = True) -> Any:
        proxy = original(self, track, buffered)
        if buffered and track.kind == "video":
            setattr(proxy, "_queue", NewestFrames(maxsize=RELAY_VIDEO_FRAMES))  # noqa: B010
        return proxy

    MediaRelay.subscribe = subscribe  # type: ignore[method-assign]
    _relay_patched = True


# The playout-delay RTP header extension (webrtc.org experiment, used by Chrome and libwebrtc):
# a sender bounds the receiver's video playout delay, in 10 ms units.
PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
# min 0 lets Chrome show each frame as soon as it is decoded; max caps the wait.
PLAYOUT_DELAY_MS = (0, 0)
_playout_patched = False


def playout_delay_payload(min_ms: int, max_ms: int) -> bytes:
    """Two 12-bit fields, min then max, in 10 ms units (values above 40.95 s are clamped)."""
    lo, hi = (min(4095, max(0, round(ms / 10))) for ms in (min_ms, max_ms))
    return bytes([lo >> 4, ((lo & 0xF) << 4) | (hi >> 8), hi & 0xFF])


def prompt_video_playout() -> None:
    """Chrome holds each received video frame in a jitter buffer sized from the arrival
    jitter it has seen (~67 ms on a loaded machine) before showing it, and may hold it longer
    to line it up with the audio. For a talking avatar that is the larger half of
    speak → first mouth movement. Video senders now carry the playout-delay extension when
    the browser offers it (Chrome does), asking Chrome to show frames as soon as they are
    decoded. aiortc does not know the extension: this adds it to the video header extensions
    it negotiates and writes it into every video packet whose sender negotiated it.
    Measured with `python -m lib bench avatar` (A/B, three runs each, browser then still
    running with root's thread priorities): received → shown 58-100 → 8-11 ms, speak → first
    mouth 133-157 → 65-74 ms; with the browser as a user's (`user_chromium`): 20-21 ms and
    90-102 ms. With max 0 Chrome no longer holds the video to line it up with the voice; the
    lips lead it by about the audio jitter buffer less the video's (25-35 ms), well inside
    what viewers notice (ITU-R BT.1359: sound up to ~125 ms after the picture).
    Checked against the pinned aiortc==1.16.0 (codecs.HEADER_EXTENSIONS and
    rtp.HeaderExtensionsMap)."""
    global _playout_patched
    if _playout_patched:
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
    _playout_patched = True


_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


def ice_ufrag(sdp: str) -> str | None:
    """The ICE username fragment of a session description: it names one peer connection's
    ICE session, so two descriptions with different ones belong to different connections."""
    found = _UFRAG.search(sdp)
    return found.group(1) if found else None


def _browser_state(state: Any, key: str) -> Any:
    from streamlit_webrtc.component import compile_state, generate_frontend_component_key

    value = state.get(generate_frontend_component_key(key))
    return compile_state(value) if isinstance(value, dict) else None


def _offer_ufrag(state: Any, key: str) -> str | None:
    from streamlit_webrtc.component import generate_frontend_component_key

    value = state.get(generate_frontend_component_key(key))
    offer = value.get("sdpOffer") if isinstance(value, dict) else None
    return ice_ufrag(str(offer.get("sdp", ""))) if isinstance(offer, dict) else None


def drop_stale_answer(state: Any, key: str) -> bool:
    """Before `webrtc_streamer(key=key)` runs: if the browser now offers a new peer connection
    but the server still holds the worker (and answer) of its previous one, end that worker so
    the new offer gets its own answer. Returns whether it did.

    streamlit-webrtc's frontend restarts right away when a connection drops and the page asks
    to keep playing. If the restart's offer reaches the server before the stop did, the server
    never sees "stopped": it keeps the old worker and sends the old answer to the new
    connection, whose ICE checks then fail after ~15 s before a third attempt works (seen in
    the soak: a stream dropped on a saturated machine came back only after 19-21 s). The
    offer and the worker's remote description are matched by ICE ufrag (aiortc re-serialises
    the SDP). It runs in the page, before the streamer, rather than as a patch of
    streamlit-webrtc's worker reconciliation: that runs after the component call, whose
    arguments would already have carried the stale answer to the browser.
    Checked against the pinned streamlit-webrtc==0.79.0 (its context and `_reset_context`)."""
    from streamlit_webrtc.component import _reset_context

    context = state.get(key)
    if context is None or not hasattr(context, "_get_worker"):
        return False
    worker = context._get_worker()
    pc = getattr(worker, "pc", None)
    answered = pc.remoteDescription if pc is not None else None
    if answered is None:
        return False  # the worker is still taking its offer in
    new, old = _offer_ufrag(state, key), ice_ufrag(answered.sdp)
    if new is None or old is None or new == old:  # nothing offered, or the same connection
        return False
    log.info("%s: the browser offers a new connection; ending the previous one's worker", key)
    _reset_context(context)
    return True


def resync_state(state: Any, key: str) -> bool:
    """Before `webrtc_streamer(key=key)` runs: make the streamer's idea of the browser's state
    (playing / signalling) match the browser's last value again. Returns whether it had to.

    streamlit-webrtc updates that state only in the component's on_change callback, i.e. when
    the browser sends a new value. A context reset (ours in `drop_stale_answer`, or its own
    when a context was not rendered for a run) sets it to "neither playing nor signalling"
    while the browser's value still holds its offer. Its reconciliation then loops with no
    end: it stops the worker because the state says stopped, reruns, makes a new worker from
    the offer still in the value, reruns to send the answer, stops it again... until the
    browser happens to send something. Seen in the soak: 220 workers (each a new peer
    connection and DTLS key) in under a minute while four tabs started, on a machine that
    the loop itself kept saturated. Uses `compile_state`, what the callback itself uses."""
    context = state.get(key)
    wanted = _browser_state(state, key)
    if context is None or not hasattr(context, "_set_state") or wanted is None:
        return False
    if getattr(context, "state", None) == wanted:
        return False
    log.info("%s: the streamer's state disagreed with the browser's; resynced", key)
    context._set_state(wanted)
    return True


def settle_streamer(state: Any, key: str) -> bool:
    """What a page runs right before its `webrtc_streamer(key=key)`: end a worker that
    answered a previous connection, then line the state up with the browser's value.
    Returns whether to draw the streamer stopped for now (`hold_stopped`)."""
    drop_stale_answer(state, key)
    resync_state(state, key)
    return hold_stopped(state, key, time.monotonic())


STUCK_OFFER_S = 6.0  # a loopback connection is up in 1-2 s, 7 s seen on a saturated machine
# The same offer this long without playing: its connection will not come up (see
# `streamer_needs_run`); the browser is asked to start again.
RESTART_AFTER_S = 12.0
RESTART_HOLD_MAX_S = 5.0  # a restart draws the streamer stopped at most this long


def streamer_needs_run(state: Any, key: str, now: float) -> bool:
    """For a live fragment: should the page run in full now (`st.rerun(scope="app")`)?

    streamlit-webrtc hands its SDP answer to the browser in the component's arguments, i.e.
    only in a full run of the page, and asks for one rerun when the answer is ready. When
    that run is cut short by another (fragments rerun every 500 ms), or the answer came after
    `process_offer`'s 10 s timeout, no further full run comes on a page nobody clicks: the
    browser waits for its answer forever, a spinner where the avatar should be (seen in 3 of
    8 four-stream soaks on a saturated machine). So after STUCK_OFFER_S of offering without
    playing, the page runs in full (at most every STUCK_OFFER_S): it renders the answer it
    still holds, or makes the worker that a cut-short run never made.

    That cannot help a browser that took the wrong answer, whose connection never comes up
    (seen in soaks: `setRemoteDescription` with another offer's answer, ICE checking for
    30 s, failed). The frontend's start racing itself into several connections did that,
    now fixed where it happened (lib.webrtc_frontend); this stays as the net for anything
    else that leaves a browser on a dead offer. So after RESTART_AFTER_S on the same offer
    the streamer is restarted: drawn stopped until the browser has closed it and the server
    has let go of its worker (`hold_stopped`), then drawn playing again, by runs this
    function asks for."""
    restart, stamp = f"{key}__restart", f"{key}__offering"
    if restart in state:
        asked = state.get(f"{restart}_asked", 0.0)
        # Run once to draw it stopped, then every second until a run draws it playing.
        if now - asked >= 1.0:
            state[f"{restart}_asked"] = now
            return True
        return False
    browser = _browser_state(state, key)
    if browser is None or not browser.signalling or browser.playing:
        state.pop(stamp, None)
        return False
    ufrag = _offer_ufrag(state, key)
    since, ufrag_then, last = state.get(stamp) or (now, ufrag, now)
    if ufrag != ufrag_then:
        since, last = now, now  # a new connection gets its own grace period
    if now - since >= RESTART_AFTER_S:
        log.info(
            "%s: no connection %.0f s after the offer; restarting the streamer", key, now - since
        )
        state.pop(stamp, None)
        state[restart] = now
        state[f"{restart}_asked"] = now
        return True
    if now - last >= STUCK_OFFER_S:
        log.info(
            "%s: the browser has waited %.0f s for its answer; running the page", key, now - since
        )
        state[stamp] = (since, ufrag, now)
        return True
    state[stamp] = (since, ufrag, last)
    return False


def hold_stopped(state: Any, key: str, now: float) -> bool:
    """For `settle_streamer`: True while a restart (see `streamer_needs_run`) wants
    it drawn stopped, i.e. until the browser has stopped and no worker or answer of the old
    connection is left (streamlit-webrtc clears those in the run after the browser stops),
    or RESTART_HOLD_MAX_S has passed. The run after that draws it playing, with nothing of
    the old connection in its arguments: a single change, so the browser starts once."""
    restart = f"{key}__restart"
    since = state.get(restart)
    if since is None:
        return False
    browser = _browser_state(state, key)
    context = state.get(key)
    worker = (
        context._get_worker() if context is not None and hasattr(context, "_get_worker") else None
    )
    idle = worker is None and not getattr(context, "_sdp_answer_json", None)
    stopped = browser is None or not (browser.playing or browser.signalling)
    if (stopped and idle) or now - since > RESTART_HOLD_MAX_S:
        state.pop(restart, None)
        state.pop(f"{restart}_asked", None)
        return False
    return True

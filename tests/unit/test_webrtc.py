import fractions
from typing import ClassVar

import av
import numpy as np


def test_vp8_senders_encode_drawn_frames_without_the_denoiser():
    import aiortc.rtcrtpsender
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from lib.patches.aiortc import VP8_OPTIONS, lean_vp8_encoder

    lean_vp8_encoder()
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, payloadType=111)
    encoder = aiortc.rtcrtpsender.get_encoder(vp8)
    assert type(encoder).__name__ == "DrawnVp8Encoder"
    assert type(aiortc.rtcrtpsender.get_encoder(opus)).__name__ == "OpusEncoder"

    frame = av.VideoFrame.from_ndarray(np.full((480, 854, 3), 90, np.uint8), format="rgb24")
    frame.pts, frame.time_base = 0, fractions.Fraction(1, 90000)
    payloads, _ = encoder.encode(frame, force_keyframe=True)
    assert payloads and encoder.codec is encoder.opened
    assert {k: encoder.options[k] for k in VP8_OPTIONS} == VP8_OPTIONS
    assert encoder.options["noise-sensitivity"] == "0"
    codec = encoder.codec
    frame.pts = 3600
    assert encoder.encode(frame)[0] is not None and encoder.codec is codec  # kept open

    assert encoder.options["maxrate"] == "614880"  # the rate for 854x480 (lib.media.video_rate)
    encoder.target_bitrate = 300_000  # Chrome's first estimate, still climbing: not followed
    frame.pts = 7200
    encoder.encode(frame)
    assert encoder.codec is codec
    encoder.target_bitrate = 260_000  # a cut for overuse: reopened at it, same options
    frame.pts = 10800
    encoder.encode(frame)
    assert encoder.codec is not codec and encoder.codec is encoder.opened
    assert encoder.options["maxrate"] == "260000" and encoder.options["cpu-used"] == "-16"


def test_vp8_skipping_still_blocks_keeps_a_small_real_change():
    """`static-thresh` skips blocks that did not change; a lip parting (a few darker pixels on
    an otherwise identical frame) must still reach the decoder, at once."""
    import aiortc.rtcrtpsender
    from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from lib.patches.aiortc import lean_vp8_encoder

    lean_vp8_encoder()
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    encoder = aiortc.rtcrtpsender.get_encoder(vp8)
    decoder = Vp8Decoder()
    rng = np.random.default_rng(1)
    still = (rng.random((480, 854, 3)) * 40 + 150).astype(np.uint8)  # textured, like the art
    parted = still.copy()
    # The first frame of lips parting can be this small: 4x2 px, 50 levels darker.
    parted[250:252, 420:424] = still[250:252, 420:424] - 50

    def roundtrip(rgb: np.ndarray, i: int) -> np.ndarray:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = i * 3600, fractions.Fraction(1, 90000)
        payloads, ts = encoder.encode(frame, force_keyframe=i == 0)
        data = b"".join(vp8_depayload(p) for p in payloads)
        out = decoder.decode(JitterFrame(data=data, timestamp=ts))
        return out[-1].to_ndarray(format="rgb24").astype(np.float32)

    for i in range(6):
        before = roundtrip(still, i)
    after = roundtrip(parted, 6)
    patch = (slice(250, 252), slice(420, 424))
    assert before[patch].mean() - after[patch].mean() > 25  # the patch is there, darker
    assert np.abs(after[300:400, 100:300] - before[300:400, 100:300]).mean() < 2  # rest kept


def _sdp(ufrag: str) -> str:
    media = "m=audio 9 UDP/TLS/RTP/SAVPF 111"
    return f"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n{media}\r\na=ice-ufrag:{ufrag}\r\n"


class _Ctx:
    """streamlit-webrtc's WebRtcStreamerContext, the parts `drop_stale_answer` touches."""

    def __init__(self, worker: object) -> None:
        self.worker: object = worker
        self._sdp_answer_json: str | None = '{"sdp": "old answer"}'
        self._is_sdp_answer_sent = True
        self._component_value_snapshot = None
        self.stopped = False

    def _get_worker(self) -> object:
        return self.worker

    def _set_worker(self, worker: object) -> None:
        self.worker = worker

    def _set_state(self, state: object) -> None:
        self.state = state


class _Worker:
    def __init__(self, remote_ufrag: str | None) -> None:
        from types import SimpleNamespace

        remote = None if remote_ufrag is None else SimpleNamespace(sdp=_sdp(remote_ufrag))
        self.pc = SimpleNamespace(remoteDescription=remote)
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def _state(ctx: _Ctx, offer_ufrag: str | None) -> dict:
    from streamlit_webrtc.component import generate_frontend_component_key

    value = {"playing": False, "sdpOffer": None}
    if offer_ufrag is not None:
        value["sdpOffer"] = {"type": "offer", "sdp": _sdp(offer_ufrag)}
    return {"stage": ctx, generate_frontend_component_key("stage"): value}


def test_a_new_offer_ends_the_worker_that_answered_the_previous_connection():
    from lib.ui.streamer import drop_stale_answer, ice_ufrag

    assert ice_ufrag(_sdp("Ab3+")) == "Ab3+" and ice_ufrag("v=0\r\n") is None
    worker = _Worker("old1")
    ctx = _Ctx(worker)
    assert drop_stale_answer(_state(ctx, "new2"), "stage")
    assert worker.stopped and ctx.worker is None  # the old answer is not sent again
    assert ctx._sdp_answer_json is None and not ctx._is_sdp_answer_sent


def test_the_current_connection_and_a_worker_still_starting_are_left_alone():
    from lib.ui.streamer import drop_stale_answer

    same = _Ctx(_Worker("same"))
    assert not drop_stale_answer(_state(same, "same"), "stage") and same.worker is not None
    starting = _Ctx(_Worker(None))  # offer received, remote description not set yet
    assert not drop_stale_answer(_state(starting, "new"), "stage")
    stopped = _Ctx(_Worker("old"))  # the browser stopped: streamlit-webrtc's own path
    assert not drop_stale_answer(_state(stopped, None), "stage")
    assert not drop_stale_answer({}, "stage")  # never mounted


class _AnsweringWorker:
    """What streamlit-webrtc's reconciliation uses of a worker: it takes the offer, has an
    answer, and can be stopped."""

    made: ClassVar[list["_AnsweringWorker"]] = []  # the context holds its worker by weak reference

    def __init__(self) -> None:
        from types import SimpleNamespace

        _AnsweringWorker.made.append(self)
        self.local_description = SimpleNamespace(sdp=_sdp(f"ans{len(self.made)}"), type="answer")
        self.pc = SimpleNamespace(remoteDescription=None)
        self.stopped = False

    def process_offer(self, sdp: str, type_: str, timeout: float) -> None:
        from types import SimpleNamespace

        self.pc.remoteDescription = SimpleNamespace(sdp=sdp)

    def stop(self) -> None:
        self.stopped = True


def _runs(monkeypatch, guard: bool, n: int = 12) -> int:
    """`n` script runs of a page whose context was just reset while the browser's value
    still holds its offer, through the real streamlit-webrtc reconciliation; returns how
    many workers it made."""
    import streamlit_webrtc.component as component
    from streamlit_webrtc.component import (
        WebRtcStreamerContext,
        WebRtcStreamerState,
        _handle_worker_lifecycle,
    )

    from lib.ui.streamer import settle_streamer

    monkeypatch.setattr(component, "rerun", lambda: None)  # the next run is the loop below
    _AnsweringWorker.made = []
    state = _state(_Ctx(None), "offer1")  # the browser's value: its offer, not yet playing
    context = WebRtcStreamerContext(
        worker=None, state=WebRtcStreamerState(playing=False, signalling=False)
    )
    state["stage"] = context
    value = state[component.generate_frontend_component_key("stage")]
    for _ in range(n):
        if guard:
            settle_streamer(state, "stage")
        if context._sdp_answer_json:  # what the context lookup does at the start of a run
            context._is_sdp_answer_sent = True
        _handle_worker_lifecycle(context, "stage", value["sdpOffer"], make_worker=_AnsweringWorker)
    return len(_AnsweringWorker.made)


def test_a_reset_context_with_the_offer_still_pending_gets_one_worker_not_a_loop(monkeypatch):
    assert _runs(monkeypatch, guard=False) >= 5  # the library alone: a new worker every 2 runs
    assert _runs(monkeypatch, guard=True) == 1


def test_resync_leaves_a_matching_state_alone():
    from streamlit_webrtc.component import WebRtcStreamerContext, WebRtcStreamerState

    from lib.ui.streamer import resync_state

    state = _state(_Ctx(None), "o")
    context = WebRtcStreamerContext(
        worker=None, state=WebRtcStreamerState(playing=False, signalling=True)
    )
    state["stage"] = context
    assert not resync_state(state, "stage")
    assert not resync_state({}, "stage")  # never mounted
    context._set_state(WebRtcStreamerState(playing=False, signalling=False))
    assert resync_state(state, "stage") and context.state.signalling


def test_video_relayed_to_the_browser_keeps_only_the_newest_frames():
    """A sender that falls behind skips video frames instead of piling them up (the relay's
    own queue is unbounded); audio is relayed whole; the end of a track still gets through."""
    import asyncio

    from aiortc.contrib.media import MediaRelay
    from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, VideoStreamTrack

    from lib.patches.aiortc import RELAY_VIDEO_FRAMES, bounded_video_relay

    bounded_video_relay()

    class Burst(VideoStreamTrack):
        """Ten frames at once, then the end."""

        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        async def recv(self):  # type: ignore[override]
            self.n += 1
            if self.n > 10:
                raise MediaStreamError
            frame = av.VideoFrame(16, 16, "yuv420p")
            frame.pts = self.n
            return frame

    async def go() -> tuple[list[int], bool, int]:
        relay = MediaRelay()
        video = relay.subscribe(Burst())
        audio = relay.subscribe(AudioStreamTrack())
        got = [(await video.recv()).pts]  # starts the relay's reader: it drains the burst
        ended = False
        while True:
            try:
                got.append((await video.recv()).pts)
            except MediaStreamError:
                ended = True
                break
        for _ in range(5):
            await audio.recv()
        await asyncio.sleep(0.1)  # the audio source runs on its 20 ms clock meanwhile
        queued = audio._queue.qsize()
        audio.stop()
        return got, ended, queued

    got, ended, queued = asyncio.run(go())
    # What fits beside the end marker: the newest frames of the burst, in order; then the end.
    assert got == list(range(11 - (RELAY_VIDEO_FRAMES - 1), 11)), got
    assert ended
    assert queued >= 3  # audio is not trimmed


def test_senders_encode_on_the_media_loop_and_still_honour_keyframe_requests():
    """No thread hand-off per frame: the encoder runs on the loop's own thread, a keyframe
    request reaches the next encode, and a disabled sender reads frames without encoding."""
    import asyncio
    import threading
    from types import SimpleNamespace

    import aiortc.rtcrtpsender
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from lib.patches.aiortc import encode_on_the_media_loop, lean_vp8_encoder

    lean_vp8_encoder()
    encode_on_the_media_loop()
    calls: list[tuple[str, int, bool]] = []
    real_get_encoder = aiortc.rtcrtpsender.get_encoder

    def spying_get_encoder(codec):  # type: ignore[no-untyped-def]
        encoder = real_get_encoder(codec)
        encode = encoder.encode

        def spy(frame, force_keyframe=False):  # type: ignore[no-untyped-def]
            calls.append((codec.mimeType, threading.get_ident(), force_keyframe))
            return encode(frame, force_keyframe)

        encoder.encode = spy
        return encoder

    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    opus = RTCRtpCodecParameters(
        mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111
    )

    async def go() -> tuple[int, list[object]]:
        transport = SimpleNamespace(state="new")  # what the constructor looks at
        video = aiortc.rtcrtpsender.RTCRtpSender(VideoStreamTrack(), transport)  # type: ignore[arg-type]
        audio = aiortc.rtcrtpsender.RTCRtpSender(AudioStreamTrack(), transport)  # type: ignore[arg-type]
        out = [await video._next_encoded_frame(vp8)]
        video._send_keyframe()  # what a PLI from the browser does
        out.append(await video._next_encoded_frame(vp8))
        first_audio = None
        for _ in range(5):  # aiortc resamples to 20 ms at 48 kHz: the first frame may not fill one
            first_audio = first_audio or await audio._next_encoded_frame(opus)
        out.append(first_audio)
        audio._enabled = False
        out.append(await audio._next_encoded_frame(opus))
        return threading.get_ident(), out

    aiortc.rtcrtpsender.get_encoder = spying_get_encoder  # type: ignore[attr-defined]
    try:
        loop_thread, frames = asyncio.run(go())
    finally:
        aiortc.rtcrtpsender.get_encoder = real_get_encoder  # type: ignore[attr-defined]
    assert {(kind, tid == loop_thread) for kind, tid, _ in calls} == {
        ("video/VP8", True),
        ("audio/opus", True),
    }
    assert [force for kind, _, force in calls if kind == "video/VP8"] == [False, True]
    assert all(f is not None and f.payloads for f in frames[:3])  # type: ignore[attr-defined]
    assert frames[2].audio_level is not None  # type: ignore[attr-defined]
    assert frames[3] is None  # disabled: read, not encoded


def test_consent_checks_wait_for_a_late_answer_and_still_expire_when_none_comes(monkeypatch):
    """A browser that answers consent checks late, or sends packets instead of answering,
    keeps its connection; one that goes silent loses it after CONSENT_FAILURES checks. The
    STUN exchange is faked at the socket edge: each request either gets its answer after
    `answer_after` seconds or never (time scaled down 250 times)."""
    import asyncio

    import aioice.ice
    from aioice import stun

    from lib.patches.aioice import CONSENT_RETRANSMISSIONS, patient_consent_checks

    patient_consent_checks()
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.01)

    class Protocol:
        def __init__(self, answer_after: float | None) -> None:
            self.answer_after = answer_after
            self.retransmissions: list[int | None] = []

        async def request(self, request, addr, integrity_key=None, retransmissions=None):  # type: ignore[no-untyped-def]
            self.retransmissions.append(retransmissions)
            # aioice waits 0.5 s, then 1, 2, 4 s between retransmissions: 7.5 s in all for 3.
            waits = 0.5 * (2 ** ((retransmissions or 0) + 1) - 1)
            await asyncio.sleep(min(waits, self.answer_after or waits) / 250)
            if self.answer_after is None or self.answer_after > waits:
                raise stun.TransactionTimeout()
            return None, addr

    class Connection:
        def __init__(self, protocol: Protocol) -> None:
            self.remote_password = "pw"
            self._nominated = {1: type("Pair", (), {"protocol": protocol, "remote_addr": ("x", 1)})}
            self._query_consent_task = "running"
            self.closed = False

        def build_request(self, pair, nominate):  # type: ignore[no-untyped-def]
            return object()

        async def close(self) -> None:
            self.closed = True

    async def go(
        answer_after: float | None, browser_sends: bool = False
    ) -> tuple[Connection, Protocol]:
        protocol = Protocol(answer_after)
        conn = Connection(protocol)
        conn._queue = asyncio.Queue()  # type: ignore[attr-defined]
        task = asyncio.ensure_future(aioice.ice.Connection.query_consent(conn))  # type: ignore[arg-type]
        for _ in range(50):  # its microphone's packets, through the connection's own path
            if browser_sends:
                aioice.ice.Connection.data_received(conn, b"rtp", 1)  # type: ignore[arg-type]
            await asyncio.sleep(0.01)
            if task.done():
                break
        task.cancel()
        return conn, protocol

    late, late_protocol = asyncio.run(go(answer_after=0.8))  # aioice's own check: failed
    assert not late.closed and len(late_protocol.retransmissions) > aioice.ice.CONSENT_FAILURES
    assert set(late_protocol.retransmissions) == {CONSENT_RETRANSMISSIONS}
    gone, gone_protocol = asyncio.run(go(answer_after=None))
    assert gone.closed and gone._query_consent_task is None
    assert len(gone_protocol.retransmissions) == aioice.ice.CONSENT_FAILURES
    # No answers, but the browser keeps sending: still wanted.
    busy, busy_protocol = asyncio.run(go(answer_after=None, browser_sends=True))
    assert not busy.closed and len(busy_protocol.retransmissions) > aioice.ice.CONSENT_FAILURES
    assert busy._queue.qsize() > 0  # type: ignore[attr-defined]  # and its packets go on in


def _offer(ufrag: str) -> dict:
    return {"playing": False, "sdpOffer": {"type": "offer", "sdp": _sdp(ufrag)}}


def test_a_browser_left_waiting_for_its_answer_gets_a_full_run_every_few_seconds():
    """The offer is out, the browser is not playing: from STUCK_OFFER_S on the fragment asks
    for a full run (which carries the answer), then again at most every STUCK_OFFER_S; a
    browser that plays, or has not offered, is left alone."""
    from streamlit_webrtc.component import generate_frontend_component_key

    from lib.ui.streamer import STUCK_OFFER_S, streamer_needs_run

    state: dict[str, object] = {}
    frontend = generate_frontend_component_key("stage")
    assert not streamer_needs_run(state, "stage", 0.0)  # nothing mounted yet
    state[frontend] = {"playing": False}
    assert not streamer_needs_run(state, "stage", 1.0)  # stopped, no offer
    state[frontend] = _offer("one1")
    asked = [
        t
        for t in (2.0, 5.0, 2.0 + STUCK_OFFER_S, 9.0, 3.0 + STUCK_OFFER_S + 2.0)
        if streamer_needs_run(state, "stage", t)
    ]
    assert asked == [2.0 + STUCK_OFFER_S]  # and not again until STUCK_OFFER_S later
    state[frontend] = {**_offer("one1"), "playing": True}
    assert not streamer_needs_run(state, "stage", 100.0)
    # A later offer (a reconnect) gets its own grace period, even without a pause in between.
    state[frontend] = _offer("two2")
    assert not streamer_needs_run(state, "stage", 101.0)
    state[frontend] = _offer("thr3")
    assert not streamer_needs_run(state, "stage", 101.0 + STUCK_OFFER_S - 1)
    assert streamer_needs_run(state, "stage", 106.0 + STUCK_OFFER_S)  # first seen at 106


class _Held:
    """A streamer context as `hold_stopped` reads it: its worker and pending answer."""

    def __init__(self, worker: object | None, answer: str | None) -> None:
        self.worker, self._sdp_answer_json = worker, answer

    def _get_worker(self) -> object | None:
        return self.worker


def test_a_connection_that_never_comes_up_is_restarted_once_the_old_one_is_gone():
    """The browser took an answer made for another of its connections (its frontend starts a
    connection per render during a start): after RESTART_AFTER_S on one offer the page runs,
    draws the streamer stopped until the browser has stopped and the old worker and answer
    are gone, then draws it playing once more; full runs are asked for meanwhile."""
    from streamlit_webrtc.component import generate_frontend_component_key

    from lib.ui.streamer import (
        RESTART_AFTER_S,
        RESTART_HOLD_MAX_S,
        hold_stopped,
        streamer_needs_run,
    )

    frontend = generate_frontend_component_key("stage")
    context = _Held(object(), '{"type": "answer"}')
    state: dict[str, object] = {frontend: _offer("wrong"), "stage": context}
    assert not hold_stopped(state, "stage", 0.0)  # nothing asked: drawn as the page wants
    runs = [t for t in range(13) if streamer_needs_run(state, "stage", float(t))]
    assert runs == [6, 12] and RESTART_AFTER_S == 12  # one plain full run, then the restart
    assert hold_stopped(state, "stage", 12.1)  # drawn stopped while the browser still offers
    state[frontend] = {"playing": False}  # the browser stopped...
    assert hold_stopped(state, "stage", 12.6)  # ...but the old worker and answer remain
    assert not streamer_needs_run(state, "stage", 12.5)  # at most a run a second
    assert streamer_needs_run(state, "stage", 13.2)  # so that a run gets to draw it playing
    context.worker, context._sdp_answer_json = None, None  # streamlit-webrtc let go of them
    assert not hold_stopped(state, "stage", 13.3)  # drawn playing again...
    assert not hold_stopped(state, "stage", 13.4)  # ...from then on
    assert not streamer_needs_run(state, "stage", 20.0)  # nothing pending: no more runs
    # A browser that never reports stopping is not held stopped for ever.
    state[frontend] = _offer("again")
    for t in range(21, 34):
        streamer_needs_run(state, "stage", float(t))
    assert hold_stopped(state, "stage", 34.0)
    assert not hold_stopped(state, "stage", 33.0 + RESTART_HOLD_MAX_S + 0.1)


def test_answers_ask_for_60_ms_microphone_packets_and_aiortc_decodes_them():
    import asyncio
    import re

    from aiortc import RTCPeerConnection
    from aiortc.codecs.opus import OpusDecoder
    from aiortc.jitterbuffer import JitterFrame
    from aiortc.mediastreams import AudioStreamTrack

    from lib.patches.aiortc import MIC_PTIME_MS, longer_mic_packets

    longer_mic_packets()

    async def answer_sdp() -> str:
        browser, server = RTCPeerConnection(), RTCPeerConnection()
        browser.addTrack(AudioStreamTrack())  # a microphone, offered as Chrome does
        await browser.setLocalDescription(await browser.createOffer())
        await server.setRemoteDescription(browser.localDescription)
        server.addTrack(AudioStreamTrack())
        await server.setLocalDescription(await server.createAnswer())
        sdp = server.localDescription.sdp
        await browser.close()
        await server.close()
        return sdp

    sdp = asyncio.run(answer_sdp())
    opus = re.search(r"a=rtpmap:(\d+) opus/48000/2", sdp)
    assert opus, sdp
    assert re.search(rf"a=fmtp:{opus.group(1)} .*ptime={MIC_PTIME_MS}", sdp), sdp

    # What the browser then sends: 60 ms Opus packets; aiortc's decoder takes them whole.
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"
    encoder.options = {"frame_duration": str(MIC_PTIME_MS)}
    samples = 48 * MIC_PTIME_MS
    tone = (np.sin(np.arange(samples * 4) * 0.05) * 8000).astype(np.int16)
    packets = []
    for i in range(4):
        frame = av.AudioFrame.from_ndarray(
            tone[i * samples : (i + 1) * samples].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate, frame.pts = 48000, i * samples
        packets += encoder.encode(frame)
    decoder = OpusDecoder()
    decoded = [
        decoder.decode(JitterFrame(data=bytes(p), timestamp=i * samples))
        for i, p in enumerate(packets)
    ]
    assert packets and all(sum(f.samples for f in d) == samples for d in decoded)


def _header_extensions(packet: bytes) -> dict[int, bytes]:
    """The header extensions of one serialized RTP packet, by id (RFC 8285)."""
    from struct import unpack

    from aiortc import rtp

    if not packet[0] & 0x10:
        return {}
    pos = 12 + 4 * (packet[0] & 0x0F)
    profile, words = unpack("!HH", packet[pos : pos + 4])
    return dict(rtp.unpack_header_extensions(profile, packet[pos + 4 : pos + 4 + 4 * words]))


def test_video_packets_ask_the_browser_to_show_frames_without_a_playout_delay(monkeypatch):
    """The playout-delay extension is answered when offered, written on every video packet
    (and no audio packet) with PLAYOUT_DELAY_MS, and the packets still decode at the peer."""
    import asyncio
    import re

    from aiortc import RTCPeerConnection, rtp
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
    from aiortc.rtcdtlstransport import RTCDtlsTransport

    from lib.patches.aioice import allow_loopback_ice
    from lib.patches.aiortc import (
        PLAYOUT_DELAY_MS,
        PLAYOUT_DELAY_URI,
        playout_delay_payload,
        prompt_video_playout,
    )

    allow_loopback_ice()
    prompt_video_playout()
    assert playout_delay_payload(100, 200) == bytes([0x00, 0xA0, 0x14])  # 10 and 20 tens of ms
    assert playout_delay_payload(0, 10**6) == bytes([0x00, 0x0F, 0xFF])  # clamped to 12 bits
    sent: list[bytes] = []
    send_rtp = RTCDtlsTransport._send_rtp

    async def spy(self, data):  # type: ignore[no-untyped-def]
        if not rtp.is_rtcp(data):
            sent.append(bytes(data))
        await send_rtp(self, data)

    monkeypatch.setattr(RTCDtlsTransport, "_send_rtp", spy)

    async def go() -> tuple[str, str, str, object]:
        browser, server = RTCPeerConnection(), RTCPeerConnection()
        browser.addTransceiver("audio", direction="recvonly")
        browser.addTransceiver("video", direction="recvonly")
        received: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        readers: list[asyncio.Task[None]] = []

        @browser.on("track")
        def on_track(track):  # type: ignore[no-untyped-def]
            async def first_frame() -> None:
                frame = await track.recv()
                if not received.done():
                    received.set_result(frame)

            if track.kind == "video":
                readers.append(asyncio.ensure_future(first_frame()))

        await browser.setLocalDescription(await browser.createOffer())
        offer = browser.localDescription.sdp
        await server.setRemoteDescription(browser.localDescription)
        server.addTrack(AudioStreamTrack())
        server.addTrack(VideoStreamTrack())
        await server.setLocalDescription(await server.createAnswer())
        answer = server.localDescription.sdp
        await browser.setRemoteDescription(server.localDescription)
        frame = await asyncio.wait_for(received, 20)
        await asyncio.sleep(0.3)  # some audio packets too
        await browser.close()
        await server.close()
        return offer, answer, server.getTransceivers()[1].mid or "", frame

    offer, answer, video_mid, frame = asyncio.run(go())
    assert frame is not None
    audio_sdp, video_sdp = answer.split("m=video")
    ext_id = re.search(rf"a=extmap:(\d+) {re.escape(PLAYOUT_DELAY_URI)}", video_sdp)
    assert ext_id and ext_id.group(0) in offer, answer  # the offerer's id is kept
    assert PLAYOUT_DELAY_URI not in audio_sdp
    mid_id = int(re.search(r"a=extmap:(\d+) urn:ietf:params:rtp-hdrext:sdes:mid", video_sdp)[1])  # type: ignore[index]
    by_kind: dict[bool, list[dict[int, bytes]]] = {True: [], False: []}
    for packet in sent:
        ext = _header_extensions(packet)
        by_kind[ext.get(mid_id) == video_mid.encode()].append(ext)
    assert by_kind[True] and by_kind[False]
    want = playout_delay_payload(*PLAYOUT_DELAY_MS)
    assert all(e.get(int(ext_id[1])) == want for e in by_kind[True])
    assert all(int(ext_id[1]) not in e for e in by_kind[False])


def test_audio_level_matches_aiortc_on_speech_silence_and_clipping():
    from aiortc import rtp

    from lib.media.silence import audio_level_dbov

    rng = np.random.default_rng(7)
    for pcm in (
        np.zeros(960, np.int16),
        np.full(960, 1, np.int16),
        (rng.standard_normal(960) * 3000).astype(np.int16),
        np.full(960, -32768, np.int16),
        (np.sin(np.arange(1920) * 0.05) * 20000).astype(np.int16),  # stereo, interleaved
    ):
        layout = "stereo" if pcm.size == 1920 else "mono"
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = 48000
        assert audio_level_dbov(frame) == rtp.compute_audio_level_dbov(frame)


def test_silence_is_sent_without_encoding_and_speech_after_it_is_unchanged():
    """Tone, 30 silent frames, tone: the same RTP timestamps as aiortc's own encoder gives,
    the same sound after the silence, and 20 of the silent frames not encoded."""
    import asyncio
    import fractions
    from types import SimpleNamespace

    import aiortc.rtcrtpsender
    from aiortc.codecs.opus import OpusEncoder
    from aiortc.mediastreams import MediaStreamTrack
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from lib.media.silence import SILENCE_SETTLE_FRAMES
    from lib.patches.aiortc import encode_on_the_media_loop

    encode_on_the_media_loop()
    plan = [False] * 20 + [True] * 30 + [False] * 20

    def frame(i: int, silent: bool) -> av.AudioFrame:
        t = np.arange(i * 960, (i + 1) * 960)
        tone = np.sin(t * 0.05) * 8000 + np.sin(t * 0.013) * 3000
        pcm = np.zeros(960, np.int16) if silent else tone.astype(np.int16)
        f = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        f.sample_rate, f.pts, f.time_base = 48000, i * 960, fractions.Fraction(1, 48000)
        return f

    class Frames(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.i = 0

        async def recv(self) -> av.AudioFrame:
            self.i += 1
            return frame(self.i - 1, plan[self.i - 1])

    reference = OpusEncoder()
    expected = [reference.encode(frame(i, s)) for i, s in enumerate(plan)]
    encodes = 0
    real_get_encoder = aiortc.rtcrtpsender.get_encoder

    def counting_get_encoder(codec):  # type: ignore[no-untyped-def]
        encoder = real_get_encoder(codec)
        encode = encoder.encode

        def counted(f, force_keyframe=False):  # type: ignore[no-untyped-def]
            nonlocal encodes
            encodes += 1
            return encode(f, force_keyframe)

        encoder.encode = counted
        return encoder

    opus = RTCRtpCodecParameters(
        mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111
    )

    async def go() -> list[object]:
        sender = aiortc.rtcrtpsender.RTCRtpSender(Frames(), SimpleNamespace(state="new"))  # type: ignore[arg-type]
        return [await sender._next_encoded_frame(opus) for _ in plan]

    aiortc.rtcrtpsender.get_encoder = counting_get_encoder  # type: ignore[attr-defined]
    try:
        got = asyncio.run(go())
    finally:
        aiortc.rtcrtpsender.get_encoder = real_get_encoder  # type: ignore[attr-defined]
    assert [f.timestamp for f in got] == [ts for _, ts in expected]  # type: ignore[attr-defined]
    from aiortc.codecs.opus import OpusDecoder
    from aiortc.jitterbuffer import JitterFrame

    def decoded(packets: list[tuple[list[bytes], int]]) -> np.ndarray:
        decoder = OpusDecoder()
        return np.concatenate(
            [
                f.to_ndarray().reshape(-1, 2)[:, 0].astype(np.float64)
                for payloads, ts in packets
                for f in decoder.decode(JitterFrame(data=payloads[0], timestamp=ts))
            ]
        )

    sent = decoded([(f.payloads, f.timestamp) for f in got])  # type: ignore[attr-defined]
    want = decoded(expected)  # type: ignore[arg-type]
    assert not sent[(20 + SILENCE_SETTLE_FRAMES) * 960 : 50 * 960].any()  # silence, as sent
    # Speech after the silence: not the reference's bytes (libopus's analysis saw 10 silent
    # frames, not 30), but the same sound: 34 dB apart, each 20 ms as loud within 1 dB.
    after = slice(50 * 960, None)
    noise = sent[after] - want[after]
    snr_db = 10 * np.log10(np.dot(want[after], want[after]) / max(np.dot(noise, noise), 1e-9))
    assert snr_db > 25, snr_db
    loud_sent, loud_want = (np.sqrt((x[after] ** 2).reshape(-1, 960).mean(1)) for x in (sent, want))
    assert np.all(np.abs(20 * np.log10(loud_sent / loud_want)) < 1.0)
    assert encodes == len(plan) - (30 - SILENCE_SETTLE_FRAMES)
    assert {f.audio_level for f in got[20 + SILENCE_SETTLE_FRAMES : 50]} == {-127}  # type: ignore[attr-defined]

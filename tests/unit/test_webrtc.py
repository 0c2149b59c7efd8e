import fractions

import av
import numpy as np


def test_vp8_senders_encode_drawn_frames_without_the_denoiser():
    import aiortc.rtcrtpsender
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from lib.webrtc import VP8_OPTIONS, lean_vp8_encoder

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

    encoder.target_bitrate = 1_400_000  # the browser asks for more: reopened, same options
    encoder.encode(frame)
    assert encoder.codec is not codec and encoder.codec is encoder.opened
    assert encoder.options["maxrate"] == "1400000" and encoder.options["cpu-used"] == "-16"


def test_vp8_skipping_still_blocks_keeps_a_small_real_change():
    """`static-thresh` skips blocks that did not change; a lip parting (a few darker pixels on
    an otherwise identical frame) must still reach the decoder, at once."""
    import aiortc.rtcrtpsender
    from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    from lib.webrtc import lean_vp8_encoder

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

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
    assert encoder.options["maxrate"] == "1400000" and encoder.options["cpu-used"] == "-12"

import numpy as np
import pytest

from lib import localroom


def test_video_and_audio_roundtrip():
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    msg = localroom.unpack(localroom.pack_video(7, 123.5, rgb))
    assert msg.kind == localroom.KIND_VIDEO and msg.seq == 7 and msg.captured_at == 123.5
    assert msg.video is not None and np.array_equal(msg.video, rgb)
    pcm = np.arange(-480, 480, dtype=np.int16)
    amsg = localroom.unpack(localroom.pack_audio(8, 1.0, pcm, 48000))
    assert amsg.sample_rate == 48000 and amsg.audio is not None
    assert np.array_equal(amsg.audio, pcm)


@pytest.mark.parametrize(
    "data", [b"", b"\x09abc", localroom.VIDEO_HEADER.pack(1, 0, 0.0, 4, 4) + b"x"]
)
def test_malformed_messages_raise_valueerror(data):
    with pytest.raises(ValueError):
        localroom.unpack(data)


def test_close_codes_map_to_livekit_reasons():
    assert localroom.reason_name(localroom.close_code(5)) == "ROOM_DELETED"
    assert localroom.reason_name(1006) == "CLOSED_1006"

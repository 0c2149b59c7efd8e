import numpy as np
import pytest

from lib.wire import localroom
from lib.wire.picture import I420


def test_video_and_audio_roundtrip():
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    msg = localroom.unpack(localroom.pack_video(7, 123.5, rgb))
    assert msg.kind == localroom.KIND_VIDEO and msg.seq == 7 and msg.captured_at == 123.5
    assert msg.video is not None and np.array_equal(msg.video, rgb)
    pcm = np.arange(-480, 480, dtype=np.int16)
    amsg = localroom.unpack(localroom.pack_audio(8, 1.0, pcm, 48000))
    assert amsg.sample_rate == 48000 and amsg.audio is not None
    assert np.array_equal(amsg.audio, pcm)


def test_i420_video_roundtrip_keeps_planes_and_converts_for_rgb_readers():
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, 32:] = (200, 40, 40)
    picture = I420.from_rgb(rgb)
    assert picture.planes.shape == (72, 64) and (picture.width, picture.height) == (64, 48)
    data = localroom.pack_i420(9, 5.0, picture)
    assert len(data) == localroom.VIDEO_HEADER.size + 64 * 48 * 3 // 2  # half of RGB
    msg = localroom.unpack(data)
    assert msg.kind == localroom.KIND_VIDEO and msg.seq == 9
    assert isinstance(msg.picture, I420) and np.array_equal(msg.picture.planes, picture.planes)
    assert msg.video is not None and msg.video.shape == (48, 64, 3)
    assert np.abs(msg.video.astype(int) - rgb).mean() < 4  # BT.601 round trip


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x09abc",
        localroom.VIDEO_HEADER.pack(1, 0, 0.0, 4, 4) + b"x",
        localroom.VIDEO_HEADER.pack(3, 0, 0.0, 4, 4) + bytes(4 * 4 * 3),  # RGB-sized, not I420
        localroom.VIDEO_HEADER.pack(3, 0, 0.0, 4, 6) + bytes(4 * 6 * 3 // 2),  # 6 rows: no 4:2:0
    ],
)
def test_malformed_messages_raise_valueerror(data):
    with pytest.raises(ValueError):
        localroom.unpack(data)


def test_close_codes_map_to_livekit_reasons():
    assert localroom.reason_name(localroom.close_code(5)) == "ROOM_DELETED"
    assert localroom.reason_name(1006) == "CLOSED_1006"

"""Wire format of the local media room: the embedded stand-in for HeyGen's LiveKit room.

The local HeyGen-compatible server returns, from `streaming.new`, `url` = the websocket base of
this room (`ws://127.0.0.1:PORT/v1/local-room`) and `access_token` = a room token. A client joins
with `GET {url}/{session_id}?token={access_token}` (websocket) and then receives:

* binary messages, media, little-endian header then payload:
  - video: `VIDEO_HEADER` = kind(u8), seq(u32), captured_at(f64, server time.time()),
    width(u16), height(u16); payload = kind 3: I420 planes, Y then U then V
    (width*height*3/2 bytes; what the local server sends), kind 1: RGB24 rows (width*height*3).
  - audio: `AUDIO_HEADER` = kind(u8=2), seq(u32), captured_at(f64), sample_rate(u32);
    payload = PCM16 mono samples (20 ms per message).
* text messages: one JSON object each, exactly HeyGen's data-channel payloads
  (`avatar_start_talking`, `avatar_talking_message`, `avatar_end_message`,
  `avatar_stop_talking` with `duration_ms`).
* room close: the websocket closes with code `4000 + DisconnectReason` and the reason name as
  text, mirroring LiveKit's `Disconnected(reason)` (e.g. 4005 ROOM_DELETED after stop or idle
  expiry, 4001 CLIENT_INITIATED).

Raw frames are used on purpose: loopback bandwidth is free, and encoding here would only be
decoded again before aiortc re-encodes for the browser. I420 rather than RGB because that is
what the encoder takes: the server converts on its render threads, the app's media loop does
not, and half the bytes cross the socket.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from lib.wire.picture import I420, Picture, to_rgb

KIND_VIDEO: Final = 1
KIND_AUDIO: Final = 2
KIND_VIDEO_I420: Final = 3
VIDEO_HEADER: Final = struct.Struct("<BIdHH")
AUDIO_HEADER: Final = struct.Struct("<BIdI")
ROOM_PATH: Final = "/v1/local-room"

# LiveKit DisconnectReason values (livekit protocol participant_pb2).
DISCONNECT_REASONS: Final[dict[int, str]] = {
    0: "UNKNOWN_REASON",
    1: "CLIENT_INITIATED",
    4: "PARTICIPANT_REMOVED",
    5: "ROOM_DELETED",
    10: "ROOM_CLOSED",
    14: "CONNECTION_TIMEOUT",
}
CLOSE_CODE_BASE: Final = 4000


@dataclass(frozen=True)
class MediaMessage:
    kind: int  # KIND_VIDEO (whatever the picture's format) or KIND_AUDIO
    seq: int
    captured_at: float
    picture: Picture | None = None
    audio: npt.NDArray[np.int16] | None = None
    sample_rate: int = 0

    @property
    def video(self) -> npt.NDArray[np.uint8] | None:
        """The picture as RGB24 rows (converted if it came as I420)."""
        return None if self.picture is None else to_rgb(self.picture)


def pack_video(seq: int, captured_at: float, rgb: npt.NDArray[np.uint8]) -> bytes:
    h, w, _ = rgb.shape
    return VIDEO_HEADER.pack(KIND_VIDEO, seq, captured_at, w, h) + rgb.tobytes()


def pack_i420(seq: int, captured_at: float, picture: I420) -> bytes:
    header = VIDEO_HEADER.pack(KIND_VIDEO_I420, seq, captured_at, picture.width, picture.height)
    return header + picture.planes.tobytes()


def pack_audio(seq: int, captured_at: float, pcm: npt.NDArray[np.int16], sample_rate: int) -> bytes:
    return (
        AUDIO_HEADER.pack(KIND_AUDIO, seq, captured_at, sample_rate) + pcm.astype("<i2").tobytes()
    )


def unpack(data: bytes) -> MediaMessage:
    """Parse one binary room message; raises ValueError on anything malformed."""
    if not data:
        raise ValueError("empty media message")
    kind = data[0]
    if kind in (KIND_VIDEO, KIND_VIDEO_I420):
        _, seq, at, w, h = VIDEO_HEADER.unpack_from(data)
        pixels = np.frombuffer(memoryview(data)[VIDEO_HEADER.size :], dtype=np.uint8)
        if kind == KIND_VIDEO:
            if pixels.size != w * h * 3:
                raise ValueError(f"video payload is {pixels.size} bytes, expected {w * h * 3}")
            return MediaMessage(KIND_VIDEO, seq, at, picture=pixels.reshape(h, w, 3))
        if w % 2 or h % 4 or pixels.size != w * h * 3 // 2:
            raise ValueError(f"I420 payload of {pixels.size} bytes does not fit {w}x{h}")
        return MediaMessage(KIND_VIDEO, seq, at, picture=I420(pixels.reshape(h * 3 // 2, w)))
    if kind == KIND_AUDIO:
        _, seq, at, rate = AUDIO_HEADER.unpack_from(data)
        body = memoryview(data)[AUDIO_HEADER.size :]
        if len(body) % 2:
            raise ValueError("audio payload has an odd number of bytes")
        pcm = np.frombuffer(body, dtype="<i2").astype(np.int16, copy=False)
        return MediaMessage(KIND_AUDIO, seq, at, audio=pcm, sample_rate=rate)
    raise ValueError(f"unknown media kind {kind}")


def close_code(reason: int) -> int:
    return CLOSE_CODE_BASE + reason


def reason_name(code: int) -> str:
    return DISCONNECT_REASONS.get(code - CLOSE_CODE_BASE, f"CLOSED_{code}")

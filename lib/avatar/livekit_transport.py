"""LiveKit room transport for the real HeyGen / LiveAvatar services (the `livekit` package).

We join as the viewer with the session's client token (like the web SDKs), pull the avatar's
video as RGB24 and audio as 48 kHz mono, and surface data-channel JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import numpy as np

from lib.avatar.base import AvatarError, Disconnected, FirstFrame, MediaSink
from lib.avatar.transport import DataCallback, MediaTransport

log = logging.getLogger(__name__)

AUDIO_RATE = 48000


class LiveKitTransport(MediaTransport):
    def __init__(self) -> None:
        self._room: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._mic: Any = None  # rtc.AudioSource of the user's microphone, once published

    async def connect(
        self, url: str, token: str, session_id: str, sink: MediaSink, on_data: DataCallback
    ) -> None:
        from livekit import rtc  # imported here: the package loads a native library

        room = rtc.Room()
        self._room = room
        first_frame = asyncio.Event()

        async def pump_video(track: Any) -> None:
            stream = rtc.VideoStream(track, format=rtc.VideoBufferType.RGB24)
            async for ev in stream:
                frame = ev.frame
                rgb = np.frombuffer(frame.data, dtype=np.uint8).reshape(
                    frame.height, frame.width, 3
                )
                sink.on_video(rgb)
                if not first_frame.is_set():
                    first_frame.set()
                    sink.on_event(FirstFrame())

        async def pump_audio(track: Any) -> None:
            stream = rtc.AudioStream(track, sample_rate=AUDIO_RATE, num_channels=1)
            async for ev in stream:
                pcm = np.frombuffer(ev.frame.data, dtype=np.int16)
                sink.on_audio(pcm, AUDIO_RATE)

        def on_track(track: Any, publication: Any, participant: Any) -> None:
            pump = pump_video if track.kind == rtc.TrackKind.KIND_VIDEO else pump_audio
            task = asyncio.ensure_future(pump(track))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        def on_data_packet(packet: Any) -> None:
            try:
                on_data(json.loads(packet.data))
            except ValueError:
                log.warning("ignored a non-JSON data packet (topic %r)", packet.topic)

        def on_disconnected(reason: Any) -> None:
            name = rtc.DisconnectReason.Name(reason) if isinstance(reason, int) else str(reason)  # type: ignore[arg-type]
            sink.on_event(Disconnected(reason="CLIENT_INITIATED" if self._closing else name))

        room.on("track_subscribed", on_track)
        room.on("data_received", on_data_packet)
        room.on("disconnected", on_disconnected)
        try:
            await room.connect(url, token)
        except Exception as exc:  # livekit raises its own ConnectError types
            raise AvatarError(
                f"cannot join the LiveKit room: {exc}",
                provider="livekit",
                hint="check network access to the provider's media servers",
            ) from exc

    async def publish(self, message: dict[str, Any], topic: str = "") -> None:
        if self._room is None:
            raise AvatarError("not connected to the LiveKit room", provider="livekit")
        await self._room.local_participant.publish_data(
            json.dumps(message).encode(), reliable=True, topic=topic
        )

    async def send_audio(self, pcm: bytes, sample_rate: int) -> None:
        """The user's microphone as a published track (how the web SDKs do voice chat)."""
        from livekit import rtc

        if self._room is None:
            raise AvatarError("not connected to the LiveKit room", provider="livekit")
        if self._mic is None or self._mic.sample_rate != sample_rate:
            self._mic = rtc.AudioSource(sample_rate, 1)
            track = rtc.LocalAudioTrack.create_audio_track("microphone", self._mic)
            options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            await self._room.local_participant.publish_track(track, options)
        n = len(pcm) // 2
        await self._mic.capture_frame(rtc.AudioFrame(pcm[: n * 2], sample_rate, 1, n))

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        if self._room is not None:
            with contextlib.suppress(Exception):
                await self._room.disconnect()

"""Media transport seam: how a session's video, audio and data events reach us.

HeyGen and LiveAvatar deliver through a LiveKit room (`livekit_transport.py`); the embedded server
delivers through the local room (`local_transport.py`). Providers get a factory, so the same client
code runs against either.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from lib.avatar.base import MediaSink

DataCallback = Callable[[dict[str, Any]], None]


class MediaTransport(abc.ABC):
    @abc.abstractmethod
    async def connect(
        self, url: str, token: str, session_id: str, sink: MediaSink, on_data: DataCallback
    ) -> None:
        """Join the room; media goes to `sink`, JSON data messages to `on_data`."""

    @abc.abstractmethod
    async def publish(self, message: dict[str, Any], topic: str = "") -> None:
        """Send a JSON data message into the room (LiveAvatar FULL commands)."""

    @abc.abstractmethod
    async def send_audio(self, pcm: bytes, sample_rate: int) -> None:
        """Publish the user's microphone (PCM16 mono) into the room."""

    @abc.abstractmethod
    async def close(self) -> None: ...


TransportFactory = Callable[[], MediaTransport]

"""Client of the embedded server's local media room (wire format in `lib/wire/localroom.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection

from lib.avatar.base import AvatarError, Disconnected, FirstFrame, MediaSink
from lib.avatar.transport import DataCallback, MediaTransport
from lib.wire import localroom

log = logging.getLogger(__name__)


class LocalRoomTransport(MediaTransport):
    def __init__(self) -> None:
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._seq = 0  # upstream audio packets

    async def connect(
        self, url: str, token: str, session_id: str, sink: MediaSink, on_data: DataCallback
    ) -> None:
        target = f"{url.rstrip('/')}/{session_id}?token={token}"
        try:
            # Raw 480p frames are ~1.2 MB; the default 1 MiB limit would close the socket.
            self._ws = await websockets.connect(target, max_size=16 * 2**20, open_timeout=10)
        except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
            raise AvatarError(
                f"cannot join the media room: {exc}",
                provider="local",
                hint="the local avatar server may have stopped; start a new session",
            ) from exc
        self._task = asyncio.create_task(self._receive(self._ws, sink, on_data))

    async def _receive(self, ws: ClientConnection, sink: MediaSink, on_data: DataCallback) -> None:
        first = True
        reason = "CLIENT_INITIATED"
        try:
            async for message in ws:
                if isinstance(message, str):
                    try:
                        on_data(json.loads(message))
                    except ValueError:
                        log.warning("ignored a malformed data message from the room")
                    continue
                try:
                    media = localroom.unpack(message)
                except ValueError as exc:
                    log.warning("ignored a malformed media message: %s", exc)
                    continue
                if media.picture is not None:
                    sink.on_video(media.picture)
                    if first:
                        first = False
                        sink.on_event(FirstFrame())
                elif media.audio is not None:
                    sink.on_audio(media.audio, media.sample_rate)
        except websockets.ConnectionClosed:
            pass
        finally:
            code = ws.close_code
            if code is not None and code >= localroom.CLOSE_CODE_BASE:
                reason = localroom.reason_name(code)
            elif not self._closing:
                reason = f"CONNECTION_LOST ({code})"
            sink.on_event(Disconnected(reason=reason))

    async def publish(self, message: dict[str, Any], topic: str = "") -> None:
        if self._ws is None:
            raise AvatarError("not connected to the media room", provider="local")
        await self._ws.send(json.dumps(message))

    async def send_audio(self, pcm: bytes, sample_rate: int) -> None:
        if self._ws is None:
            raise AvatarError("not connected to the media room", provider="local")
        samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.int16)
        self._seq += 1
        await self._ws.send(localroom.pack_audio(self._seq, time.time(), samples, sample_rate))

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5)

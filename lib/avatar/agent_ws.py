"""The audio-in websocket (`agent.speak`): LiveAvatar LITE `ws_url` and HeyGen `realtime_endpoint`.

We send PCM16 24 kHz mono as base64 `agent.speak` chunks and get `agent.speak_started/ended/
interrupted` back, which become the same typed events as text tasks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from collections import deque
from typing import Any, Final

import websockets
from websockets.asyncio.client import ClientConnection

from lib.avatar.base import (
    AvatarError,
    MediaSink,
    ProviderEvent,
    StartTalking,
    StopTalking,
)

log = logging.getLogger(__name__)
MAX_PACKET = 1_000_000  # the services close the socket over 1 MB
REMEMBERED_STOPS: Final = 32


class AgentSocket:
    def __init__(self, provider: str, *, talking_events: bool = True) -> None:
        # HeyGen v1 reports talking on its room data channel too: there the socket's own
        # speak_started/ended would double-count, so they are kept only as ProviderEvents.
        self.provider = provider
        self.talking_events = talking_events
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        # An interrupted reply is reported twice (speak_interrupted, then speak_ended): one stop.
        self._stopped: deque[str] = deque(maxlen=REMEMBERED_STOPS)

    async def connect(self, url: str, sink: MediaSink) -> None:
        try:
            self._ws = await websockets.connect(url, max_size=4 * 2**20, open_timeout=10)
        except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
            raise AvatarError(
                f"cannot open the avatar audio socket: {exc}", provider=self.provider
            ) from exc
        self._task = asyncio.create_task(self._receive(self._ws, sink))

    async def _receive(self, ws: ClientConnection, sink: MediaSink) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                try:
                    msg: dict[str, Any] = json.loads(raw)
                except ValueError:
                    continue
                kind = str(msg.get("type", ""))
                task = msg.get("task") or {}
                task_id = str(task.get("id") or msg.get("event_id") or "")
                if kind == "session.state_updated" and msg.get("state") == "connected":
                    self.connected.set()
                if self.talking_events and kind == "agent.speak_started":
                    sink.on_event(StartTalking(task_id=task_id))
                elif (
                    self.talking_events
                    and kind in ("agent.speak_ended", "agent.speak_interrupted")
                    and (not task_id or task_id not in self._stopped)
                ):
                    if task_id:
                        self._stopped.append(task_id)
                    sink.on_event(StopTalking(task_id=task_id, duration_ms=msg.get("duration_ms")))
                sink.on_event(ProviderEvent(kind=kind, payload=msg))

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is None:
            raise AvatarError("the avatar audio socket is not open", provider=self.provider)
        data = json.dumps(message)
        if len(data) > MAX_PACKET:
            raise AvatarError(
                "audio chunk over 1 MB",
                provider=self.provider,
                hint="send shorter chunks (about 1 s each)",
            )
        try:
            await self._ws.send(data)
        except websockets.ConnectionClosed as exc:
            raise AvatarError(
                "the avatar audio socket closed",
                provider=self.provider,
                hint="the session has ended: start a new one",
            ) from exc

    async def speak(self, pcm24k: bytes, event_id: str) -> None:
        audio = base64.b64encode(pcm24k).decode()
        await self._send({"type": "agent.speak", "event_id": event_id, "audio": audio})

    async def speak_end(self, event_id: str) -> None:
        await self._send({"type": "agent.speak_end", "event_id": event_id})

    async def interrupt(self) -> None:
        await self._send({"type": "agent.interrupt", "event_id": uuid.uuid4().hex})

    async def keep_alive(self) -> None:
        await self._send({"type": "session.keep_alive", "event_id": uuid.uuid4().hex})

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5)

"""One viewer of a local media room: an ordered outbox with video backpressure.

The producer never awaits a client. Text and audio go into an ordered outbox (small, and
losing them would break events and the audio clock); video goes into a one-frame slot that a
newer frame overwrites. A viewer whose socket is behind therefore skips video frames instead
of queueing them (uvicorn's send waits while the transport buffer is over its high-water mark).
A viewer so far behind that even audio piles up is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect

from lib.wire import localroom

MAX_OUTBOX = 500  # ~10 s of 20 ms audio messages


class RoomClient:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._outbox: deque[str | bytes] = deque()
        self._video: bytes | None = None
        self._close: tuple[int, str] | None = None
        self._wake = asyncio.Event()
        self.finished = asyncio.Event()
        self.video_sent = 0
        self.video_replaced = 0  # overwritten by a newer frame before this viewer took it

    def offer_text(self, text: str) -> None:
        self._put(text)

    def offer_audio(self, packet: bytes) -> None:
        self._put(packet)

    def offer_video(self, packet: bytes) -> None:
        if self._close is not None:
            return
        # A frame still waiting here never left: the viewer is behind, so it is replaced.
        if self._video is not None:
            self.video_replaced += 1
        self._video = packet
        self._wake.set()

    def request_close(self, code: int, reason: str) -> None:
        """Close after what is already queued has been sent (final events go out first)."""
        if self._close is None:
            self._close = (code, reason)
            self._video = None
            self._wake.set()

    def _put(self, item: str | bytes) -> None:
        if self._close is not None:
            return
        if len(self._outbox) >= MAX_OUTBOX:
            self.request_close(localroom.close_code(14), "CONNECTION_TIMEOUT")
            return
        self._outbox.append(item)
        self._wake.set()

    async def run_sender(self) -> None:
        """The only coroutine that sends on this websocket (Starlette sends are not reentrant)."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox:
                    item = self._outbox.popleft()
                    if isinstance(item, str):
                        await self.websocket.send_text(item)
                    else:
                        await self.websocket.send_bytes(item)
                if self._video is not None:
                    frame, self._video = self._video, None
                    await self.websocket.send_bytes(frame)
                    self.video_sent += 1
                if self._close is not None and not self._outbox:
                    code, reason = self._close
                    with contextlib.suppress(Exception):
                        await self.websocket.close(code, reason)
                    return
        except (OSError, RuntimeError, WebSocketDisconnect):
            return  # the viewer went away; its receive loop notices and unregisters it
        finally:
            self.finished.set()

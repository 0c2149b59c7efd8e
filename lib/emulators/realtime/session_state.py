"""What one Realtime connection keeps, and the plumbing its handlers share: sends in order,
background tasks, error events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from lib.emulators.engines.responder import Responder
from lib.emulators.realtime.events import JsonDict, default_session, error_event, event, new_id
from lib.emulators.realtime.input_audio import InputAudio
from lib.emulators.realtime.items import ItemHistory
from lib.emulators.realtime.model import Listener, ModelTiming, Speaker
from lib.emulators.realtime.response import ResponseRun
from lib.emulators.realtime.usage import TokenCount

log = logging.getLogger(__name__)

Sender = Callable[[JsonDict], Awaitable[None]]


class RealtimeSessionState:
    def __init__(
        self,
        send: Sender,
        model: str,
        timing: ModelTiming,
        listener: Listener,
        speaker: Speaker,
        drop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._send_raw = send
        self._drop = drop
        self._send_lock = asyncio.Lock()
        self.timing = timing
        self.listener = listener
        self.speaker = speaker
        self.session = default_session(model)
        self.conversation = ItemHistory(new_id("conv"))
        self.active: ResponseRun | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._responders: dict[str, Responder] = {}
        self._last_input: TokenCount | None = None
        # Input audio: the uncommitted buffer and where it starts in session audio time.
        self.input = InputAudio()
        self.input.configure(self._turn_detection())
        self._speech_item: str | None = None  # the item id announced by speech_started
        # A transcription started at a pause in speech: (audio end ms, its task).
        self._early: tuple[int, asyncio.Task[tuple[str, list[str]]]] | None = None
        self._speech_start_ms = 0.0

    # ---- plumbing --------------------------------------------------------------------------

    async def send(self, payload: JsonDict) -> None:
        async with self._send_lock:
            await self._send_raw(payload)

    async def start(self) -> None:
        await self.send(event("session.created", session=self.session))

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("realtime task ended: %r", task.exception())

    async def drop_connection(self) -> None:
        """Close the client's socket as a network failure would (fault injection)."""
        if self._drop is not None:
            await self._drop()

    async def close(self) -> None:
        if self.active is not None:
            self.active.cancel("client_cancelled")
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _error(
        self, message: str, code: str | None, param: str | None, client: JsonDict | None
    ) -> None:
        client_id = client.get("event_id") if client else None
        await self.send(error_event(message, code=code, param=param, client_event_id=client_id))

    def _turn_detection(self) -> JsonDict | None:
        td: JsonDict | None = self.session["audio"]["input"]["turn_detection"]
        return td

"""What one Realtime connection keeps, and the plumbing its handlers share: sends in order,
background tasks, error events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocketDisconnect

from lib.emulators.engines.responder import Responder
from lib.emulators.realtime.events import JsonDict, default_session, error_event, event, new_id
from lib.emulators.realtime.fields import InvalidField
from lib.emulators.realtime.input_audio import InputAudio
from lib.emulators.realtime.items import ItemHistory
from lib.emulators.realtime.limits import MAX_TURN_AUDIO_BYTES, MAX_TURN_AUDIO_MS
from lib.emulators.realtime.model import BYTES_PER_MS, Listener, ModelTiming, Speaker
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
        # Committed input audio whose transcription is still running (see _check_audio_room).
        self._pending_audio_bytes = 0

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
        exc = None if task.cancelled() else task.exception()
        if isinstance(exc, WebSocketDisconnect):
            log.debug("realtime task ended: the client went away")
        elif exc is not None:
            log.warning("realtime task failed", exc_info=exc)

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

    # ---- bounds ----------------------------------------------------------------------------

    def _check_audio_room(self, nbytes: int, param: str = "audio") -> None:
        """Refuse audio beyond what one session may hold at once: the uncommitted buffer plus
        committed audio still being transcribed, at most one maximal turn (limits.py)."""
        held = self.input.buffered_bytes + self._pending_audio_bytes
        if held + nbytes <= MAX_TURN_AUDIO_BYTES:
            return
        raise InvalidField(
            f"Input audio buffer is full: the session holds {held / BYTES_PER_MS / 1000:.1f} s "
            f"of input audio not yet committed or transcribed, and this adds "
            f"{nbytes / BYTES_PER_MS / 1000:.1f} s; at most {MAX_TURN_AUDIO_MS // 60_000} minutes "
            "of PCM16 24 kHz audio can be held at once. Commit "
            "(input_audio_buffer.commit) or clear (input_audio_buffer.clear) the buffer, or wait "
            "for the last turn's transcription, then send the rest.",
            "input_audio_buffer_full",
            param,
        )

    def _check_conversation_room(self) -> None:
        problem = self.conversation.full()
        if problem is not None:
            raise InvalidField(problem, "conversation_full", None)

    def _turn_detection(self) -> JsonDict | None:
        td: JsonDict | None = self.session["audio"]["input"]["turn_detection"]
        return td

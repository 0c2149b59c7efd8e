"""One Realtime connection: client events in, GA server events out.

State: the effective session config, the input audio buffer (with server/semantic VAD, or
push-to-talk when turn_detection is null), the conversation, and at most one active response.
Client events are handled strictly in arrival order; responses and transcriptions run as tasks.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.responder import Reply, Responder
from lib.emulators.realtime.events import (
    JsonDict,
    default_session,
    error_event,
    event,
    new_id,
    user_audio_item,
)
from lib.emulators.realtime.input_audio import InputAudio, TurnEvent
from lib.emulators.realtime.items import Entry, ItemHistory
from lib.emulators.realtime.model import (
    SAMPLE_RATE,
    Listener,
    ModelTiming,
    Speaker,
)
from lib.emulators.realtime.response import (
    ResponseOptions,
    ResponseRun,
)
from lib.emulators.realtime.session_config import SessionConfigError, apply_update
from lib.emulators.realtime.turns import cached_responder, compose_reply, take_input_audio
from lib.emulators.realtime.usage import TokenCount, cached_share, transcription_usage

log = logging.getLogger(__name__)

CLIENT_EVENTS = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "input_audio_buffer.commit",
    "response.cancel",
    "response.create",
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "conversation.item.truncate",
)
MIN_COMMIT_MS = 100.0  # the real API refuses to commit less

Sender = Callable[[JsonDict], Awaitable[None]]


class RealtimeSession:
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

    # ---- dispatch --------------------------------------------------------------------------

    async def handle(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            await self._error(
                f"We could not parse the JSON body of your request. ({exc})",
                "invalid_json",
                None,
                None,
            )
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            await self._error(
                "Missing required parameter: 'type'.", "missing_required_parameter", "type", None
            )
            return
        kind = msg["type"]
        handler = self._handlers().get(kind)
        if handler is None:
            supported = ", ".join(f"'{k}'" for k in CLIENT_EVENTS[:-1])
            await self._error(
                f"Invalid value: '{kind}'. Supported values are: {supported}, "
                f"and '{CLIENT_EVENTS[-1]}'.",
                "invalid_value",
                "type",
                msg,
            )
            return
        await handler(msg)

    def _handlers(self) -> dict[str, Callable[[JsonDict], Awaitable[None]]]:
        return {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "output_audio_buffer.clear": self._output_clear,
            "conversation.item.create": self._item_create,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    # ---- session ---------------------------------------------------------------------------

    async def _session_update(self, msg: JsonDict) -> None:
        try:
            updated = apply_update(self.session, msg.get("session"))
        except SessionConfigError as exc:
            await self._error(str(exc), exc.code, exc.param, msg)
            return
        old_td = self.session["audio"]["input"]["turn_detection"]
        self.session = updated
        if updated["audio"]["input"]["turn_detection"] != old_td:
            self.input.configure(self._turn_detection())
            self._speech_item, self._early = None, None
        await self.send(event("session.updated", session=self.session))

    def _turn_detection(self) -> JsonDict | None:
        td: JsonDict | None = self.session["audio"]["input"]["turn_detection"]
        return td

    # ---- input audio -----------------------------------------------------------------------

    async def _append(self, msg: JsonDict) -> None:
        try:
            data = base64.b64decode(str(msg.get("audio", "")), validate=True)
        except (binascii.Error, ValueError):
            await self._error(
                "Invalid 'audio'. Expected base64-encoded audio.", "invalid_value", "audio", msg
            )
            return
        for turn in await self.input.append(data):
            await self._turn_event(turn)
        if self._speech_item is None:
            self.input.trim_idle()

    async def _turn_event(self, turn: TurnEvent) -> None:
        at_ms = turn.at_ms
        td = self._turn_detection() or {}
        if turn.kind == "speech_paused":
            if self._speech_item is not None:
                pcm = self.input.peek(self._speech_start_ms, float(at_ms))
                self._early = (at_ms, self._spawn(self._listen(pcm)))
            return
        self._early, early = None, self._early
        if turn.kind == "speech_started":
            self._speech_item = new_id("item")
            self._speech_start_ms = float(at_ms)
            await self.send(
                event(
                    "input_audio_buffer.speech_started",
                    audio_start_ms=at_ms,
                    item_id=self._speech_item,
                )
            )
            if self.active is not None and td.get("interrupt_response", True):
                self.active.cancel("turn_detected")  # barge-in
            return
        item_id = self._speech_item or new_id("item")
        self._speech_item = None
        await self.send(
            event("input_audio_buffer.speech_stopped", audio_end_ms=at_ms, item_id=item_id)
        )
        pcm = self.input.take(self._speech_start_ms, float(at_ms))
        # The turn ended where the pause began: the early transcription has the same audio.
        heard = early[1] if early is not None and early[0] == at_ms else None
        await self._commit_audio(item_id, pcm, heard)
        if td.get("create_response", True) and self.active is None:
            await self._start_response({}, None)

    async def _commit(self, msg: JsonDict) -> None:
        buffered_ms = self.input.buffered_ms
        if buffered_ms < MIN_COMMIT_MS:
            await self._error(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
                "input_audio_buffer_commit_empty",
                None,
                msg,
            )
            return
        item_id = self._speech_item or new_id("item")
        self._speech_item, self._early = None, None
        self.input.reset_vad()
        pcm = self.input.take_all()
        await self._commit_audio(item_id, pcm)

    async def _commit_audio(
        self,
        item_id: str,
        pcm: npt.NDArray[np.int16],
        heard: asyncio.Task[tuple[str, list[str]]] | None = None,
    ) -> None:
        prev = self.conversation.last_id()
        await self.send(
            event("input_audio_buffer.committed", previous_item_id=prev, item_id=item_id)
        )
        item = user_audio_item(item_id)
        entry = Entry(item, audio=pcm, audio_ms=1000.0 * pcm.size / SAMPLE_RATE)
        self.conversation.add(entry)
        await self.send(event("conversation.item.added", previous_item_id=prev, item=item))
        await self.send(event("conversation.item.done", previous_item_id=prev, item=item))
        entry.transcript = self._spawn(self._transcribe(entry, heard))

    def _prompt(self) -> str | None:
        config = self.session["audio"]["input"].get("transcription")
        return config.get("prompt") if isinstance(config, dict) else None

    async def _listen(self, pcm: npt.NDArray[np.int16]) -> tuple[str, list[str]]:
        return await asyncio.to_thread(self.listener.transcribe, pcm, self._prompt())

    async def _transcribe(
        self, entry: Entry, heard: asyncio.Task[tuple[str, list[str]]] | None = None
    ) -> str:
        """Always run (responses need the words); events only if transcription is enabled.
        `heard`: the same audio, already being transcribed since the pause that ended it."""
        config = self.session["audio"]["input"].get("transcription")
        assert entry.audio is not None
        try:
            text, deltas = await (heard if heard is not None else self._listen(entry.audio))
        except Exception as exc:  # noqa: BLE001 — reported to the client, like the real failure
            if isinstance(config, dict):
                await self.send(
                    event(
                        "conversation.item.input_audio_transcription.failed",
                        item_id=entry.item_id,
                        content_index=0,
                        error={
                            "type": "transcription_error",
                            "code": "audio_unintelligible",
                            "message": f"Transcription failed: {exc}",
                            "param": None,
                        },
                    )
                )
            return ""
        parts = entry.item["content"]
        index = next((i for i, p in enumerate(parts) if p.get("type") == "input_audio"), 0)
        parts[index]["transcript"] = text
        if isinstance(config, dict):
            ids = {"item_id": entry.item_id, "content_index": index}
            for delta in deltas:
                await self.send(
                    event("conversation.item.input_audio_transcription.delta", **ids, delta=delta)
                )
            usage = transcription_usage(str(config.get("model", "")), entry.audio_ms, text)
            await self.send(
                event(
                    "conversation.item.input_audio_transcription.completed",
                    **ids,
                    transcript=text,
                    usage=usage,
                )
            )
        return text

    async def _clear(self, msg: JsonDict) -> None:
        self.input.clear()
        self._speech_item = None
        self._early = None
        await self.send(event("input_audio_buffer.cleared"))

    async def _output_clear(self, msg: JsonDict) -> None:
        await self._error(
            "output_audio_buffer.clear is only supported for WebRTC and SIP sessions.",
            "invalid_value",
            "type",
            msg,
        )

    # ---- conversation items ----------------------------------------------------------------

    async def _item_create(self, msg: JsonDict) -> None:
        item = msg.get("item")
        if not isinstance(item, dict) or item.get("type") not in {
            "message",
            "function_call",
            "function_call_output",
        }:
            await self._error(
                "Missing required parameter: 'item.type'.",
                "missing_required_parameter",
                "item.type",
                msg,
            )
            return
        item = dict(item)
        item.setdefault("id", new_id("item"))
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        entry = Entry(item)
        audio = take_input_audio(item)
        if audio is not None:
            entry.audio, entry.audio_ms = audio, 1000.0 * audio.size / SAMPLE_RATE
        try:
            prev = self.conversation.add(entry, msg.get("previous_item_id"))
        except KeyError:
            await self._error(
                f"Invalid 'previous_item_id': no item with id '{msg.get('previous_item_id')}'.",
                "invalid_value",
                "previous_item_id",
                msg,
            )
            return
        await self.send(event("conversation.item.added", previous_item_id=prev, item=item))
        await self.send(event("conversation.item.done", previous_item_id=prev, item=item))
        if entry.audio is not None:
            entry.transcript = self._spawn(self._transcribe(entry))

    async def _item_missing(self, msg: JsonDict) -> None:
        await self._error(
            f"Item with item_id not found: {msg.get('item_id')}", "item_not_found", "item_id", msg
        )

    async def _item_delete(self, msg: JsonDict) -> None:
        item_id = str(msg.get("item_id"))
        if not self.conversation.remove(item_id):
            await self._item_missing(msg)
            return
        await self.send(event("conversation.item.deleted", item_id=item_id))

    async def _item_retrieve(self, msg: JsonDict) -> None:
        entry = self.conversation.find(str(msg.get("item_id")))
        if entry is None:
            await self._item_missing(msg)
            return
        await self.send(event("conversation.item.retrieved", item=entry.item))

    async def _item_truncate(self, msg: JsonDict) -> None:
        entry = self.conversation.find(str(msg.get("item_id")))
        if entry is None or entry.item.get("role") != "assistant":
            await self._item_missing(msg)
            return
        end_ms = float(msg.get("audio_end_ms") or 0)
        entry.audio_ms = min(entry.audio_ms, end_ms)
        await self.send(
            event(
                "conversation.item.truncated",
                item_id=entry.item_id,
                content_index=int(msg.get("content_index") or 0),
                audio_end_ms=int(end_ms),
            )
        )

    # ---- responses -------------------------------------------------------------------------

    async def _response_create(self, msg: JsonDict) -> None:
        params = msg.get("response")
        await self._start_response(params if isinstance(params, dict) else {}, msg)

    async def _response_cancel(self, msg: JsonDict) -> None:
        wanted = msg.get("response_id")
        if self.active is None or (wanted and wanted != self.active.id):
            await self._error(
                "Cancellation failed: no active response found",
                "response_cancel_not_active",
                None,
                msg,
            )
            return
        self.active.cancel("client_cancelled")

    async def _start_response(self, params: JsonDict, msg: JsonDict | None) -> None:
        if self.active is not None:
            await self._error(
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response",
                None,
                msg,
            )
            return
        s = self.session
        instructions = str(params.get("instructions", s.get("instructions")) or "")
        tools = params.get("tools", s.get("tools")) or []
        max_tokens = params.get("max_output_tokens", s.get("max_output_tokens"))
        output_audio = s["audio"]["output"]
        audio_params = (params.get("audio") or {}).get("output") or {}
        opts = ResponseOptions(
            modalities=list(params.get("output_modalities") or s["output_modalities"]),
            voice=str(audio_params.get("voice") or output_audio.get("voice") or "marin"),
            speed=float(output_audio.get("speed") or 1.0),
            instructions=instructions,
            tools_text=json.dumps(tools) if tools else "",
            metadata=params.get("metadata"),
            in_conversation=params.get("conversation", "auto") != "none",
            max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
            compose=self._composer(list(self.conversation.entries), instructions),
        )
        run = ResponseRun(self, opts)
        self.active = run
        self._spawn(self._run_response(run))

    def _composer(
        self, snapshot: list[Entry], instructions: str | None
    ) -> Callable[[ResponseRun], Awaitable[Reply | None]]:
        async def compose(run: ResponseRun) -> Reply | None:
            # The real model hears the audio itself; the responder needs the words first.
            for entry in snapshot:
                if entry.transcript is not None and await run.race(entry.transcript) is None:
                    return None
            responder = cached_responder(self._responders, instructions)
            return await run.race(asyncio.to_thread(compose_reply, responder, snapshot))

        return compose

    async def _run_response(self, run: ResponseRun) -> None:
        try:
            await run.run()
        finally:
            if self.active is run:
                self.active = None

    def cached_tokens(self, input_tokens: TokenCount) -> TokenCount:
        cached = cached_share(input_tokens, self._last_input)
        self._last_input = input_tokens
        return cached

    def finished(self, run: ResponseRun) -> None:
        if self.active is run:
            self.active = None

"""The audio buffer events: input audio appended, turns found by VAD (or committed by the
client), cleared; output_audio_buffer.clear is refused as on a WebSocket."""

from __future__ import annotations

import asyncio
import base64
import binascii
import math

import numpy as np
import numpy.typing as npt

from lib.emulators.realtime.events import JsonDict, event, new_id, user_audio_item
from lib.emulators.realtime.fields import InvalidField, missing, text
from lib.emulators.realtime.input_audio import TurnEvent
from lib.emulators.realtime.items import Entry
from lib.emulators.realtime.limits import MAX_APPEND_AUDIO_BYTES
from lib.emulators.realtime.model import SAMPLE_RATE
from lib.emulators.realtime.response_events import ResponseEvents
from lib.emulators.realtime.transcription import Transcription

MIN_COMMIT_MS = 100.0  # the real API refuses to commit less
MAX_APPEND_BASE64_CHARS = 4 * math.ceil(MAX_APPEND_AUDIO_BYTES / 3)


class BufferEvents(ResponseEvents, Transcription):
    async def _append(self, msg: JsonDict) -> None:
        if "audio" not in msg:
            raise missing("audio")
        encoded = text(msg["audio"], "audio", MAX_APPEND_BASE64_CHARS)
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidField(
                "Invalid 'audio'. Expected base64-encoded audio.", "invalid_value", "audio"
            ) from None
        self._check_audio_room(len(data))
        for turn in await self.input.append(data):
            await self._turn_event(turn)
        if self._speech_item is None:
            self.input.trim_idle()

    async def _turn_event(self, turn: TurnEvent) -> None:
        at_ms = turn.at_ms
        td = self._turn_detection() or {}
        if turn.kind == "speech_paused":
            if self._speech_item is not None:
                self._drop_early()
                pcm = self.input.peek(self._speech_start_ms, float(at_ms))
                self._early = (at_ms, self._spawn(self._listen(pcm)))
            return
        self._early, early = None, self._early
        if turn.kind == "speech_started":
            if early is not None:
                early[1].cancel()
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
        if early is not None and heard is None:
            early[1].cancel()  # heard too little: it won't be used (and may not have started)
        problem = self.conversation.full()
        if problem is not None:  # nowhere to put the turn: its audio is dropped
            await self._error(problem, "conversation_full", None, None)
            return
        await self._commit_audio(item_id, pcm, heard)
        if td.get("create_response", True) and self.active is None:
            await self._start_response({}, None)

    def _drop_early(self) -> None:
        """Forget a speculative transcription that won't be used (one at a time, at most)."""
        if self._early is not None:
            self._early[1].cancel()
            self._early = None

    async def _commit(self, msg: JsonDict) -> None:
        self._check_conversation_room()
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
        self._speech_item = None
        self._drop_early()
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
        self._hear(entry, heard)

    async def _clear(self, msg: JsonDict) -> None:
        self.input.clear()
        self._speech_item = None
        self._drop_early()
        await self.send(event("input_audio_buffer.cleared"))

    async def _output_clear(self, msg: JsonDict) -> None:
        await self._error(
            "output_audio_buffer.clear is only supported for WebRTC and SIP sessions.",
            "invalid_value",
            "type",
            msg,
        )

"""One Realtime connection: client events in, GA server events out.

State: the effective session config, the input audio buffer (with server/semantic VAD, or
push-to-talk when turn_detection is null), the conversation, and at most one active response.
Client events are handled strictly in arrival order; responses and transcriptions run as tasks.

The handlers live in mixins over `RealtimeSessionState`: `buffer_events` (input audio and turns),
`item_events`, `response_events`; `transcription` hears the committed audio.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from lib.emulators.realtime.buffer_events import BufferEvents
from lib.emulators.realtime.events import JsonDict, event
from lib.emulators.realtime.item_events import ItemEvents
from lib.emulators.realtime.session_config import SessionConfigError, apply_update

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


class RealtimeSession(BufferEvents, ItemEvents):
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

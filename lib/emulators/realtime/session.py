"""One Realtime connection: client events in, GA server events out.

State: the effective session config, the input audio buffer (with server/semantic VAD, or
push-to-talk when turn_detection is null), the conversation, and at most one active response.
Client events are handled strictly in arrival order; responses and transcriptions run as tasks.

The handlers live in mixins over `RealtimeSessionState`: `buffer_events` (input audio and turns),
`item_events`, `response_events`; `transcription` hears the committed audio.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocketDisconnect

from lib.emulators.realtime.buffer_events import BufferEvents
from lib.emulators.realtime.events import JsonDict, error_event, event
from lib.emulators.realtime.fields import (
    InvalidField,
    invalid_value,
    missing,
    parse_json,
    shown,
    text,
)
from lib.emulators.realtime.item_events import ItemEvents
from lib.emulators.realtime.limits import MAX_EVENT_ID_CHARS, MAX_NAME_CHARS
from lib.emulators.realtime.session_config import apply_update

log = logging.getLogger(__name__)
# OpenAI's wording for its own failures (type server_error).
SERVER_ERROR_MESSAGE = (
    "The server had an error while processing your request. Sorry about that! The error was "
    "logged by the local Realtime server; you can retry your request."
)

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
        """One client event. Whatever it holds, the connection stays open: a refused field
        gets OpenAI's `error` event, and a handler that fails unexpectedly a `server_error`
        event (the traceback goes to the log)."""
        msg: JsonDict | None = None
        try:
            msg = self._parse(raw)
            handler = self._handlers().get(msg["type"])
            if handler is None:
                raise invalid_value("type", msg["type"], CLIENT_EVENTS)
            await handler(msg)
        except InvalidField as exc:
            await self._error(str(exc), exc.code, exc.param, msg)
        except WebSocketDisconnect:
            raise
        except Exception:
            log.exception("realtime: %s failed", shown(msg.get("type")) if msg else "event")
            await self.send(
                error_event(
                    SERVER_ERROR_MESSAGE,
                    code=None,
                    client_event_id=msg.get("event_id") if msg else None,
                    error_type="server_error",
                )
            )

    @staticmethod
    def _parse(raw: str | bytes) -> JsonDict:
        try:
            msg = parse_json(raw)
        except ValueError as exc:
            raise InvalidField(
                f"We could not parse the JSON body of your request. ({exc})", "invalid_json", None
            ) from None
        if not isinstance(msg, dict) or "type" not in msg:
            raise missing("type")
        text(msg["type"], "type", MAX_NAME_CHARS)
        if msg.get("event_id") is not None:
            text(msg["event_id"], "event_id", MAX_EVENT_ID_CHARS)
        return msg

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
        updated = apply_update(self.session, msg.get("session"))
        old_td = self.session["audio"]["input"]["turn_detection"]
        self.session = updated
        if updated["audio"]["input"]["turn_detection"] != old_td:
            self.input.configure(self._turn_detection())
            self._speech_item = None
            self._drop_early()
        await self.send(event("session.updated", session=self.session))

"""Speech progress → each API's events (the `SpeechListener`s).

* HeyGen v1: data-channel JSON on the room (`avatar_start_talking`, `avatar_talking_message`,
  `avatar_end_message`, `avatar_stop_talking` with `duration_ms`).
* LiveAvatar FULL: `agent-response` JSON on the room (`avatar.speak_started`,
  `avatar.transcription`, `avatar.transcription.chunk`, `avatar.speak_ended`).
* Audio sockets (HeyGen realtime_endpoint, LiveAvatar LITE ws_url): `agent.speak_started`,
  `agent.speak_ended` (after `agent.speak_interrupted` when cut short), and on LITE
  `agent.state_updated`.

`duration_ms` on the LiveAvatar and socket end events is an emulator addition (the real
events carry no duration); it is what was actually played.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from lib.emulators.rooms.speech import Speech, SpeechListener, StreamedSpeech
from lib.emulators.rooms.stream import AvatarStream


def _ms(value: float) -> float:
    return round(value, 1)


class HeyGenRoomEvents:
    def __init__(self, stream: AvatarStream) -> None:
        self._stream = stream

    def started(self, speech: Speech) -> None:
        self._stream.broadcast({"type": "avatar_start_talking", "task_id": speech.task_id})

    def word(self, speech: Speech, text: str) -> None:
        self._stream.broadcast(
            {"type": "avatar_talking_message", "task_id": speech.task_id, "message": text}
        )

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None:
        self._stream.broadcast({"type": "avatar_end_message", "task_id": speech.task_id})
        self._stream.broadcast(
            {
                "type": "avatar_stop_talking",
                "task_id": speech.task_id,
                "duration_ms": _ms(spoken_ms),
            }
        )


class LiveAvatarRoomEvents:
    def __init__(
        self, stream: AvatarStream, session_id: str, source_event_id: str, text: str
    ) -> None:
        self._stream = stream
        self._session_id = session_id
        self._source = source_event_id
        self._text = text

    def _send(self, event_type: str, **fields: Any) -> None:
        self._stream.broadcast(
            {
                "event_type": event_type,
                "session_id": self._session_id,
                "event_id": uuid.uuid4().hex,
                "source_event_id": self._source,
                **fields,
            }
        )

    def started(self, speech: Speech) -> None:
        self._send("avatar.speak_started")
        # The real service sends the transcript as speech starts (it runs ahead of the video);
        # the connector's speech has none yet (it comes when the model's transcript is done).
        if self._text:
            self._send("avatar.transcription", text=self._text)

    def word(self, speech: Speech, text: str) -> None:
        self._send("avatar.transcription.chunk", text=text)

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None:
        self._send("avatar.speak_ended", duration_ms=_ms(spoken_ms), interrupted=interrupted)


class AgentSocketEvents:
    """Events for audio a client streamed in; `send` queues JSON on that client's socket."""

    def __init__(
        self, send: Callable[[dict[str, Any]], None], *, end_after_interrupt: bool = False
    ) -> None:
        self._send = send
        self._end_after_interrupt = end_after_interrupt

    def _event(self, speech: Speech, kind: str, **fields: Any) -> None:
        event_id = speech.event_id if isinstance(speech, StreamedSpeech) else speech.task_id
        self._send({"type": kind, "event_id": event_id, "task": {"id": speech.task_id}, **fields})

    def started(self, speech: Speech) -> None:
        self._event(speech, "agent.speak_started")

    def word(self, speech: Speech, text: str) -> None:
        pass  # streamed audio has no words

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None:
        # On LITE an interrupted reply also ends: LiveAvatar's web SDK knows only speak_ended,
        # and LiveKit's plugin, having latched speak_interrupted, does not count it as played.
        if interrupted:
            self._event(speech, "agent.speak_interrupted", duration_ms=_ms(spoken_ms))
            if not self._end_after_interrupt:
                return  # HeyGen's endpoint: the interrupted event alone
        self._event(
            speech, "agent.speak_ended", duration_ms=_ms(spoken_ms), interrupted=interrupted
        )


class AgentStates:
    """LITE's `agent.state_updated` (idle / listening / talking) as speech starts and ends."""

    def __init__(
        self, send: Callable[[dict[str, Any]], None], *, listening: Callable[[], bool]
    ) -> None:
        self._send = send
        self._listening = listening
        self.state = "idle"
        self._talking = 0  # replies started and not yet ended

    def _move(self, new_state: str) -> None:
        if new_state != self.state:
            old, self.state = self.state, new_state
            self._send(
                {
                    "type": "agent.state_updated",
                    "event_id": uuid.uuid4().hex,
                    "previous_state": old,
                    "new_state": new_state,
                    "state": new_state,
                }
            )

    def settle(self) -> None:
        """The state when not talking follows whether the avatar listens."""
        if not self._talking:
            self._move("listening" if self._listening() else "idle")

    def started(self, speech: Speech) -> None:
        self._talking += 1
        self._move("talking")

    def word(self, speech: Speech, text: str) -> None:
        pass

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None:
        self._talking = max(0, self._talking - 1)
        self.settle()


class BothEvents:
    """HeyGen realtime audio is also reported on the room's data channel."""

    def __init__(self, *listeners: SpeechListener) -> None:
        self._listeners = listeners

    def started(self, speech: Speech) -> None:
        for listener in self._listeners:
            listener.started(speech)

    def word(self, speech: Speech, text: str) -> None:
        for listener in self._listeners:
            listener.word(speech, text)

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None:
        for listener in self._listeners:
            listener.ended(speech, spoken_ms, interrupted)

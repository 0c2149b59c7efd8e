"""The audio-in websocket: HeyGen's `realtime_endpoint` (`/v1/realtime/{session_id}`) and
LiveAvatar LITE's `ws_url` (`/v1/liveavatar/ws/{session_id}?token=...`).

Clients stream PCM16 24 kHz mono as base64 `agent.speak {audio, event_id}` chunks and end an
utterance with `agent.speak_end`; the avatar lip-syncs it and plays it on the room at 48 kHz.
On LiveAvatar LITE the audio is one buffer until `speak_end`, whatever ids the chunks carry:
LiveKit's LiveAvatar plugin gives every chunk (and the `speak_end`) a fresh `event_id`, and the
service's newer names (`agent.audio_buffer_append/commit/clear`, accepted as aliases) say the
same. So a reply gets one `agent.speak_started` and one `agent.speak_ended` once the buffer has
played out (after `agent.speak_interrupted` when cut short). On HeyGen's endpoint, as pipecat
uses it, a new `event_id` starts a new utterance. LITE sockets also acknowledge the buffer commands
(`agent.audio_buffer_appended/committed/cleared`) and report `agent.state_updated`
(idle / listening / talking), which the plugin takes as speaking state.
Messages over 1 MB close the socket with 1009 (uvicorn's `ws_max_size`, set by the CLI).

Bounded: at most MAX_QUEUED_SPEECH_S of audio waits per session (a chunk beyond that gets an
`error` and is dropped), MAX_OUTBOX messages wait for a client (one that stops reading is
disconnected with 1008), and text quoted back in errors is clipped.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import uuid
from collections import deque
from typing import Any, Final

import numpy as np
from starlette.websockets import WebSocket

from lib.emulators.rooms.api_errors import ApiError
from lib.emulators.rooms.bounds import clip, load_json
from lib.emulators.rooms.room_socket import admit, dispatch_received
from lib.emulators.rooms.sessions import Session
from lib.emulators.rooms.speaking import check_backlog
from lib.emulators.rooms.speech import SpeechListener, StreamedSpeech
from lib.emulators.rooms.speech_events import (
    AgentSocketEvents,
    AgentStates,
    BothEvents,
    HeyGenRoomEvents,
)

SPEAK = {"agent.speak", "agent.audio_buffer_append"}
SPEAK_END = {"agent.speak_end", "agent.audio_buffer_commit"}
INTERRUPT = {"agent.interrupt", "agent.audio_buffer_clear"}
START_LISTENING = {"agent.start_listening"}
STOP_LISTENING = {"agent.stop_listening", "agent.end_listening"}
# Messages waiting for a client: a reading one has a few (two events per utterance, an error
# per bad message); this many means it stopped reading (like a room viewer's MAX_OUTBOX).
MAX_OUTBOX: Final = 256
MAX_EVENT_ID: Final = 128  # clients send UUIDs (36 characters)
OVERFLOW_CLOSE: Final = 1008  # policy violation
OVERFLOW_REASON: Final = "client stopped reading its messages"
CLOSE_WAIT_S: Final = 1.0  # a close frame that cannot go out by then is not sent


async def heygen_endpoint(websocket: WebSocket) -> None:
    # The token is the session's agent_token, part of realtime_endpoint from streaming.new.
    session = await admit(
        websocket, fits=lambda s: s.api == "heygen", token_of=lambda s: s.agent_token
    )
    if session is not None:
        await _serve(websocket, session)


async def lite_endpoint(websocket: WebSocket) -> None:
    # The token is part of ws_url from /v1/sessions/start.
    session = await admit(websocket, fits=lambda s: s.mode == "LITE", token_of=lambda s: s.ws_token)
    if session is not None:
        await _serve(websocket, session)


class _AgentConnection:
    """One audio socket: what the client sends becomes speech; what the server says goes out
    through a bounded outbox (a client that stops reading is disconnected, not buffered for)."""

    def __init__(self, websocket: WebSocket, session: Session) -> None:
        self.websocket = websocket
        self.session = session
        self._outbox: deque[str | None] = deque()  # None: close after what is before it
        self._wake = asyncio.Event()
        self.overflowed = asyncio.Event()
        self.lite = session.api == "liveavatar"
        events: SpeechListener = AgentSocketEvents(self.send, end_after_interrupt=self.lite)
        self.states: AgentStates | None = None
        if self.lite:
            self.states = AgentStates(self.send, listening=lambda: session.listening)
            events = BothEvents(events, self.states)
        else:
            events = BothEvents(events, HeyGenRoomEvents(session.stream))
        self.events = events
        self.speech: StreamedSpeech | None = None

    def send(self, message: dict[str, Any]) -> None:
        self._put(json.dumps(message))

    def _put(self, item: str | None) -> None:
        if self.overflowed.is_set():
            return
        if len(self._outbox) >= MAX_OUTBOX:
            self.overflowed.set()  # _serve disconnects the client
            return
        self._outbox.append(item)
        self._wake.set()

    def on_session_closed(self, reason: str) -> None:
        self.send({"type": "session.state_updated", "state": "closed", "reason": reason})
        self._put(None)

    def finish(self) -> None:
        """Close the socket once what is queued has gone out."""
        self._put(None)

    async def run_sender(self) -> None:
        """The only coroutine that sends on this websocket (Starlette sends are not reentrant)."""
        with contextlib.suppress(Exception):
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox:
                    item = self._outbox.popleft()
                    if item is None:
                        await self.websocket.close(1000, "session closed")
                        return
                    await self.websocket.send_text(item)

    def error(self, event_id: str, message: str) -> None:
        # `error` too: LiveKit's plugin logs that field.
        text = message
        self.send({"type": "error", "event_id": clip(event_id), "message": text, "error": text})

    def ack(self, kind: str, event_id: str) -> None:
        """LITE's acknowledgement of a buffer command."""
        if self.lite:
            self.send({"type": kind, "event_id": event_id or uuid.uuid4().hex})

    def handle(self, raw: str) -> None:
        try:
            msg = load_json(raw)
        except ValueError:  # not JSON, or nested absurdly deep
            self.error("", "messages must be JSON objects with a 'type'")
            return
        if not isinstance(msg, dict):
            self.error("", "messages must be JSON objects with a 'type'")
            return
        kind = str(msg.get("type", ""))
        event_id = str(msg.get("event_id") or "")
        if len(event_id) > MAX_EVENT_ID:
            self.error(event_id, f"'event_id' must be at most {MAX_EVENT_ID} characters")
            return
        session = self.session
        session.touch()
        if kind in SPEAK:
            if self._speak(event_id, msg.get("audio")):
                self.ack("agent.audio_buffer_appended", event_id)
        elif kind in SPEAK_END:
            # LITE commits whatever was buffered; HeyGen's endpoint ends the utterance named.
            if self.speech is not None and (self.lite or event_id in ("", self.speech.event_id)):
                self.speech.end_input()
                self.speech = None
            self.ack("agent.audio_buffer_committed", event_id)
        elif kind in INTERRUPT:
            self.speech = None
            session.stream.interrupt()
            self.ack("agent.audio_buffer_cleared", event_id)
        elif kind in START_LISTENING | STOP_LISTENING:
            session.listening = kind in START_LISTENING
            if self.states is not None:
                self.states.settle()
        elif kind != "session.keep_alive":
            self.error(event_id, f"unknown message type {clip(kind)!r}")

    def _speak(self, event_id: str, audio: Any) -> bool:
        """Append a chunk to the reply being buffered (a new reply if none is); False when the
        chunk is refused (the client is told why)."""
        try:
            check_backlog(self.session)
        except ApiError as exc:  # the chunk is dropped: the client sends faster than it plays
            self.error(event_id, f"agent.speak: {exc.body['message']}")
            return False
        try:
            raw = base64.b64decode(str(audio or ""), validate=True)
        except (binascii.Error, ValueError):
            self.error(event_id, "agent.speak 'audio' must be base64 PCM16 24 kHz mono")
            return False
        if len(raw) % 2:
            self.error(event_id, "agent.speak 'audio' has an odd number of bytes (PCM16 expected)")
            return False
        speech = self.speech
        if speech is not None and not self.lite and event_id and event_id != speech.event_id:
            speech.end_input()  # HeyGen's endpoint: a new event_id starts a new utterance
            speech = None
        if speech is None:
            # The reply is known by its first chunk's id (the events carry it).
            speech = StreamedSpeech(self.events, event_id=event_id or uuid.uuid4().hex)
            self.speech = speech
            self.session.stream.enqueue(speech)
        speech.append_24k(np.frombuffer(raw, dtype="<i2").astype(np.int16))
        return True


async def _serve(websocket: WebSocket, session: Session) -> None:
    await websocket.accept()
    conn = _AgentConnection(websocket, session)
    if session.closed:
        conn.on_session_closed(session.end_reason or "closed")
    else:
        session.on_close.append(conn.on_session_closed)
        conn.send(
            {"type": "session.state_updated", "event_id": uuid.uuid4().hex, "state": "connected"}
        )
    sender = asyncio.create_task(conn.run_sender(), name="agent-sender")
    receiver = asyncio.create_task(
        dispatch_received(websocket, session, conn.handle), name="agent-receiver"
    )
    overflow = asyncio.create_task(conn.overflowed.wait(), name="agent-overflow")
    try:
        await asyncio.wait({receiver, overflow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        with contextlib.suppress(ValueError):
            session.on_close.remove(conn.on_session_closed)
        if conn.speech is not None:
            conn.speech.end_input()  # play what arrived; the client is gone
        if conn.overflowed.is_set():
            await _disconnect(websocket, sender, receiver)
        elif not sender.done():
            conn.finish()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(sender), 1.0)
        for task in (sender, receiver, overflow):
            task.cancel()
    error = receiver.exception() if receiver.done() and not receiver.cancelled() else None
    if error is not None:
        raise error  # a bug: uvicorn logs it


async def _disconnect(
    websocket: WebSocket, sender: asyncio.Task[None], receiver: asyncio.Task[None]
) -> None:
    """A client that stopped reading: stop serving it. Its socket gets a close frame if it
    can still take one; otherwise the handler ends and uvicorn drops the connection."""
    sender.cancel()
    receiver.cancel()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(OVERFLOW_CLOSE, OVERFLOW_REASON), CLOSE_WAIT_S)

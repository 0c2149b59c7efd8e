"""The audio-in websocket: HeyGen's `realtime_endpoint` (`/v1/realtime/{session_id}`) and
LiveAvatar LITE's `ws_url` (`/v1/liveavatar/ws/{session_id}?token=...`).

Clients stream PCM16 24 kHz mono as base64 `agent.speak {audio, event_id}` chunks and end an
utterance with `agent.speak_end`; the avatar lip-syncs it and plays it on the room at 48 kHz.
Messages over 1 MiB close the socket with 1009 (uvicorn's `ws_max_size`, set by the CLI).
The documented alpha names (`agent.audio_buffer_append/commit/clear`) are accepted as aliases.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import uuid
from typing import Any

import numpy as np
from starlette.websockets import WebSocket

from lib.emulators.rooms.room_socket import admit, dispatch_received
from lib.emulators.rooms.sessions import Session
from lib.emulators.rooms.speech import SpeechListener, StreamedSpeech
from lib.emulators.rooms.speech_events import AgentSocketEvents, BothEvents, HeyGenRoomEvents

SPEAK = {"agent.speak", "agent.audio_buffer_append"}
SPEAK_END = {"agent.speak_end", "agent.audio_buffer_commit"}
INTERRUPT = {"agent.interrupt", "agent.audio_buffer_clear"}
START_LISTENING = {"agent.start_listening"}
STOP_LISTENING = {"agent.stop_listening", "agent.end_listening"}


async def heygen_endpoint(websocket: WebSocket) -> None:
    session = await admit(websocket, fits=lambda s: s.api == "heygen")
    if session is not None:
        await _serve(websocket, session)


async def lite_endpoint(websocket: WebSocket) -> None:
    # The token is part of ws_url from /v1/sessions/start.
    session = await admit(websocket, fits=lambda s: s.mode == "LITE", token_of=lambda s: s.ws_token)
    if session is not None:
        await _serve(websocket, session)


class _AgentConnection:
    def __init__(self, websocket: WebSocket, session: Session) -> None:
        self.websocket = websocket
        self.session = session
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        events: SpeechListener = AgentSocketEvents(self.send)
        if session.api == "heygen":
            events = BothEvents(events, HeyGenRoomEvents(session.stream))
        self.events = events
        self.speech: StreamedSpeech | None = None

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.put_nowait(message)

    def on_session_closed(self, reason: str) -> None:
        self.send({"type": "session.state_updated", "state": "closed", "reason": reason})
        self.outbox.put_nowait(None)

    async def run_sender(self) -> None:
        with contextlib.suppress(Exception):
            while (message := await self.outbox.get()) is not None:
                await self.websocket.send_text(json.dumps(message))
            await self.websocket.close(1000, "session closed")

    def error(self, event_id: str, message: str) -> None:
        self.send({"type": "error", "event_id": event_id, "message": message})

    def handle(self, raw: str) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            self.error("", "messages must be JSON objects with a 'type'")
            return
        if not isinstance(msg, dict):
            self.error("", "messages must be JSON objects with a 'type'")
            return
        kind = str(msg.get("type", ""))
        event_id = str(msg.get("event_id") or "")
        session = self.session
        session.touch()
        if kind in SPEAK:
            self._speak(event_id, msg.get("audio"))
        elif kind in SPEAK_END:
            if self.speech is not None and event_id in ("", self.speech.event_id):
                self.speech.end_input()
                self.speech = None
        elif kind in INTERRUPT:
            self.speech = None
            session.stream.interrupt()
        elif kind in START_LISTENING:
            session.listening = True
        elif kind in STOP_LISTENING:
            session.listening = False
        elif kind != "session.keep_alive":
            self.error(event_id, f"unknown message type {kind!r}")

    def _speak(self, event_id: str, audio: Any) -> None:
        try:
            raw = base64.b64decode(str(audio or ""), validate=True)
        except (binascii.Error, ValueError):
            self.error(event_id, "agent.speak 'audio' must be base64 PCM16 24 kHz mono")
            return
        if len(raw) % 2:
            self.error(event_id, "agent.speak 'audio' has an odd number of bytes (PCM16 expected)")
            return
        speech = self.speech
        if speech is None or (event_id and event_id != speech.event_id):
            if speech is not None:
                speech.end_input()  # a new utterance implicitly ends the previous one
            speech = StreamedSpeech(self.events, event_id=event_id or uuid.uuid4().hex)
            self.speech = speech
            self.session.stream.enqueue(speech)
        speech.append_24k(np.frombuffer(raw, dtype="<i2").astype(np.int16))


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
    try:
        await dispatch_received(websocket, session, conn.handle)
    finally:
        with contextlib.suppress(ValueError):
            session.on_close.remove(conn.on_session_closed)
        if conn.speech is not None:
            conn.speech.end_input()  # play what arrived; the client is gone
        if not sender.done():
            conn.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(sender), 1.0)
            sender.cancel()

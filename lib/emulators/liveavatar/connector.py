"""LiveAvatar's OpenAI Realtime connector, for real: a LITE session whose token carries
`openai_realtime_config` has this server run the voice model itself.

On start the server opens its own GA Realtime session (`<endpoint>/v1/realtime?model=...`,
the stored secret as its key, the context's prompt as instructions, server VAD, input
transcription), sends it the user's microphone from the room (resampled to PCM16 24 kHz, no
faster than real time), and lip-syncs the spoken answers on the avatar. A user who starts
speaking cuts the avatar short (the model's server VAD cancels its answer too). The room
hears what LiveAvatar's connectors report, in FULL mode's event shapes (their docs say so for
the ElevenLabs and Cartesia connectors; the OpenAI one documents none): `user.speak_started`,
`user.speak_ended`, `user.transcription`, `avatar.speak_started`, `avatar.transcription`,
`avatar.speak_ended`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import websockets
from websockets.asyncio.client import ClientConnection

from lib.emulators.engines.audio import resample
from lib.emulators.rooms.ears import RealTimeGate
from lib.emulators.rooms.sessions import Session
from lib.emulators.rooms.speech import StreamedSpeech
from lib.emulators.rooms.speech_events import LiveAvatarRoomEvents

log = logging.getLogger(__name__)
RATE: Final = 24_000
CONNECT_TIMEOUT_S: Final = 10.0
MAX_MESSAGE: Final = 16 * 2**20
TRANSCRIPTION_MODEL: Final = "gpt-4o-mini-transcribe"
MAX_TEXT: Final = 4_000  # a typed message's characters passed on
JOIN_WAIT_S: Final = 30.0
MAX_CANCELLED: Final = 64


@dataclass(frozen=True)
class ConnectorConfig:
    base_url: str  # the Realtime endpoint's base, e.g. https://api.openai.com
    key: str = field(repr=False)  # the stored secret's value
    model: str
    voice: str
    temperature: float
    instructions: str
    opening_text: str | None


class RealtimeConnector:
    """One connector session, on the server's loop."""

    def __init__(self, session: Session, config: ConnectorConfig) -> None:
        self.session = session
        self.config = config
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._gate = RealTimeGate()
        self._speech: StreamedSpeech | None = None
        self._speaking_response: str | None = None
        self.failed: str | None = None
        self._pending: set[asyncio.Task[None]] = set()
        # Answers cut short: their deltas still in flight must not restart the avatar.
        self._cancelled: set[str] = set()

    def start(self, on_failure: Callable[[str], None]) -> None:
        self._task = asyncio.create_task(self._run(on_failure), name="realtime-connector")

    async def _run(self, on_failure: Callable[[str], None]) -> None:
        url = self.config.base_url.rstrip("/").replace("http", "ws", 1)
        url = f"{url}/v1/realtime?model={quote(self.config.model)}"
        try:
            async with websockets.connect(
                url,
                additional_headers={"Authorization": f"Bearer {self.config.key}"},
                open_timeout=CONNECT_TIMEOUT_S,
                max_size=MAX_MESSAGE,
            ) as ws:
                self._ws = ws
                await self._send(self._session_update())
                await self._someone_watching()
                if self.config.opening_text:
                    await self._send(
                        {
                            "type": "response.create",
                            "response": {
                                "instructions": f"Say exactly: {self.config.opening_text}"
                            },
                        }
                    )
                async for raw in ws:
                    self._on_event(json.loads(raw))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the session ends with the reason logged
            self.failed = f"{type(exc).__name__}: {exc}"
            log.warning("connector session %s failed: %s", self.session.session_id, self.failed)
        finally:
            self._ws = None
            self._end_speech()
        if not self.session.closed:
            on_failure(self.failed or "the voice model closed the connection")

    async def _someone_watching(self) -> None:
        """The opening line waits for a viewer: the room's events reach only those present."""
        deadline = time.monotonic() + JOIN_WAIT_S
        while not self.session.ever_joined and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    def _session_update(self) -> dict[str, Any]:
        pcm = {"type": "audio/pcm", "rate": RATE}
        return {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "output_modalities": ["audio"],
                "instructions": self.config.instructions,
                "audio": {
                    "input": {
                        "format": pcm,
                        "turn_detection": {"type": "server_vad", "interrupt_response": True},
                        "transcription": {"model": TRANSCRIPTION_MODEL},
                    },
                    "output": {"format": pcm, "voice": self.config.voice},
                },
            },
        }

    async def _send(self, event: dict[str, Any]) -> None:
        if self._ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):  # the run loop ends it
                await self._ws.send(json.dumps(event))

    # ---- the user's microphone from the room ----------------------------------------------
    async def hear(self, pcm: npt.NDArray[np.int16], sample_rate: int) -> None:
        if self._ws is None or sample_rate <= 0 or not self._gate.take(pcm.size / sample_rate):
            return  # not connected yet, or faster than anyone speaks: dropped
        if sample_rate != RATE:
            pcm = resample(pcm, sample_rate, RATE)
        audio = base64.b64encode(pcm.astype("<i2").tobytes()).decode()
        await self._send({"type": "input_audio_buffer.append", "audio": audio})

    # ---- commands on the room (`agent-control`), as the web SDK sends them -----------------
    def control(self, data: dict[str, Any]) -> None:
        """`avatar.speak_response {text}`: the model answers typed text (the web SDK's
        `message()`); `avatar.speak_text {text}`: the model says the text; `avatar.interrupt`."""
        kind = str(data.get("event_type", ""))
        text = str(data.get("text") or "").strip()[:MAX_TEXT]
        if kind == "avatar.interrupt":
            if self._speaking_response is not None:  # else nothing to cancel (no error back)
                self._fire({"type": "response.cancel"})
            self._interrupt()
        elif kind == "avatar.speak_response" and text:
            self._fire(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": text}],
                    },
                }
            )
            self._fire({"type": "response.create"})
        elif kind == "avatar.speak_text" and text:
            self._fire(
                {"type": "response.create", "response": {"instructions": f"Say exactly: {text}"}}
            )

    def _fire(self, event: dict[str, Any]) -> None:
        if self._ws is None:
            return
        task = asyncio.create_task(self._send(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # ---- the model's events → the avatar and the room -------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        if kind == "input_audio_buffer.speech_started":
            self._room("user.speak_started")
            self._interrupt()
        elif kind == "input_audio_buffer.speech_stopped":
            self._room("user.speak_ended")
        elif kind == "conversation.item.input_audio_transcription.completed":
            self._room("user.transcription", text=str(event.get("transcript", "")))
        elif kind == "response.output_audio.delta":
            self._speak(str(event.get("response_id", "")), str(event.get("delta", "")))
        elif kind == "response.output_audio_transcript.done":
            self._room("avatar.transcription", text=str(event.get("transcript", "")))
        elif kind == "response.done":
            response = event.get("response") or {}
            if response.get("status") == "cancelled":
                self._cancelled.add(str(response.get("id", "")))
            self._end_speech()
        elif kind == "error":
            log.warning("connector %s: %s", self.session.session_id, event.get("error"))

    def _room(self, event_type: str, **fields: str) -> None:
        s = self.session
        if not s.closed:
            s.stream.broadcast(
                {
                    "event_type": event_type,
                    "session_id": s.session_id,
                    "event_id": uuid.uuid4().hex,
                    **fields,
                }
            )

    def _speak(self, response_id: str, delta: str) -> None:
        if response_id in self._cancelled:
            return
        try:
            pcm = np.frombuffer(base64.b64decode(delta), dtype="<i2").astype(np.int16)
        except ValueError:
            return
        if self._speech is None or self._speaking_response != response_id:
            self._end_speech()
            events = LiveAvatarRoomEvents(
                self.session.stream, self.session.session_id, response_id, ""
            )
            self._speech = StreamedSpeech(events, event_id=response_id or uuid.uuid4().hex)
            self._speaking_response = response_id
            self.session.stream.enqueue(self._speech)
        self._speech.append_24k(pcm)

    def _end_speech(self) -> None:
        if self._speech is not None:
            self._speech.end_input()
        self._speech, self._speaking_response = None, None

    def _interrupt(self) -> None:
        if self._speaking_response is not None:
            self._cancelled.add(self._speaking_response)
            while len(self._cancelled) > MAX_CANCELLED:
                self._cancelled.pop()
        self._speech, self._speaking_response = None, None
        self.session.stream.interrupt()

    def stop(self) -> None:
        """The session ended: close the voice model's session and drop what was to be sent."""
        for task in (self._task, *self._pending):
            if task is not None:
                task.cancel()

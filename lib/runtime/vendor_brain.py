"""The voice model when the vendor runs it (LiveAvatar's OpenAI Realtime connector): the
conversation's brain seat, filled from the avatar's side.

Nothing of ours talks to a model: LiveAvatar hears the user in its room, answers and
lip-syncs. This stands where the Realtime client would, so the conversation keeps one shape:
it is ready when started, forwards typed text to the vendor's model (`ask`), and keeps the
transcript from the room's events (what the avatar heard, what it said).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lib.avatar.base import AvatarEvent, TalkingMessage, UserTranscript
from lib.brain.base import BrainSnapshot, Line
from lib.brain.events import BrainEvent, SessionState
from lib.brain.settings import RealtimeSettings
from lib.bridge.ports import TaskNote
from lib.runtime.avatar_runner import AvatarRunner

MAX_LINES = 200


class VendorBrain:
    provider = "vendor"
    record_id: str | None = None

    def __init__(self, runner: AvatarRunner) -> None:
        self._runner = runner
        self._subscribers: list[Callable[[BrainEvent], None]] = []
        self._lines: list[Line] = []
        self._lock = threading.Lock()
        self._started = False
        runner.subscribe(self._on_avatar)

    def subscribe(self, fn: Callable[[BrainEvent], None]) -> None:
        self._subscribers.append(fn)

    def start(self, settings: RealtimeSettings) -> None:
        """Ready at once: the model's session is the avatar session's (started with it)."""
        self._started = True
        event = SessionState("session.created", {"vendor": True}, at=time.time())
        for fn in list(self._subscribers):
            fn(event)

    def update(self, settings: RealtimeSettings) -> None:
        pass  # the vendor's context was fixed when its session started

    def snapshot(self) -> BrainSnapshot:
        with self._lock:
            lines = tuple(self._lines)
        return BrainSnapshot(
            state="listening" if self._started else "offline",
            connected=self._started,
            lines=lines,
            problem=None,
            reconnects=0,
            session={"vendor": True},
            record_id=None,
            audio_in_s=0.0,
            responses=sum(1 for line in lines if line.role == "assistant"),
        )

    def wait_connected(self, timeout: float = 15.0) -> BrainSnapshot:
        return self.snapshot()

    def send_text(self, text: str) -> None:
        self._runner.ask_soon(text)

    def respond(self) -> None:
        pass  # the vendor's model speaks its context's opening line by itself

    def cancel(self) -> None:
        pass  # the avatar's interrupt cancels the vendor's answer

    def send_function_output(self, call_id: str, output: str) -> None:
        pass  # no tools through the connector

    def append_audio(self, pcm24k: bytes) -> None:
        pass  # the user's voice goes into the avatar's room

    def clear_audio(self) -> None:
        pass

    def push_to_talk_end(self) -> None:
        pass

    def shutdown(self) -> None:
        self._started = False

    def _on_avatar(self, note: TaskNote | AvatarEvent) -> None:
        if isinstance(note, UserTranscript) and note.text.strip():
            self._add(Line("user", note.turn_id or f"u{note.at}", note.text.strip(), note.at, True))
        elif isinstance(note, TalkingMessage) and note.text.strip():
            self._add(Line("assistant", note.task_id, note.text.strip(), note.at, True))

    def _add(self, line: Line) -> None:
        with self._lock:
            self._lines.append(line)
            del self._lines[:-MAX_LINES]

"""What the conversation needs of a voice or text model: the Realtime session and the
streaming text model both provide it, and both speak in the same typed events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from lib.brain.events import BrainEvent
from lib.brain.settings import RealtimeSettings
from lib.core.problem import Problem

TurnState = Literal[
    "offline",
    "connecting",
    "listening",
    "user_speaking",
    "thinking",
    "responding",
    "reconnecting",
    "failed",
]


@dataclass
class Line:
    role: Literal["user", "assistant"]
    key: str  # item_id (user) or response_id (assistant)
    text: str
    at: float
    final: bool = False
    status: str = ""


@dataclass(frozen=True)
class BrainSnapshot:
    state: TurnState
    connected: bool
    lines: tuple[Line, ...]
    problem: Problem | None
    reconnects: int
    session: dict[str, Any]
    record_id: str | None
    audio_in_s: float
    responses: int


class Brain(Protocol):
    provider: str
    record_id: str | None

    def subscribe(self, fn: Callable[[BrainEvent], None]) -> None: ...

    def start(self, settings: RealtimeSettings) -> None: ...

    def update(self, settings: RealtimeSettings) -> None: ...

    def snapshot(self) -> BrainSnapshot: ...

    def wait_connected(self, timeout: float = 15.0) -> BrainSnapshot: ...

    def send_text(self, text: str) -> None: ...

    def respond(self) -> None: ...

    def cancel(self) -> None: ...

    def send_function_output(self, call_id: str, output: str) -> None: ...

    def append_audio(self, pcm24k: bytes) -> None: ...

    def clear_audio(self) -> None: ...

    def push_to_talk_end(self) -> None: ...

    def shutdown(self) -> None: ...

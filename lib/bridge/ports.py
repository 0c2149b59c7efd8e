"""What the bridge needs of the two sides, and what the avatar side tells it back.

The runtime's avatar runner and the voice model clients implement these; the bridge knows them
only through these shapes, so it can be driven by fakes in tests and by the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from lib.avatar.base import Emotion


@dataclass(frozen=True)
class TaskNote:
    """What happened to a piece handed over with `speak_soon` / `speak_audio_soon`, for the
    bridge. `token` is the caller's id for the piece. `what`: sent (the request went out and
    was answered: `sent_at`, `at` = answered), started, ended, dropped (never sent: an
    interrupt or the session ended first), failed (the provider refused: `error`)."""

    token: str
    what: Literal["sent", "started", "ended", "dropped", "failed"]
    at: float
    sent_at: float | None = None
    task_id: str = ""
    duration_ms: float | None = None
    interrupted: bool = False
    error: str = ""


class AvatarPort(Protocol):
    """What the bridge needs of the avatar side (lib.runtime.avatar_runner.AvatarRunner)."""

    def speak_soon(self, text: str, token: str, emotion: Emotion | None = None) -> None: ...

    def speak_audio_soon(self, pcm24k: bytes, token: str, *, event_id: str, end: bool) -> None: ...

    def interrupt_soon(self) -> None: ...

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None: ...


class BrainPort(Protocol):
    """What the bridge needs of the voice model (the Realtime client or the text model)."""

    def cancel(self) -> None: ...

    def send_function_output(self, call_id: str, output: str) -> None: ...

"""Room data messages → typed avatar events: one parser, one table of names per vendor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.avatar.base import (
    AvatarEvent,
    ProviderEvent,
    StartTalking,
    StopTalking,
    TalkingMessage,
    UserStarted,
    UserStopped,
    UserTranscript,
)


@dataclass(frozen=True)
class RoomEventNames:
    """A vendor's names for the events every room provider reports."""

    text_field: str  # the field holding a transcript's text
    start_talking: str
    stop_talking: str
    talking_message: str
    user_started: str
    user_stopped: str
    user_transcript: str


def room_event(kind: str, task_id: str, msg: dict[str, Any], names: RoomEventNames) -> AvatarEvent:
    """The typed event for `kind` (unknown kinds are kept as ProviderEvent)."""
    if kind == names.start_talking:
        return StartTalking(task_id=task_id)
    if kind == names.stop_talking:
        d = msg.get("duration_ms")
        return StopTalking(task_id=task_id, duration_ms=float(d) if d is not None else None)
    if kind == names.talking_message:
        return TalkingMessage(task_id=task_id, text=str(msg.get(names.text_field, "")))
    # Voice chat: the avatar's own speech recognition of the user.
    if kind == names.user_started:
        return UserStarted()
    if kind == names.user_stopped:
        return UserStopped()
    if kind == names.user_transcript:
        return UserTranscript(text=str(msg.get(names.text_field, "")), turn_id=task_id)
    return ProviderEvent(kind=kind or "unknown", payload=msg)

"""Room data messages → typed avatar events: one parser, one table of names per vendor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

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


class TurnNames(NamedTuple):
    """A speaker's turn: it started, it stopped, what was said."""

    started: str
    stopped: str
    transcript: str


@dataclass(frozen=True)
class RoomEventNames:
    """A vendor's names for the events every room provider reports."""

    text_field: str  # the field holding a transcript's text
    avatar: TurnNames
    user: TurnNames  # the avatar's own speech recognition of the user


def room_event(kind: str, task_id: str, msg: dict[str, Any], names: RoomEventNames) -> AvatarEvent:
    """The typed event for `kind` (unknown kinds are kept as ProviderEvent)."""
    if kind == names.avatar.started:
        return StartTalking(task_id=task_id)
    if kind == names.avatar.stopped:
        d = msg.get("duration_ms")
        return StopTalking(task_id=task_id, duration_ms=float(d) if d is not None else None)
    if kind == names.avatar.transcript:
        return TalkingMessage(task_id=task_id, text=str(msg.get(names.text_field, "")))
    if kind == names.user.started:
        return UserStarted()
    if kind == names.user.stopped:
        return UserStopped()
    if kind == names.user.transcript:
        return UserTranscript(text=str(msg.get(names.text_field, "")), turn_id=task_id)
    return ProviderEvent(kind=kind or "unknown", payload=msg)

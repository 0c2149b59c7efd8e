"""The store's account of a runner's avatar sessions: a row per session and per task, and
every event the session sent, as they happen."""

from __future__ import annotations

import time

from lib.avatar.base import (
    AvatarEvent,
    Disconnected,
    EndMessage,
    FirstFrame,
    ProviderEvent,
    SessionOptions,
    SpeakResult,
    StartTalking,
    StopTalking,
    TalkingMessage,
    TaskMode,
)
from lib.runtime.owner import OWNER
from lib.store.database import Store


class AvatarRecord:
    """Writes `avatar_sessions`, `avatar_tasks` and their events for one runner."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- sessions -------------------------------------------------------------------------
    def requested(
        self,
        provider: str,
        options: SessionOptions,
        requested: float,
        conversation_id: str | None,
        created_by: str,
    ) -> str:
        return self.store.insert(
            "avatar_sessions",
            {
                "provider": provider,
                "avatar_id": options.avatar_id,
                "voice_id": options.voice_id,
                "quality": options.quality,
                "emotion": options.emotion,
                "rate": options.rate,
                "language": options.language,
                "requested_at": requested,
                "status": "starting",
                "conversation_id": conversation_id,
                "created_by": created_by,
                "owner": OWNER,
            },
        )

    def failed(self, record_id: str, error: str) -> None:
        self.store.update(
            "avatar_sessions",
            record_id,
            {
                "status": "error",
                "error": error,
                "stopped_at": time.time(),
            },
        )

    def started(self, record_id: str, remote_session_id: str, started: float) -> None:
        self.store.update(
            "avatar_sessions",
            record_id,
            {
                "remote_session_id": remote_session_id,
                "started_at": started,
                "status": "live",
            },
        )
        self.store.add_event(
            record_id, "session_started", started, payload={"remote_session_id": remote_session_id}
        )

    def stopped(self, record_id: str, reason: str, error: str | None) -> None:
        self.store.update(
            "avatar_sessions",
            record_id,
            {
                "stopped_at": time.time(),
                "status": "stopped",
                "stop_reason": reason,
                **({"error": error} if error else {}),
            },
        )

    def is_stopped(self, record_id: str) -> bool:
        row = self.store.get("avatar_sessions", record_id)
        return row is not None and row["status"] == "stopped"

    def kept_alive(self, record_id: str) -> None:
        self.store.add_event(record_id, "keep_alive", time.time())

    def event(self, record_id: str, event: AvatarEvent, task_row: str | None) -> bool:
        """Record what the session sent. True when it says the provider ended a session the
        store still had running (idle timeout, duration limit): it is recorded as stopped."""
        kind, payload = kind_payload(event)
        self.store.add_event(record_id, kind, event.at, task_row, payload)
        if isinstance(event, FirstFrame):
            self.store.update("avatar_sessions", record_id, {"first_frame_at": event.at})
        elif isinstance(event, Disconnected):
            row = self.store.get("avatar_sessions", record_id)
            if row and row["status"] in ("live", "starting"):
                # Ended by the provider (idle timeout, duration limit): it is stopped already.
                self.store.update(
                    "avatar_sessions",
                    record_id,
                    {
                        "status": "stopped",
                        "stopped_at": event.at,
                        "stop_reason": event.reason,
                    },
                )
                return True
        return False

    # ---- tasks ----------------------------------------------------------------------------
    def task_requested(self, record_id: str, text: str, mode: TaskMode, requested: float) -> str:
        return self.store.insert(
            "avatar_tasks",
            {
                "session_id": record_id,
                "text": text,
                "mode": mode,
                "requested_at": requested,
                "status": "requested",
            },
        )

    def task_failed(self, row_id: str, error: str) -> None:
        self.store.update("avatar_tasks", row_id, {"status": "error", "error": error})

    def task_accepted(self, row_id: str, result: SpeakResult) -> None:
        self.store.update(
            "avatar_tasks",
            row_id,
            {
                "task_id": result.task_id,
                "answered_at": result.answered_at,
                "duration_ms": result.duration_ms,
                "status": "accepted",
            },
        )

    def task_talking(self, row_id: str, event: AvatarEvent, interrupted: bool) -> None:
        """The avatar started or stopped speaking the task."""
        if isinstance(event, StartTalking):
            self.store.update(
                "avatar_tasks", row_id, {"started_at": event.at, "status": "speaking"}
            )
        elif isinstance(event, StopTalking):
            self.store.update(
                "avatar_tasks",
                row_id,
                {
                    "stopped_at": event.at,
                    "status": "interrupted" if interrupted else "done",
                    **({"duration_ms": event.duration_ms} if event.duration_ms is not None else {}),
                },
            )

    def task_unfinished(self, row_id: str, started: bool, at: float) -> None:
        """Its session ended first: cut off mid-speech, or never spoken."""
        status = "interrupted" if started else "dropped"
        self.store.update("avatar_tasks", row_id, {"status": status, "stopped_at": at})


def kind_payload(event: AvatarEvent) -> tuple[str, dict[str, object] | None]:
    if isinstance(event, StartTalking):
        return "avatar_start_talking", {"task_id": event.task_id}
    if isinstance(event, StopTalking):
        return "avatar_stop_talking", {"task_id": event.task_id, "duration_ms": event.duration_ms}
    if isinstance(event, TalkingMessage):
        return "avatar_talking_message", {"task_id": event.task_id, "message": event.text}
    if isinstance(event, EndMessage):
        return "avatar_end_message", {"task_id": event.task_id}
    if isinstance(event, Disconnected):
        return "disconnected", {"reason": event.reason}
    if isinstance(event, FirstFrame):
        return "first_frame", None
    if isinstance(event, ProviderEvent):
        return event.kind, dict(event.payload)
    return type(event).__name__, None


def describe(event: AvatarEvent) -> str:
    """One line for the page's event list: the recorded kind, and what matters of it."""
    kind, _ = kind_payload(event)
    if isinstance(event, TalkingMessage):
        return f"{kind}: {event.text}"
    if isinstance(event, StopTalking) and event.duration_ms is not None:
        return f"{kind} ({event.duration_ms:.0f} ms)"
    if isinstance(event, Disconnected):
        return f"{kind}: {event.reason}"
    return kind

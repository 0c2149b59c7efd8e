"""A runner's avatar session as it stands: the live state the runner guards, and the frozen
snapshot of it that the page polls."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from lib.avatar.base import (
    AvatarEvent,
    AvatarSession,
    Disconnected,
    FirstFrame,
    StartTalking,
    StopTalking,
    TalkingMessage,
    TaskEvent,
)
from lib.core.problem import Problem
from lib.runtime.avatar_record import describe

RunnerState = Literal["idle", "starting", "live", "stopping", "ended", "error"]
STALL_S = 1.5  # no video frame this long on a live session: stalled
SLOW_FPS = 15.0


@dataclass(frozen=True)
class AvatarSnapshot:
    state: RunnerState
    provider: str | None
    session_id: str | None  # the provider's id
    record_id: str | None  # our store id
    started_at: float | None
    first_frame_at: float | None
    requested_at: float | None  # when the session was asked for (Start, or a switch)
    speaking: bool
    speaking_task: str | None
    transcript: tuple[str, ...]
    problem: Problem | None
    ended_reason: str | None
    frames_in: int
    events: tuple[str, ...]
    video_fps: float = 0.0
    video_age_s: float | None = None  # since the last frame; None before the first

    @property
    def video_problem(self) -> str | None:
        """A live session whose video stopped or crawls: what the page should say."""
        if self.state != "live" or self.video_age_s is None:
            return None
        if self.video_age_s > STALL_S:
            return (
                f"The avatar's video has stalled: no frame for {self.video_age_s:.0f} s. "
                "Waiting for it to resume; Stop and Start again if it does not."
            )
        settled = self.first_frame_at is not None and time.time() - self.first_frame_at > 3
        if settled and self.video_fps < SLOW_FPS:
            return (
                f"The avatar's video is slow ({self.video_fps:.0f} fps): the network or the "
                "provider is struggling."
            )
        return None


@dataclass
class Task:
    """One task the session accepted: its store row, and what the bridge was told of it."""

    row_id: str
    task_id: str = ""
    interrupted: bool = False
    token: str = ""
    started: bool = False
    ended: bool = False


@dataclass
class Live:
    """Mutable state, guarded by AvatarRunner._lock."""

    state: RunnerState = "idle"
    provider: str | None = None
    session: AvatarSession | None = None
    record_id: str | None = None
    started_at: float | None = None
    first_frame_at: float | None = None
    requested_at: float | None = None
    speaking_task: str | None = None
    transcript: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    problem: Problem | None = None
    ended_reason: str | None = None
    events: deque[str] = field(default_factory=lambda: deque(maxlen=30))
    tasks: dict[str, Task] = field(default_factory=dict)
    # Talking events that arrived before the task's HTTP answer (always so for sync tasks).
    early: dict[str, list[AvatarEvent]] = field(default_factory=dict)

    def apply(self, event: AvatarEvent) -> Task | None:
        """What the session said changes what the page shows. Returns the event's task, if
        it is one the session accepted (a talking event may beat the task's HTTP answer: it
        is kept until then)."""
        task_id = event.task_id if isinstance(event, TaskEvent) else ""
        task = self.tasks.get(task_id)
        if task is None and task_id and isinstance(event, (StartTalking, StopTalking)):
            self.early.setdefault(task_id, []).append(event)
        if isinstance(event, StartTalking):
            self.speaking_task = event.task_id
        elif isinstance(event, StopTalking) and self.speaking_task == event.task_id:
            self.speaking_task = None
        elif isinstance(event, TalkingMessage) and event.text.strip():
            self.transcript.append(event.text.strip())
        elif isinstance(event, FirstFrame):
            self.first_frame_at = event.at
        elif isinstance(event, Disconnected) and self.state in ("live", "starting"):
            self.state = "ended"
            self.ended_reason = event.reason
            self.speaking_task = None
            self.session = None
        self.events.append(
            f"{time.strftime('%H:%M:%S', time.localtime(event.at))} {describe(event)}"
        )
        return task

    def live_session(self) -> AvatarSession | None:
        """The session, while it is live and open."""
        session = self.session
        if self.state == "live" and session is not None and not session.closed:
            return session
        return None

    def snapshot(
        self, frames_in: int, video_fps: float, video_age_s: float | None
    ) -> AvatarSnapshot:
        """A frozen copy for the page (the caller holds the runner's lock)."""
        return AvatarSnapshot(
            state=self.state,
            provider=self.provider,
            session_id=self.session.session_id if self.session else None,
            record_id=self.record_id,
            started_at=self.started_at,
            first_frame_at=self.first_frame_at,
            requested_at=self.requested_at,
            speaking=self.speaking_task is not None,
            speaking_task=self.speaking_task,
            transcript=tuple(self.transcript),
            problem=self.problem,
            ended_reason=self.ended_reason,
            frames_in=frames_in,
            events=tuple(self.events),
            video_fps=video_fps,
            video_age_s=video_age_s,
        )

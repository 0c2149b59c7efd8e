"""The pieces the bridge hands a runner: queued, then sent to the avatar session one at a time
and in order (the provider queues them in the order they were written), each reported back to
the bridge as a TaskNote. A session switch (agent handoff, renewal) waits its turn among them."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from lib.avatar.base import (
    AvatarEvent,
    Emotion,
    SessionOptions,
    SpeakResult,
    StartTalking,
    StopTalking,
)
from lib.bridge.ports import TaskNote
from lib.core.loop_thread import LoopThread
from lib.runtime.avatar_problem import problem_of
from lib.runtime.avatar_state import Live, Task


@dataclass(frozen=True)
class Switching(AvatarEvent):
    """The runner began replacing the session (agent handoff), once the last one went quiet."""

    avatar_id: str


@dataclass(frozen=True)
class Outgoing:
    """A piece handed over (text or audio), or a session switch queued among them."""

    token: str
    text: str = ""
    pcm: bytes = b""
    event_id: str = ""
    end: bool = False
    audio: bool = False
    switch_to: tuple[str, SessionOptions] | None = None  # a new session, once this one is quiet
    switch_reason: str = "AGENT_HANDOFF"  # stored as the old session's stop reason
    quiet_s: float = 60.0  # how long the switch waits for the old session to finish speaking
    emotion: Emotion | None = None


class RunnerPort(Protocol):
    """What the outbox needs of its runner."""

    def locked(self) -> AbstractContextManager[Live]: ...

    def notify(self, note: TaskNote | AvatarEvent) -> None: ...

    async def speak_piece(self, text: str, token: str, emotion: Emotion | None) -> SpeakResult: ...

    def flush_early(self, task_id: str) -> None: ...

    async def replace(self, provider: str, options: SessionOptions, reason: str) -> None: ...


class Outbox:
    def __init__(self, loop: LoopThread, runner: RunnerPort) -> None:
        self._loop = loop
        self._runner = runner
        self._items: deque[Outgoing] = deque()
        self._wake = asyncio.Event()  # only touched on the runner loop

    def put(self, item: Outgoing) -> None:
        """From any thread."""
        if not self._loop.alive:
            self._runner.notify(TaskNote(item.token, "dropped", time.time(), error="runner closed"))
            return
        self._loop.loop.call_soon_threadsafe(self.push, item)

    def push(self, item: Outgoing) -> None:
        """On the runner loop."""
        self._items.append(item)
        self._wake.set()

    def drop(self, why: str) -> None:
        """Drop queued pieces; a queued session switch stays (the next agent still needs its
        avatar)."""
        now = time.time()
        kept = [item for item in self._items if item.switch_to is not None]
        for item in self._items:
            if item.switch_to is None:
                self._runner.notify(TaskNote(item.token, "dropped", now, error=why))
        self._items.clear()
        self._items.extend(kept)

    async def send(self) -> None:
        """The sender, for as long as the runner runs."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._items:
                item = self._items[0]
                if item.switch_to is None and not await self._wait_live():
                    self.drop("the avatar session is not live")
                    continue
                self._items.popleft()
                if item.switch_to is not None:
                    await self._switch(*item.switch_to, item.quiet_s, item.switch_reason)
                else:
                    await self._send_one(item)

    async def _wait_live(self, timeout: float = 30.0) -> bool:
        """A piece waits while the session is (re)starting (handoff), not after it ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._runner.locked() as lv:
                state, session = lv.state, lv.session
            if state == "live" and session is not None and not session.closed:
                return True
            if state not in ("starting", "stopping"):
                return False
            await asyncio.sleep(0.01)
        return False

    async def _send_one(self, item: Outgoing) -> None:
        sent = time.time()
        try:
            if item.audio:
                with self._runner.locked() as lv:
                    session = lv.session
                assert session is not None
                await session.speak_audio(item.pcm, event_id=item.event_id, end=item.end)
                self._runner.notify(TaskNote(item.token, "sent", time.time(), sent_at=sent))
                return
            result = await self._runner.speak_piece(item.text, item.token, item.emotion)
        except Exception as exc:  # noqa: BLE001 - reported to the bridge, which records it
            self._runner.notify(
                TaskNote(item.token, "failed", time.time(), error=problem_of(exc).message)
            )
            return
        self._runner.notify(
            TaskNote(
                item.token,
                "sent",
                result.answered_at,
                sent_at=sent,
                task_id=result.task_id,
                duration_ms=result.duration_ms,
            )
        )
        self._runner.flush_early(result.task_id)

    async def _switch(
        self, provider: str, options: SessionOptions, quiet_s: float, reason: str
    ) -> None:
        deadline = time.monotonic() + quiet_s
        while time.monotonic() < deadline and self._talking():
            await asyncio.sleep(0.02)
        self._runner.notify(Switching(options.avatar_id))
        await self._runner.replace(provider, options, reason)

    def _talking(self) -> bool:
        """Is a piece we handed over still queued at, or being spoken by, a live session?"""
        with self._runner.locked() as lv:
            if lv.session is None or lv.session.closed:
                return False
            return any(t.token and not t.ended for t in lv.tasks.values())

    # ---- what became of a piece the session accepted ----------------------------------------
    def heard(self, task: Task, event: AvatarEvent) -> bool:
        """A task started or stopped being spoken: the bridge is told, when the task is one
        of its pieces. False: its end was already reported (when its session ended)."""
        if isinstance(event, StartTalking):
            task.started = True
        elif isinstance(event, StopTalking):
            if task.ended:
                return False  # already reported when its session ended
            task.ended = True
        if task.token and isinstance(event, StartTalking | StopTalking):
            what: Literal["started", "ended"] = (
                "started" if isinstance(event, StartTalking) else "ended"
            )
            self._runner.notify(
                TaskNote(
                    task.token,
                    what,
                    event.at,
                    task_id=task.task_id,
                    duration_ms=getattr(event, "duration_ms", None),
                    interrupted=task.interrupted,
                )
            )
        return True

    def unfinished(self, task: Task, why: str, at: float) -> None:
        """Its session ended first: reported as interrupted if it had started, else dropped,
        so nobody waits for events that will not come."""
        if task.started:
            self._runner.notify(
                TaskNote(task.token, "ended", at, task_id=task.task_id, interrupted=True)
            )
        else:
            self._runner.notify(
                TaskNote(task.token, "dropped", at, task_id=task.task_id, error=why)
            )

"""One avatar session for one page: its loop thread, provider, media, store records, snapshot.

The page calls the blocking/fire-and-forget methods from the script thread and polls
`snapshot()` from a fragment. Every session that is started is stopped: on `stop()`, on page
leave or tab close (`shutdown()` via the page's observer, or the heartbeat watchdog), and at
process exit (`atexit`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from lib.avatar.base import (
    AvatarError,
    AvatarEvent,
    AvatarInfo,
    AvatarProvider,
    AvatarSession,
    Disconnected,
    Emotion,
    EndMessage,
    FirstFrame,
    MediaSink,
    ProviderEvent,
    SessionOptions,
    SpeakResult,
    StartTalking,
    StopTalking,
    TalkingMessage,
    TaskMode,
    VoiceInfo,
)
from lib.bridge.ports import TaskNote
from lib.core.config import ConfigError
from lib.core.loop_thread import LoopThread
from lib.core.problem import Problem
from lib.media.tracks import AvatarMedia
from lib.runtime.owner import OWNER
from lib.runtime.watchdog import TabOpen, page_gone
from lib.store.database import Store
from lib.wire.picture import Picture

log = logging.getLogger(__name__)

State = Literal["idle", "starting", "live", "stopping", "ended", "error"]
# No page poll for this long → the tab is gone: stop paying. (Env override for tests.)
HEARTBEAT_TIMEOUT_S = float(os.environ.get("AVATARLAB_HEARTBEAT_TIMEOUT", "30"))
WATCHDOG_PERIOD_S = 2.0
RENEW_BEFORE_S = 45.0
RENEW_BY_S = 8.0
STALL_S = 1.5  # no video frame this long on a live session: stalled
SLOW_FPS = 15.0
# Providers end a session after ~2 minutes without a task (HeyGen's default idle timeout):
# while the page is open, a quiet session is kept alive well before that.
KEEPALIVE_S = float(os.environ.get("AVATARLAB_KEEPALIVE_S", "45"))
START_DRAIN_S = 10.0  # a stop waits this long for a start in flight (within shutdown's 15 s)
ProviderFactory = Callable[[str], AvatarProvider]


@dataclass(frozen=True)
class AvatarSnapshot:
    state: State
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


@dataclass(frozen=True)
class Switching(AvatarEvent):
    """The runner began replacing the session (agent handoff), once the last one went quiet."""

    avatar_id: str


Listener = Callable[[TaskNote | AvatarEvent], None]


@dataclass
class _Task:
    row_id: str
    task_id: str = ""
    interrupted: bool = False
    token: str = ""
    started: bool = False
    ended: bool = False


@dataclass(frozen=True)
class _Outgoing:
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


@dataclass
class _Live:
    """Mutable state, guarded by AvatarRunner._lock."""

    state: State = "idle"
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
    tasks: dict[str, _Task] = field(default_factory=dict)
    # Talking events that arrived before the task's HTTP answer (always so for sync tasks).
    early: dict[str, list[AvatarEvent]] = field(default_factory=dict)


class _Sink(MediaSink):
    """Where the session's transport delivers: frames and audio to the media the page's
    tracks read, events to the runner."""

    def __init__(self, media: AvatarMedia, on_event: Callable[[AvatarEvent], None]) -> None:
        self._media, self._on_event = media, on_event

    def on_video(self, picture: Picture) -> None:
        self._media.on_video(picture)

    def on_audio(self, pcm: npt.NDArray[np.int16], sample_rate: int) -> None:
        self._media.on_audio(pcm, sample_rate)

    def on_event(self, event: AvatarEvent) -> None:
        self._on_event(event)


def _default_factory(name: str) -> AvatarProvider:
    from lib.avatar.providers import build_provider

    return build_provider(name)


def problem_of(exc: BaseException) -> Problem:
    if isinstance(exc, AvatarError):
        return Problem(str(exc.message), exc.hint)
    if isinstance(exc, ConfigError):
        return Problem(str(exc), "open the Settings page to see which keys are set")
    if isinstance(exc, TimeoutError):
        return Problem("the provider did not answer in time", "try again")
    return Problem(f"{type(exc).__name__}: {exc}", "see the app log for details")


class AvatarRunner:
    def __init__(
        self,
        store: Store,
        *,
        provider_factory: ProviderFactory = _default_factory,
        media: AvatarMedia | None = None,
        heartbeat_timeout_s: float | None = HEARTBEAT_TIMEOUT_S,
        keepalive_s: float = KEEPALIVE_S,
        tab_open: TabOpen | None = None,
        renew_before_cap: bool = False,
    ) -> None:
        """`heartbeat_timeout_s=None`: no page polls this runner (CLI, benchmarks).
        `tab_open`: is the page's tab still connected? Then a late heartbeat is a slow page,
        not a closed one. `renew_before_cap`: replace a session before the provider's duration
        cap ends it (a conversation keeps its avatar for as long as it runs)."""
        self._renew = renew_before_cap
        self._renewing: str | None = None  # the session a renewal was queued for
        self.store = store
        self._tab_open = tab_open
        self.conversation_id: str | None = None  # recorded with every session it starts
        self._heartbeat_timeout = heartbeat_timeout_s
        self.media = media or AvatarMedia()
        self._sink = _Sink(self.media, self._on_event)
        self._factory = provider_factory
        self._providers: dict[str, AvatarProvider] = {}
        self._catalog: dict[str, tuple[list[AvatarInfo], list[VoiceInfo]]] = {}
        self._loop = LoopThread("avatar-runner")
        self._lock = threading.Lock()
        self._live = _Live()
        self._heartbeat = time.monotonic()
        self._keepalive_s = keepalive_s
        self._active = time.monotonic()  # the last call that counts as activity for the provider
        self._listeners: list[Listener] = []
        self._outbox: deque[_Outgoing] = deque()
        self._listening = False
        self._outbox_wake = asyncio.Event()  # only touched on the runner loop
        self._start_task: asyncio.Task[None] | None = None  # the latest _start, on the loop
        self._watchdog = self._loop.submit(self._watch())
        self._sender = self._loop.submit(self._send_outbox())
        _RUNNERS.add(self)

    # ---- script-thread API --------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._loop.alive

    def heartbeat(self) -> None:
        self._heartbeat = time.monotonic()

    def catalog(
        self, provider: str, *, refresh: bool = False
    ) -> tuple[list[AvatarInfo], list[VoiceInfo]]:
        """Avatars and realtime voices, fetched from the provider (cached per provider)."""
        if refresh or provider not in self._catalog:
            self._catalog[provider] = self._loop.run(self._fetch_catalog(provider), timeout=60)
        return self._catalog[provider]

    def start(self, provider: str, options: SessionOptions) -> None:
        """Begin starting a session (non-blocking: the page shows progress via snapshot)."""
        with self._lock:
            if self._live.state in ("starting", "live", "stopping"):
                return
            requested = time.time()
            self._live = _Live(state="starting", provider=provider, requested_at=requested)
        self.media.reset("Connecting to the avatar…")
        self._loop.submit(self._start(provider, options, requested))

    def wait_started(self, timeout: float = 30.0) -> AvatarSnapshot:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if snap.state != "starting":
                return snap
            time.sleep(0.02)
        return self.snapshot()

    def speak(self, text: str, mode: TaskMode = "async") -> SpeakResult:
        return self._loop.run(self._speak(text, mode), timeout=330)

    def interrupt(self) -> None:
        self._loop.run(self._interrupt(), timeout=30)

    def stop(self, reason: str = "USER_CLOSED") -> None:
        self._loop.run(self._stop(reason), timeout=30)

    # ---- for the bridge: non-blocking, ordered, reported through listeners --------------
    def subscribe(self, fn: Listener) -> None:
        """`fn` gets every avatar event and every TaskNote (runner or transport thread)."""
        self._listeners.append(fn)

    def speak_soon(self, text: str, token: str, emotion: Emotion | None = None) -> None:
        """Queue text for the avatar (async task). Pieces go out one at a time, in order, so
        the provider queues them in the order they were written."""
        self._enqueue(_Outgoing(token, text=text, emotion=emotion))

    def speak_audio_soon(self, pcm24k: bytes, token: str, *, event_id: str, end: bool) -> None:
        """Queue PCM16 24 kHz audio for the avatar to lip-sync (LITE `agent.speak`)."""
        self._enqueue(_Outgoing(token, pcm=pcm24k, event_id=event_id, end=end, audio=True))

    def interrupt_soon(self) -> None:
        """Barge-in: drop what is queued, and stop the avatar mid-sentence."""
        if self._loop.alive:
            self._loop.submit(self._interrupt())

    def restart_soon(self, provider: str, options: SessionOptions) -> None:
        """Replace the session (agent handoff: the next agent's avatar) once what is queued
        before has been spoken; pieces queued after go to the new session. An interrupt does
        not cancel the switch."""
        self._enqueue(_Outgoing("", switch_to=(provider, options)))

    def listen_soon(self, on: bool = True) -> None:
        """Have the avatar's own speech recognition listen to the user (avatar-listens)."""
        if self._loop.alive:
            self._loop.submit(self._listen(on))

    def send_user_audio_soon(self, pcm24k: bytes) -> None:
        """The user's microphone into the avatar's room (PCM16 24 kHz; the mic thread)."""
        if self._loop.alive and pcm24k:
            self._loop.submit(self._user_audio(pcm24k))

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the runner loop after `delay_s` (the bridge's chunk max-wait timer)."""
        if self._loop.alive:
            self._loop.loop.call_soon_threadsafe(self._loop.loop.call_later, delay_s, fn)

    def _enqueue(self, item: _Outgoing) -> None:
        if not self._loop.alive:
            self._notify(TaskNote(item.token, "dropped", time.time(), error="runner closed"))
            return
        self._loop.loop.call_soon_threadsafe(self._push, item)

    def _push(self, item: _Outgoing) -> None:
        self._outbox.append(item)
        self._outbox_wake.set()

    def _notify(self, note: TaskNote | AvatarEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(note)
            except Exception:  # a listener bug must not stop the avatar
                log.exception("avatar runner listener failed")

    def shutdown(self, reason: str = "PAGE_CLOSED") -> None:
        """Stop the session and release everything (page leave, tab close, process exit)."""
        try:
            if not self._loop.alive:
                return
            try:
                self._loop.run(self._stop(reason), timeout=15)
                self._loop.run(self._close_providers(), timeout=10)
            except Exception:
                log.exception("avatar runner shutdown")
            self._watchdog.cancel()
            self._sender.cancel()
            self._loop.close()
            _RUNNERS.discard(self)
        finally:
            self.media.close()  # its WebRTC tracks end with it (however shutdown went)

    def snapshot(self) -> AvatarSnapshot:
        fps, age = self.media.video_health()
        with self._lock:
            lv = self._live
            return AvatarSnapshot(
                state=lv.state,
                provider=lv.provider,
                session_id=lv.session.session_id if lv.session else None,
                record_id=lv.record_id,
                started_at=lv.started_at,
                first_frame_at=lv.first_frame_at,
                requested_at=lv.requested_at,
                speaking=lv.speaking_task is not None,
                speaking_task=lv.speaking_task,
                transcript=tuple(lv.transcript),
                problem=lv.problem,
                ended_reason=lv.ended_reason,
                frames_in=self.media.frames_in,
                events=tuple(lv.events),
                video_fps=fps,
                video_age_s=age,
            )

    def clear_problem(self) -> None:
        with self._lock:
            self._live.problem = None

    def report(self, problem: Problem) -> None:
        with self._lock:
            self._live.problem = problem

    # ---- loop-thread side ---------------------------------------------------------------
    async def _provider(self, name: str) -> AvatarProvider:
        if name not in self._providers:
            # May start the embedded server (a subprocess): keep it off the loop.
            self._providers[name] = await asyncio.to_thread(self._factory, name)
        return self._providers[name]

    async def _fetch_catalog(self, name: str) -> tuple[list[AvatarInfo], list[VoiceInfo]]:
        provider = await self._provider(name)
        avatars, voices = await asyncio.gather(provider.list_avatars(), provider.list_voices())
        return avatars, voices

    async def _start(self, name: str, options: SessionOptions, requested: float) -> None:
        self._start_task = asyncio.current_task()
        record_id = self.store.insert(
            "avatar_sessions",
            {
                "provider": name,
                "avatar_id": options.avatar_id,
                "voice_id": options.voice_id,
                "quality": options.quality,
                "emotion": options.emotion,
                "rate": options.rate,
                "language": options.language,
                "requested_at": requested,
                "status": "starting",
                "conversation_id": self.conversation_id,
                "owner": OWNER,
            },
        )
        with self._lock:
            self._live.record_id = record_id
        try:
            provider = await self._provider(name)
            session = await provider.start(options, self._sink)
        except Exception as exc:  # noqa: BLE001 - every failure is shown and recorded
            problem = problem_of(exc)
            self.store.update(
                "avatar_sessions",
                record_id,
                {
                    "status": "error",
                    "error": problem.message,
                    "stopped_at": time.time(),
                },
            )
            with self._lock:
                self._live.state = "error"
                self._live.problem = problem
            self.media.reset("The avatar could not start")
            return
        started = time.time()
        self._active = time.monotonic()
        self.store.update(
            "avatar_sessions",
            record_id,
            {
                "remote_session_id": session.session_id,
                "started_at": started,
                "status": "live",
            },
        )
        self.store.add_event(
            record_id, "session_started", started, payload={"remote_session_id": session.session_id}
        )
        stop_now = False
        with self._lock:
            if self._live.state == "starting":
                self._live.state = "live"
                self._live.session = session
                self._live.started_at = started
            else:  # stopped while starting: don't keep paying
                stop_now = True
        if stop_now:
            with contextlib.suppress(Exception):
                await session.stop()

    async def _speak(
        self, text: str, mode: TaskMode, token: str = "", emotion: Emotion | None = None
    ) -> SpeakResult:
        with self._lock:
            session, record_id = self._live.session, self._live.record_id
        if session is None or record_id is None or session.closed:
            raise AvatarError(
                "no live session",
                provider=self._live.provider or "avatar",
                hint="press Start first (the last session has ended)",
            )
        requested = time.time()
        self._active = time.monotonic()
        row_id = self.store.insert(
            "avatar_tasks",
            {
                "session_id": record_id,
                "text": text,
                "mode": mode,
                "requested_at": requested,
                "status": "requested",
            },
        )
        try:
            result = await session.speak(text, mode, emotion)
        except Exception as exc:
            self.store.update(
                "avatar_tasks", row_id, {"status": "error", "error": problem_of(exc).message}
            )
            raise
        task = _Task(row_id, result.task_id, token=token)
        with self._lock:
            self._live.tasks[result.task_id] = task
            early = self._live.early.pop(result.task_id, []) if not token else []
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
        for event in early:
            self._record_task_event(task, event)
        return result

    def _flush_early(self, task_id: str) -> None:
        """Talking events that beat the task's HTTP answer: replayed once the bridge has
        been told the piece was sent, so it sees sent → started → ended in order."""
        with self._lock:
            task = self._live.tasks.get(task_id)
            early = self._live.early.pop(task_id, [])
        if task is not None:
            for event in early:
                self._record_task_event(task, event)

    async def _send_outbox(self) -> None:
        while True:
            await self._outbox_wake.wait()
            self._outbox_wake.clear()
            while self._outbox:
                item = self._outbox[0]
                if item.switch_to is None and not await self._wait_live():
                    self._drop_outbox("the avatar session is not live")
                    continue
                self._outbox.popleft()
                if item.switch_to is not None:
                    await self._switch(*item.switch_to, item.quiet_s, item.switch_reason)
                else:
                    await self._send_one(item)

    async def _wait_live(self, timeout: float = 30.0) -> bool:
        """A piece waits while the session is (re)starting (handoff), not after it ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                state, session = self._live.state, self._live.session
            if state == "live" and session is not None and not session.closed:
                return True
            if state not in ("starting", "stopping"):
                return False
            await asyncio.sleep(0.01)
        return False

    async def _send_one(self, item: _Outgoing) -> None:
        sent = time.time()
        try:
            if item.audio:
                with self._lock:
                    session = self._live.session
                assert session is not None
                await session.speak_audio(item.pcm, event_id=item.event_id, end=item.end)
                self._notify(TaskNote(item.token, "sent", time.time(), sent_at=sent))
                return
            result = await self._speak(item.text, "async", token=item.token, emotion=item.emotion)
        except Exception as exc:  # noqa: BLE001 - reported to the bridge, which records it
            self._notify(TaskNote(item.token, "failed", time.time(), error=problem_of(exc).message))
            return
        self._notify(
            TaskNote(
                item.token,
                "sent",
                result.answered_at,
                sent_at=sent,
                task_id=result.task_id,
                duration_ms=result.duration_ms,
            )
        )
        self._flush_early(result.task_id)

    def _drop_outbox(self, why: str) -> None:
        """Drop queued pieces; a queued session switch stays (the next agent still needs its
        avatar)."""
        now = time.time()
        kept = [item for item in self._outbox if item.switch_to is not None]
        for item in self._outbox:
            if item.switch_to is None:
                self._notify(TaskNote(item.token, "dropped", now, error=why))
        self._outbox.clear()
        self._outbox.extend(kept)

    async def _switch(
        self,
        provider: str,
        options: SessionOptions,
        quiet_s: float = 60,
        reason: str = "AGENT_HANDOFF",
    ) -> None:
        deadline = time.monotonic() + quiet_s
        while time.monotonic() < deadline and self._talking():
            await asyncio.sleep(0.02)
        self._notify(Switching(options.avatar_id))
        await self._stop(reason)
        with self._lock:
            requested = time.time()
            self._live = _Live(state="starting", provider=provider, requested_at=requested)
        self.media.reset("Switching avatar…")
        await self._start(provider, options, requested)
        if self._listening:
            await self._listen(True)

    def _talking(self) -> bool:
        """Is a piece we handed over still queued at, or being spoken by, a live session?"""
        with self._lock:
            lv = self._live
            if lv.session is None or lv.session.closed:
                return False
            return any(t.token and not t.ended for t in lv.tasks.values())

    def _end_tasks(self, why: str) -> None:
        """The session is over: pieces it never finished are reported (interrupted if they
        had started), so nobody waits for events that will not come."""
        with self._lock:
            open_tasks = [t for t in self._live.tasks.values() if t.token and not t.ended]
            for t in open_tasks:
                t.ended = True
        now = time.time()
        for t in open_tasks:
            status = "interrupted" if t.started else "dropped"
            self.store.update("avatar_tasks", t.row_id, {"status": status, "stopped_at": now})
            if t.started:
                self._notify(TaskNote(t.token, "ended", now, task_id=t.task_id, interrupted=True))
            else:
                self._notify(TaskNote(t.token, "dropped", now, task_id=t.task_id, error=why))

    def _live_session(self) -> AvatarSession | None:
        with self._lock:
            session, state = self._live.session, self._live.state
        return session if state == "live" and session is not None and not session.closed else None

    async def _listen(self, on: bool) -> None:
        self._listening = on  # a switched-to session listens too
        session = self._live_session()
        if session is None:
            return
        try:
            await session.listen(on)
        except Exception as exc:  # noqa: BLE001 - shown on the page
            self.report(problem_of(exc))

    async def _user_audio(self, pcm24k: bytes) -> None:
        self._active = time.monotonic()  # voice input resets the provider's idle timer too
        session = self._live_session()
        if session is None:
            return  # between sessions (a switch): the words are lost, as with a muted mic
        try:
            await session.send_user_audio(pcm24k)
        except Exception as exc:  # noqa: BLE001 - a dropped room shows as Disconnected
            log.debug("user audio not sent: %s", exc)

    async def _interrupt(self) -> None:
        self._drop_outbox("interrupted")
        with self._lock:
            session = self._live.session
            for task in self._live.tasks.values():
                task.interrupted = True
        if session is None or session.closed:
            return
        await session.interrupt()
        self.media.audio.clear()  # queued speech must not keep playing after an interrupt

    async def _stop(self, reason: str) -> None:
        with self._lock:
            lv = self._live
            if lv.state in ("idle", "ended", "error") and lv.session is None:
                return
            lv.state = "stopping"
        # A start still in flight may already have opened a paid session that only its answer
        # names: let it finish (it stops that session itself, seeing "stopping"). Closing the
        # client under it lost the answer and left the session running until its idle timeout.
        starting = self._start_task
        if starting is not None and not starting.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(starting), START_DRAIN_S)
        with self._lock:
            session, record_id = self._live.session, self._live.record_id
        stop_error: str | None = None
        if session is not None:
            try:
                await session.stop()
            except Exception as exc:  # noqa: BLE001 - the session is over for us either way
                stop_error = problem_of(exc).message
        if record_id is not None:
            self.store.update(
                "avatar_sessions",
                record_id,
                {
                    "stopped_at": time.time(),
                    "status": "stopped",
                    "stop_reason": reason,
                    **({"error": stop_error} if stop_error else {}),
                },
            )
        with self._lock:
            self._live.state = "ended"
            self._live.ended_reason = reason
            self._live.speaking_task = None
            self._live.session = None
        self._end_tasks(f"the avatar session ended ({reason})")
        self.media.reset("Session ended — press Start for a new one")

    async def _keep_alive(self) -> None:
        session = self._live_session()
        if session is None or time.monotonic() - self._active < self._keepalive_s:
            return
        if self._page_gone():
            return  # nobody is looking: let the watchdog stop it instead
        self._active = time.monotonic()
        with self._lock:
            record_id = self._live.record_id
        try:
            await session.keep_alive()
        except Exception as exc:  # noqa: BLE001 - an ended session shows as Disconnected
            log.info("keep-alive failed: %s", exc)
            return
        if record_id is not None:
            self.store.add_event(record_id, "keep_alive", time.time())

    async def _close_providers(self) -> None:
        for provider in self._providers.values():
            with contextlib.suppress(Exception):
                await provider.aclose()
        self._providers.clear()

    def _renew_before_cap(self) -> None:
        """The provider ends a session at its duration cap (HeyGen and the local server: 600 s).
        A conversation that runs longer would lose its avatar mid-sentence, so a fresh session
        replaces it first: queued behind what is already handed over, at the first quiet
        moment from RENEW_BEFORE_S before the cap, and by RENEW_BY_S before it at the latest
        (a cut answer beats losing the picture)."""
        with self._lock:
            lv = self._live
            session, provider = lv.session, lv.provider
            if lv.state != "live" or session is None or session.closed or provider is None:
                return
        limit = session.duration_limit_s
        if not limit or session.session_id == self._renewing or self._page_gone():
            return
        left = session.started_at + limit - time.time()
        if left > RENEW_BEFORE_S:
            return
        self._renewing = session.session_id
        log.info("avatar session %s ends in %.0f s (cap): renewing it", session.session_id, left)
        self._push(
            _Outgoing(
                "",
                switch_to=(provider, session.options),
                switch_reason="RENEWED_BEFORE_CAP",
                quiet_s=max(0.0, left - RENEW_BY_S),
            )
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(min(WATCHDOG_PERIOD_S, self._keepalive_s / 2))
            await self._keep_alive()
            if self._renew:
                self._renew_before_cap()
            if self._live.state in ("starting", "live") and self._page_gone():
                log.info("the page is gone (no heartbeat, tab not connected): stopping")
                await self._stop("PAGE_GONE")

    def _page_gone(self) -> bool:
        return page_gone(self._heartbeat, self._heartbeat_timeout, self._tab_open)

    def _on_event(self, event: AvatarEvent) -> None:
        """Transport callbacks (runner loop thread): update live state and record the event."""
        with self._lock:
            lv = self._live
            record_id = lv.record_id
            task_id = getattr(event, "task_id", "")
            task = lv.tasks.get(task_id)
            if task is None and task_id and isinstance(event, (StartTalking, StopTalking)):
                lv.early.setdefault(task_id, []).append(event)
            if isinstance(event, StartTalking):
                lv.speaking_task = event.task_id
            elif isinstance(event, StopTalking) and lv.speaking_task == event.task_id:
                lv.speaking_task = None
            elif isinstance(event, TalkingMessage) and event.text.strip():
                lv.transcript.append(event.text.strip())
            elif isinstance(event, FirstFrame):
                lv.first_frame_at = event.at
            elif isinstance(event, Disconnected) and lv.state in ("live", "starting"):
                lv.state = "ended"
                lv.ended_reason = event.reason
                lv.speaking_task = None
                lv.session = None
            lv.events.append(
                f"{time.strftime('%H:%M:%S', time.localtime(event.at))} {_describe(event)}"
            )
        self._notify(event)
        if isinstance(event, Disconnected):
            self._end_tasks(f"the avatar session ended ({event.reason})")
        if record_id is None:
            return
        kind, payload = _kind_payload(event)
        self.store.add_event(record_id, kind, event.at, task.row_id if task else None, payload)
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
                self.media.reset(f"Session ended by the provider ({event.reason})")
        elif task is not None:
            self._record_task_event(task, event)

    def _record_task_event(self, task: _Task, event: AvatarEvent) -> None:
        if isinstance(event, StartTalking):
            task.started = True
        elif isinstance(event, StopTalking):
            if task.ended:
                return  # already reported when its session ended
            task.ended = True
        if task.token and isinstance(event, StartTalking | StopTalking):
            what: Literal["started", "ended"] = (
                "started" if isinstance(event, StartTalking) else "ended"
            )
            self._notify(
                TaskNote(
                    task.token,
                    what,
                    event.at,
                    task_id=task.task_id,
                    duration_ms=getattr(event, "duration_ms", None),
                    interrupted=task.interrupted,
                )
            )
        if isinstance(event, StartTalking):
            self.store.update(
                "avatar_tasks", task.row_id, {"started_at": event.at, "status": "speaking"}
            )
        elif isinstance(event, StopTalking):
            self.store.update(
                "avatar_tasks",
                task.row_id,
                {
                    "stopped_at": event.at,
                    "status": "interrupted" if task.interrupted else "done",
                    **({"duration_ms": event.duration_ms} if event.duration_ms is not None else {}),
                },
            )


def _kind_payload(event: AvatarEvent) -> tuple[str, dict[str, object] | None]:
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


def _describe(event: AvatarEvent) -> str:
    kind, _ = _kind_payload(event)
    if isinstance(event, TalkingMessage):
        return f"{kind}: {event.text}"
    if isinstance(event, StopTalking) and event.duration_ms is not None:
        return f"{kind} ({event.duration_ms:.0f} ms)"
    if isinstance(event, Disconnected):
        return f"{kind}: {event.reason}"
    return kind


_RUNNERS: weakref.WeakSet[AvatarRunner] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for runner in list(_RUNNERS):
        runner.shutdown("APP_EXIT")

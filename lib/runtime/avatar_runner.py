"""One avatar session for one page: its loop thread, provider, media, store records, snapshot.

The page calls the blocking/fire-and-forget methods from the script thread and polls
`snapshot()` from a fragment. Every session that is started is stopped: on `stop()`, on page
leave or tab close (`shutdown()` via the page's observer, or the heartbeat watchdog), and at
process exit (`atexit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from lib.avatar.base import (
    AvatarError,
    AvatarEvent,
    AvatarInfo,
    AvatarSession,
    Disconnected,
    Emotion,
    FirstFrame,
    MediaSink,
    SessionOptions,
    SpeakResult,
    TaskMode,
    VoiceInfo,
)
from lib.bridge.ports import TaskNote
from lib.core.identity import local_user
from lib.core.loop_thread import LoopThread
from lib.core.problem import Problem
from lib.media.tracks import AvatarMedia
from lib.runtime.avatar_outbox import Outbox, Outgoing
from lib.runtime.avatar_problem import problem_of
from lib.runtime.avatar_providers import ProviderFactory, Providers, default_factory
from lib.runtime.avatar_record import AvatarRecord
from lib.runtime.avatar_state import AvatarSnapshot, Live, Task
from lib.runtime.avatar_watch import KEEPALIVE_S, SessionWatch
from lib.runtime.exit import StopAtExit
from lib.runtime.watchdog import HEARTBEAT_TIMEOUT_S, PageWatch, TabOpen
from lib.store.database import Store
from lib.wire.picture import Picture

log = logging.getLogger(__name__)

START_DRAIN_S = 10.0  # a stop waits this long for a start in flight (within shutdown's 15 s)
Listener = Callable[[TaskNote | AvatarEvent], None]


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


class AvatarRunner:
    def __init__(
        self,
        store: Store,
        *,
        provider_factory: ProviderFactory = default_factory,
        media: AvatarMedia | None = None,
        heartbeat_timeout_s: float | None = HEARTBEAT_TIMEOUT_S,
        keepalive_s: float = KEEPALIVE_S,
        tab_open: TabOpen | None = None,
        renew_before_cap: bool = False,
        created_by: str | None = None,
    ) -> None:
        """`heartbeat_timeout_s=None`: no page polls this runner (CLI, benchmarks).
        `tab_open`: is the page's tab still connected? Then a late heartbeat is a slow page,
        not a closed one. `renew_before_cap`: replace a session before the provider's duration
        cap ends it (a conversation keeps its avatar for as long as it runs). `created_by`: who
        starts its sessions (the page's signed-in user; None: the local account)."""
        self.store = store
        self._record = AvatarRecord(store)
        self.conversation_id: str | None = None  # recorded with every session it starts
        self.created_by: str = created_by or local_user()  # and who started it
        self.media = media or AvatarMedia()
        self._sink = _Sink(self.media, self._on_event)
        self._providers = Providers(provider_factory)
        self._catalog: dict[str, tuple[list[AvatarInfo], list[VoiceInfo]]] = {}
        self._loop = LoopThread("avatar-runner")
        self._lock = threading.Lock()
        self._live = Live()
        self._page = PageWatch(heartbeat_timeout_s, tab_open)
        self._listeners: list[Listener] = []
        self._outbox = Outbox(self._loop, self)
        self._session_watch = SessionWatch(
            self,
            self._page,
            self._outbox,
            self._record,
            keepalive_s=keepalive_s,
            renew_before_cap=renew_before_cap,
        )
        self._listening = False
        self._starting: asyncio.Future[None] | None = None  # the latest _start, until it returns
        self._watchdog = self._loop.submit(self._watch())
        self._sender = self._loop.submit(self._outbox.send())
        _RUNNERS.add(self)

    # ---- script-thread API --------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._loop.alive

    def heartbeat(self) -> None:
        self._page.beat()

    def catalog(
        self, provider: str, *, refresh: bool = False
    ) -> tuple[list[AvatarInfo], list[VoiceInfo]]:
        """Avatars and realtime voices, fetched from the provider (cached per provider)."""
        if refresh or provider not in self._catalog:
            self._catalog[provider] = self._loop.run(self._providers.catalog(provider), timeout=60)
        return self._catalog[provider]

    def start(self, provider: str, options: SessionOptions) -> None:
        """Begin starting a session (non-blocking: the page shows progress via snapshot)."""
        with self._lock:
            if self._live.state in ("starting", "live", "stopping"):
                return
            requested = time.time()
            self._live = Live(state="starting", provider=provider, requested_at=requested)
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
        self._outbox.put(Outgoing(token, text=text, emotion=emotion))

    def speak_audio_soon(self, pcm24k: bytes, token: str, *, event_id: str, end: bool) -> None:
        """Queue PCM16 24 kHz audio for the avatar to lip-sync (LITE `agent.speak`)."""
        self._outbox.put(Outgoing(token, pcm=pcm24k, event_id=event_id, end=end, audio=True))

    def interrupt_soon(self) -> None:
        """Barge-in: drop what is queued, and stop the avatar mid-sentence."""
        if self._loop.alive:
            self._loop.submit(self._interrupt())

    def restart_soon(self, provider: str, options: SessionOptions) -> None:
        """Replace the session (agent handoff: the next agent's avatar) once what is queued
        before has been spoken; pieces queued after go to the new session. An interrupt does
        not cancel the switch."""
        self._outbox.put(Outgoing("", switch_to=(provider, options)))

    def replace_now(self, provider: str, options: SessionOptions, reason: str) -> None:
        """A new session in place of one that dropped (recovery): unlike a switch it does not
        wait its turn behind queued pieces (the old session cannot speak them); those wait for
        the new one, as the state reads "starting" from now on."""
        if not self._loop.alive:
            return
        with self._lock:
            self._live.state = "starting"
        self._loop.submit(self.replace(provider, options, reason))

    def listen_soon(self, on: bool = True) -> None:
        """Have the avatar's own speech recognition listen to the user (avatar-listens)."""
        if self._loop.alive:
            self._loop.submit(self._listen(on))

    def send_user_audio_soon(self, pcm24k: bytes) -> None:
        """The user's microphone into the avatar's room (PCM16 24 kHz; the mic thread)."""
        if self._loop.alive and pcm24k:
            self._loop.submit(self._user_audio(pcm24k))

    def ask_soon(self, text: str) -> None:
        """Typed text for the vendor's own voice model to answer (the connector bridge)."""
        if self._loop.alive and text.strip():
            self._loop.submit(self._ask(text))

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Run `fn` on the runner loop after `delay_s` (the bridge's chunk max-wait timer)."""
        if self._loop.alive:
            self._loop.loop.call_soon_threadsafe(self._loop.loop.call_later, delay_s, fn)

    def notify(self, note: TaskNote | AvatarEvent) -> None:
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
            except Exception:
                log.exception("avatar runner shutdown")
            try:  # even after a failed stop: providers release what they keep (a stored key)
                self._loop.run(self._providers.aclose(), timeout=10)
            except Exception:
                log.exception("avatar providers close")
            self._watchdog.cancel()
            self._sender.cancel()
            self._loop.close()
            _RUNNERS.discard(self)
        finally:
            self.media.close()  # its WebRTC tracks end with it (however shutdown went)

    def snapshot(self) -> AvatarSnapshot:
        fps, age = self.media.video_health()
        with self._lock:
            return self._live.snapshot(self.media.frames_in, fps, age)

    def clear_problem(self) -> None:
        with self._lock:
            self._live.problem = None

    def report(self, problem: Problem) -> None:
        with self._lock:
            self._live.problem = problem

    # ---- for the outbox and the watch (runner loop) -------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[Live]:
        """The live state, under the lock."""
        with self._lock:
            yield self._live

    async def speak_piece(self, text: str, token: str, emotion: Emotion | None) -> SpeakResult:
        return await self._speak(text, "async", token=token, emotion=emotion)

    def flush_early(self, task_id: str) -> None:
        """Talking events that beat the task's HTTP answer: replayed once the bridge has
        been told the piece was sent, so it sees sent → started → ended in order."""
        with self._lock:
            task = self._live.tasks.get(task_id)
            early = self._live.early.pop(task_id, [])
        if task is not None:
            for event in early:
                self._task_event(task, event)

    async def replace(self, provider: str, options: SessionOptions, reason: str) -> None:
        """Stop the session and start a new one in its place (a switch or a renewal)."""
        await self._stop(reason)
        with self._lock:
            requested = time.time()
            self._live = Live(state="starting", provider=provider, requested_at=requested)
        self.media.reset("Switching avatar…")
        await self._start(provider, options, requested)
        if self._listening:
            await self._listen(True)

    # ---- loop-thread side ---------------------------------------------------------------
    async def _start(self, name: str, options: SessionOptions, requested: float) -> None:
        # The start itself, not the task running it: a switch starts inside the outbox's
        # sender, which never ends, so a later stop waited START_DRAIN_S for nothing.
        starting = self._starting = asyncio.get_running_loop().create_future()
        try:
            await self._open(name, options, requested)
        finally:
            starting.set_result(None)

    async def _open(self, name: str, options: SessionOptions, requested: float) -> None:
        record_id = self._record.requested(
            name, options, requested, self.conversation_id, self.created_by
        )
        with self._lock:
            self._live.record_id = record_id
        try:
            provider = await self._providers.get(name)
            session = await provider.start(options, self._sink)
        except Exception as exc:  # noqa: BLE001 - every failure is shown and recorded
            problem = problem_of(exc)
            self._record.failed(record_id, problem.message)
            with self._lock:
                self._live.state = "error"
                self._live.problem = problem
            self.media.reset("The avatar could not start")
            return
        started = time.time()
        self._session_watch.active()
        self._record.started(record_id, session.session_id, started)
        stop_now = False
        with self._lock:
            if self._live.state == "starting":
                self._live.state = "live"
                self._live.session = session
                self._live.started_at = started
            else:  # stopped while starting: don't keep paying
                stop_now = True
        if stop_now:
            error: str | None = None
            try:
                await session.stop()
            except Exception as exc:  # noqa: BLE001 - the session is over for us either way
                error = problem_of(exc).message
            with self._lock:
                gave_up = self._live.state == "ended"
                reason = self._live.ended_reason or "USER_CLOSED"
            if gave_up:  # the stop stopped waiting for this start, so the row is ended here
                self._record.stopped(record_id, reason, error)

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
        self._session_watch.active()
        row_id = self._record.task_requested(record_id, text, mode, requested)
        try:
            result = await session.speak(text, mode, emotion)
        except Exception as exc:
            self._record.task_failed(row_id, problem_of(exc).message)
            raise
        task = Task(row_id, result.task_id, token=token)
        with self._lock:
            self._live.tasks[result.task_id] = task
            early = self._live.early.pop(result.task_id, []) if not token else []
        self._record.task_accepted(row_id, result)
        for event in early:
            self._task_event(task, event)
        return result

    def _end_tasks(self, why: str) -> None:
        """The session is over: pieces it never finished are reported (interrupted if they
        had started), so nobody waits for events that will not come."""
        with self._lock:
            open_tasks = [t for t in self._live.tasks.values() if t.token and not t.ended]
            for t in open_tasks:
                t.ended = True
        now = time.time()
        for t in open_tasks:
            self._record.task_unfinished(t.row_id, t.started, now)
            self._outbox.unfinished(t, why, now)

    def _live_session(self) -> AvatarSession | None:
        with self._lock:
            return self._live.live_session()

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
        self._session_watch.active()  # voice input resets the provider's idle timer too
        session = self._live_session()
        if session is None:
            return  # between sessions (a switch): the words are lost, as with a muted mic
        try:
            await session.send_user_audio(pcm24k)
        except Exception as exc:  # noqa: BLE001 - a dropped room shows as Disconnected
            log.debug("user audio not sent: %s", exc)

    async def _ask(self, text: str) -> None:
        self._session_watch.active()
        session = self._live_session()
        if session is None:
            return
        try:
            await session.ask(text)
        except Exception as exc:  # noqa: BLE001 - shown with what to do
            self.report(problem_of(exc))

    async def _interrupt(self) -> None:
        self._outbox.drop("interrupted")
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
        starting = self._starting
        if starting is not None and not starting.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(starting), START_DRAIN_S)
        with self._lock:
            session, record_id = self._live.session, self._live.record_id
        # Recorded as ended by the provider before we stopped it: a dropped avatar, replaced.
        ended_before = record_id is not None and self._record.is_stopped(record_id)
        stop_error: str | None = None
        if session is not None:
            try:
                await session.stop()
            except Exception as exc:  # noqa: BLE001 - the session is over for us either way
                stop_error = problem_of(exc).message
        if record_id is not None and not ended_before:  # else it keeps the provider's reason
            self._record.stopped(record_id, reason, stop_error)
        with self._lock:
            self._live.state = "ended"
            self._live.ended_reason = reason
            self._live.speaking_task = None
            self._live.session = None
        self._end_tasks(f"the avatar session ended ({reason})")
        self.media.reset("Session ended — press Start for a new one")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._session_watch.period_s)
            if await self._session_watch.check():
                log.info("the page is gone (no heartbeat, tab not connected): stopping")
                await self._stop("PAGE_GONE")

    def _on_event(self, event: AvatarEvent) -> None:
        """Transport callbacks (runner loop thread): update live state and record the event."""
        with self._lock:
            record_id = self._live.record_id
            task = self._live.apply(event)
        self.notify(event)
        if isinstance(event, Disconnected):
            self._end_tasks(f"the avatar session ended ({event.reason})")
        if record_id is None:
            return
        ended = self._record.event(record_id, event, task.row_id if task else None)
        if isinstance(event, Disconnected):
            if ended:
                self.media.reset(f"Session ended by the provider ({event.reason})")
        elif task is not None and not isinstance(event, FirstFrame):
            self._task_event(task, event)

    def _task_event(self, task: Task, event: AvatarEvent) -> None:
        if self._outbox.heard(task, event):
            self._record.task_talking(task.row_id, event, task.interrupted)


_RUNNERS: StopAtExit[AvatarRunner] = StopAtExit()

"""An OpenAI Realtime (GA) session on its own event-loop thread, through the official SDK.

The page (script thread) calls the thread-safe methods and polls `snapshot()`; the mic sink
(aiortc thread) calls `append_audio`. Events are parsed once (`lib.brain.events`), recorded in
the store with their receive time, and fanned out to subscribers (the bridge, later). A dropped
connection is reconnected with backoff, the session settings re-sent and the conversation so far
given to the new session as items (`lib.brain.history`), so the model does not forget it; the
retry budget refills after a healthy stretch. A refused key is not retried: it is shown with what
to do.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from lib.brain.base import BrainSnapshot, Line, TurnState
from lib.brain.events import (
    BUSY_CODE,
    BrainEvent,
    Committed,
    ConnectionLost,
    ErrorEvent,
    ResponseCreated,
    ResponseDone,
    SessionState,
    SpeechStarted,
    SpeechStopped,
    TextDelta,
    TextDone,
    TranscriptDelta,
    TranscriptDone,
    parse,
)
from lib.brain.history import history_items
from lib.brain.outlets import BrainOutlets
from lib.brain.settings import RealtimeSettings
from lib.core.config import Secret
from lib.core.loop_thread import LoopThread
from lib.core.problem import Problem
from lib.store.database import Store

log = logging.getLogger(__name__)

RECONNECT_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)
# A connection up this long was working: its drop is a blip, and the retry budget refills (a
# long conversation survives many blips; a server that drops every few seconds still runs out).
HEALTHY_S = 30.0
AUTH_CODES = frozenset({"invalid_api_key", "missing_api_key"})
CONNECT_TIMEOUT_S = 15.0


@dataclass
class _State:
    state: TurnState = "offline"
    connected: bool = False
    lines: list[Line] = field(default_factory=list)
    problem: Problem | None = None
    reconnects: int = 0
    session: dict[str, Any] = field(default_factory=dict)
    active_response: str | None = None
    audio_in_samples: int = 0
    responses: int = 0


class AuthRefused(Exception):
    pass


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
    return int(status) if isinstance(status, int) else None


class RealtimeClient(BrainOutlets):
    _log = log
    _subscriber_failed = "realtime subscriber failed"

    def __init__(
        self,
        *,
        api_key: Secret,
        websocket_base_url: str | None,
        provider: str,
        store: Store | None = None,
    ) -> None:
        super().__init__(provider, store)
        self._key = api_key
        self._ws_url = websocket_base_url
        self._loop = LoopThread("realtime-session")
        self._lock = threading.Lock()
        self._st = _State()
        self._conn: Any = None
        self._task: concurrent.futures.Future[None] | None = None
        self._stopping = False
        self._settings: RealtimeSettings | None = None
        self._auth_refused: str | None = None  # the server refused the key: never retry
        self._pending_create = False  # a response.create waiting for the active one to end
        # Sent before the connection was up, with the key of the typed line each one carries.
        self._waiting: list[tuple[dict[str, Any], str | None]] = []
        # Typed lines whose item is not on the wire yet (lock held): a reconnect's replay leaves
        # them out (their own item follows it), so they are not sent twice.
        self._unsent: set[str] = set()
        self._opened_at: float | None = None  # when the current connection opened (monotonic)

    # ---- script-thread API --------------------------------------------------------------
    def start(self, settings: RealtimeSettings) -> None:
        problems = settings.validate()
        if problems:
            with self._lock:
                self._st.problem = Problem("; ".join(problems), "change the session settings")
                self._st.state = "failed"
            return
        self._settings = settings
        self._stopping = False
        with self._lock:
            self._st.state, self._st.problem = "connecting", None
        self._open_record(
            {
                "provider": self.provider,
                "model": settings.model,
                "settings": json.dumps(settings.session_payload(), sort_keys=True),
                "started_at": time.time(),
                "status": "connecting",
            }
        )
        self._task = self._loop.submit(self._run())

    def wait_connected(self, timeout: float = 15.0) -> BrainSnapshot:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.snapshot()
            if snap.connected or snap.state == "failed":
                return snap
            time.sleep(0.02)
        return self.snapshot()

    def append_audio(self, pcm24k: bytes) -> None:
        """Mic audio, PCM16 mono 24 kHz (any thread)."""
        if not pcm24k or not self._loop.alive:
            return
        with self._lock:
            self._st.audio_in_samples += len(pcm24k) // 2
        self._fire(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24k).decode()}
        )

    def commit(self) -> None:
        self._fire({"type": "input_audio_buffer.commit"})

    def clear_audio(self) -> None:
        self._fire({"type": "input_audio_buffer.clear"})

    def respond(self) -> None:
        """Ask for an answer. While one is still active (e.g. cancelled but not yet done), the
        GA server refuses a new one, so it is asked for once the active one is done."""
        if self._loop.alive:
            self._loop.submit(self._respond())

    def cancel(self) -> None:
        self._fire({"type": "response.cancel"})

    def push_to_talk_start(self) -> None:
        """Press: stop the assistant if it is answering, start a fresh buffer."""
        with self._lock:
            active = self._st.active_response is not None
        if active:
            self.cancel()
        self.clear_audio()

    def push_to_talk_end(self) -> None:
        self.commit()
        self.respond()

    def send_text(self, text: str) -> None:
        key = f"text-{uuid.uuid4().hex}"
        with self._lock:
            self._st.lines.append(Line("user", key, text, time.time(), True))
            self._unsent.add(key)
        event = {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
        if self._loop.alive:
            self._loop.submit(self._send(event, key))
        self.respond()

    def send_function_output(self, call_id: str, output: str) -> None:
        self._fire(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": output},
            }
        )
        self.respond()

    def update(self, settings: RealtimeSettings) -> None:
        self._settings = settings
        self._fire({"type": "session.update", "session": settings.session_payload()})

    def stop(self) -> None:
        self._stopping = True
        if self._loop.alive:
            with contextlib.suppress(Exception):
                self._loop.run(self._close(), timeout=10)
        with self._lock:
            self._st.state, self._st.connected = "offline", False
        self._record_stopped()

    def shutdown(self) -> None:
        self.stop()
        self._loop.close()

    def snapshot(self) -> BrainSnapshot:
        with self._lock:
            st = self._st
            return BrainSnapshot(
                state=st.state,
                connected=st.connected,
                lines=tuple(Line(**vars(ln)) for ln in st.lines),
                problem=st.problem,
                reconnects=st.reconnects,
                session=dict(st.session),
                record_id=self.record_id,
                audio_in_s=st.audio_in_samples / 24000,
                responses=st.responses,
            )

    # ---- loop side ----------------------------------------------------------------------
    def _fire(self, event: dict[str, Any]) -> None:
        if self._loop.alive:
            self._loop.submit(self._send(event))

    async def _send(self, event: dict[str, Any], line_key: str | None = None) -> None:
        conn = self._conn
        if conn is None:
            # Not connected yet (or reconnecting): what the user typed or asked for waits for
            # the connection; mic audio of this gap is dropped (it would arrive stale).
            if event.get("type") != "input_audio_buffer.append" and not self._stopping:
                self._waiting.append((event, line_key))
            return
        try:
            await conn.send(event)
        except Exception as exc:  # noqa: BLE001 - the receive loop handles the reconnect
            log.debug("send failed: %s", exc)
        self._sent(line_key)

    def _sent(self, line_key: str | None) -> None:
        if line_key is not None:
            with self._lock:
                self._unsent.discard(line_key)

    async def _respond(self) -> None:
        with self._lock:
            busy = self._st.active_response is not None
            self._pending_create = busy
        if not busy:
            await self._send({"type": "response.create"})

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        from openai import AsyncOpenAI

        client = AsyncOpenAI(
            api_key=self._key.reveal(), websocket_base_url=self._ws_url, max_retries=0
        )
        attempt = 0
        opened = False  # a connection was open before: the next one resumes its conversation
        while not self._stopping:
            self._opened_at = None
            try:
                await self._connect_once(client, replay=opened)
            except AuthRefused as exc:
                self._fail(
                    str(exc),
                    "check OPENAI_API_KEY (the Settings page shows if it is "
                    "set); without a key the embedded server is used",
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any transport failure: reconnect
                if self._stopping:
                    return  # our own close, not a failure
                if self._opened_at is not None:
                    opened = True
                    if time.monotonic() - self._opened_at >= HEALTHY_S:
                        attempt = 0  # it worked for a while: a blip, not a failing server
                log.info("realtime connection failed: %s", exc)
                if attempt >= len(RECONNECT_DELAYS_S):
                    self._fail(
                        f"the voice model connection keeps failing ({exc})",
                        "check the network or the local server, then start again",
                    )
                    return
                self._set_problem(
                    Problem(
                        "connection to the voice model lost — reconnecting",
                        "the transcript so far is kept",
                    )
                )
            if self._stopping:
                return
            if self._auth_refused is not None:
                self._fail(
                    self._auth_refused,
                    "check OPENAI_API_KEY (the Settings page shows "
                    "if it is set); without a key the embedded server is used",
                )
                return
            with self._lock:
                self._st.state, self._st.connected = "reconnecting", False
                self._st.reconnects += 1
                self._st.active_response = None
                # An answer asked for after the lost one went with it: the bridge has closed
                # that turn as dropped, so it is not asked for again on the new connection.
                self._pending_create = False
            await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])
            attempt += 1

    async def _connect_once(self, client: Any, *, replay: bool) -> None:
        """One connection until it closes; `replay`: give it the conversation so far first."""
        assert self._settings is not None
        try:
            manager = client.realtime.connect(model=self._settings.model)
            # A handshake that never completes must become a retry the page can show.
            conn = await asyncio.wait_for(manager.__aenter__(), CONNECT_TIMEOUT_S)
        except Exception as exc:
            if _status_of(exc) in (401, 403) or "401" in str(exc):
                raise AuthRefused(f"the voice model refused the API key ({exc})") from exc
            raise
        self._opened_at = time.monotonic()
        try:
            # If the server already refused us (bad key), this send fails; still read what it
            # said before closing, so the refusal is shown instead of retried.
            with contextlib.suppress(Exception):
                await conn.send(
                    {"type": "session.update", "session": self._settings.session_payload()}
                )
                if replay:  # a new server-side conversation: the earlier turns, no response
                    with self._lock:
                        lines, unsent = list(self._st.lines), set(self._unsent)
                    for event in history_items(lines, skip=unsent):
                        await conn.send(event)
                # Sends of the gap go out only now (self._conn is still None), after the
                # replay, so they are neither interleaved with it nor sent twice; until none
                # is left, as more may come while these are sent.
                while self._waiting:
                    waiting, self._waiting = self._waiting, []
                    for event, line_key in waiting:
                        await conn.send(event)
                        self._sent(line_key)
            self._conn = conn
            while True:
                raw = await conn.recv_bytes()
                self._handle(parse(json.loads(raw)))
        finally:
            self._conn = None
            with self._lock:
                self._st.connected = False
            with contextlib.suppress(Exception):
                await manager.__aexit__(None, None, None)
            if not self._stopping:
                self._emit(ConnectionLost("client.connection_lost", "the connection closed"))
                raise ConnectionError("the voice model connection closed")

    def _fail(self, message: str, hint: str) -> None:
        with self._lock:
            self._st.state, self._st.connected = "failed", False
            self._st.problem = Problem(message, hint)
        self._record_status("failed", message)

    def _set_problem(self, problem: Problem | None) -> None:
        with self._lock:
            self._st.problem = problem

    def _handle(self, ev: BrainEvent) -> None:
        connected_now = create_now = False
        with self._lock:
            st = self._st
            if isinstance(ev, SessionState):
                st.session = ev.session
                if not st.connected:  # the first event of a (re)connected session
                    st.connected, st.state = True, "listening"
                    if st.problem and "reconnecting" in st.problem.message:
                        st.problem = None
                    connected_now = True
            elif isinstance(ev, SpeechStarted):
                st.state = "user_speaking"
            elif isinstance(ev, SpeechStopped | Committed):
                st.state = "thinking"
            elif isinstance(ev, TranscriptDelta | TranscriptDone):
                line = self._line("user", ev.item_id, ev.at)
                if isinstance(ev, TranscriptDelta):
                    line.text += ev.delta
                else:
                    line.text, line.final = ev.transcript, True
            elif isinstance(ev, ResponseCreated):
                st.active_response = ev.response_id
                st.state = "responding"
            elif isinstance(ev, TextDelta):
                self._line("assistant", ev.response_id, ev.at).text += ev.delta
            elif isinstance(ev, TextDone):
                line = self._line("assistant", ev.response_id, ev.at)
                line.text, line.final = ev.text, True
            elif isinstance(ev, ResponseDone):
                st.responses += 1
                if ev.status == "failed" and ev.reason:
                    st.problem = Problem(f"the model failed: {ev.reason}", _FAILED_HINT)
                if st.active_response == ev.response_id:
                    st.active_response = None
                    create_now, self._pending_create = self._pending_create, False
                for ln in st.lines:
                    if ln.role == "assistant" and ln.key == ev.response_id:
                        ln.final, ln.status = True, ev.status
                if st.state in ("responding", "thinking"):
                    st.state = "listening"
            elif isinstance(ev, ErrorEvent) and ev.code == BUSY_CODE:
                # Our response.create raced the end of the last answer: ask again after it.
                self._pending_create = st.active_response is not None
                create_now = not self._pending_create
            elif isinstance(ev, ErrorEvent):
                st.problem = Problem(f"{ev.code or 'error'}: {ev.message}", _error_hint(ev.code))
                if ev.code in AUTH_CODES:
                    self._auth_refused = f"the voice model refused the API key: {ev.message}"
        if connected_now:
            self._record_status("connected")
        if create_now:
            self._fire({"type": "response.create"})
        self._record(ev)
        self._emit(ev)

    def _line(self, role: Literal["user", "assistant"], key: str, at: float) -> Line:
        """The transcript line for an item/response, created on first sight (lock held)."""
        for ln in reversed(self._st.lines):
            if ln.role == role and ln.key == key:
                return ln
        line = Line(role, key, "", at)
        self._st.lines.append(line)
        return line


_FAILED_HINT = "check the model in the session settings (the account must have access to it)"


def _error_hint(code: str | None) -> str:
    return {
        "input_audio_buffer_commit_empty": "speak for a moment before releasing push-to-talk",
        "conversation_already_has_active_response": "wait for the answer, or interrupt it",
        "response_cancel_not_active": "nothing was being answered",
        "missing_required_parameter": "the session settings are incomplete",
    }.get(code or "", "")

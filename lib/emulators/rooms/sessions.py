"""Sessions, tokens and keys of the emulated account, and the clock that expires sessions.

All state lives on the server's event loop (no locks). Closed sessions are remembered (bounded)
so later calls get the real "session state wrong: closed" answer instead of "not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request

from lib.emulators.engines.looks import AvatarLook
from lib.emulators.engines.tts import VoiceSpec
from lib.emulators.rooms import api_errors
from lib.emulators.rooms.stream import AvatarStream
from lib.wire import localroom

Api = Literal["heygen", "liveavatar"]
Mode = Literal["HEYGEN", "FULL", "LITE"]
Status = Literal["new", "connecting", "connected", "closed"]

HEYGEN_IDLE_DEFAULT_S = 120.0  # docs: activity_idle_timeout default
LIVEAVATAR_IDLE_DEFAULT_S = 300.0  # LITE websocket: 5-minute idle timeout
MAX_REMEMBERED_CLOSED = 1000
MAX_TOKENS = 10_000
REAP_INTERVAL_S = 0.2


@dataclass(frozen=True)
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None  # None: any non-empty key is accepted (the embedded default)
    concurrency_limit: int = 3  # HeyGen trial accounts: 3 concurrent sessions
    idle_timeout_s: float | None = None  # overrides the APIs' default idle timeouts
    session_duration_limit_s: float = 600.0
    sandbox_duration_s: float = 60.0
    # Where LiveAvatar's OpenAI Realtime connector opens its voice model (None: refused).
    openai_base_url: str | None = None

    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://{self.host}:{self.port}"


@dataclass(eq=False)
class Session:
    session_id: str
    api: Api
    mode: Mode
    avatar: AvatarLook
    voice: VoiceSpec
    quality: str
    emotion: str | None
    rate: float
    language: str
    idle_timeout_s: float | None  # None: never expires for inactivity
    duration_limit_s: float
    stream: AvatarStream
    is_sandbox: bool = False
    room_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    agent_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ws_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    session_token: str = ""  # LiveAvatar bearer token
    created_at: float = field(default_factory=time.time)
    created_mono: float = field(default_factory=time.monotonic)
    started_mono: float | None = None
    closed_at: float | None = None
    ever_joined: bool = False
    listening: bool = False  # the avatar's ears take the user's audio from the room
    ears: Any = None  # lib.emulators.rooms.ears.UserEars, made when the user first speaks
    # lib.emulators.liveavatar.connector.RealtimeConnector: LiveAvatar runs the voice model.
    connector: Any = None
    end_reason: str | None = None
    last_activity: float = field(default_factory=time.monotonic)
    # Keeps synthesis+enqueue of concurrent tasks in request order.
    speak_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending_speaks: int = 0  # speak requests waiting for synthesis (bounded: bounds.py)
    # Called with the end reason when the session closes (agent sockets close themselves).
    on_close: list[Callable[[str], None]] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    @property
    def status(self) -> Status:
        if self.closed:
            return "closed"
        if self.started_mono is None:
            return "new"
        return "connected" if self.ever_joined else "connecting"

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    def expiry_reason(self, now: float) -> str | None:
        """Why the session must end now, if it must (LiveAvatar's end-reason names)."""
        since = self.started_mono if self.started_mono is not None else self.created_mono
        if now - since >= self.duration_limit_s:
            return "MAX_DURATION_REACHED"
        if self.stream.is_speaking:
            self.last_activity = now  # talking is activity: never cut an utterance for idling
            return None
        if self.idle_timeout_s is not None and now - self.last_activity >= self.idle_timeout_s:
            return "IDLE_TIMEOUT"
        return None


def same_secret(given: str, wanted: str) -> bool:
    """Constant-time equality of a key or token (as bytes: any text a client sends compares)."""
    return hmac.compare_digest(given.encode(), wanted.encode())


def _digest(token: str) -> bytes:
    # Tokens are looked up by their hash: a dict lookup's timing then tells nothing about them.
    return hashlib.sha256(token.encode()).digest()


class Registry:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        # HeyGen session tokens from create_token (by digest) → the session they created.
        self._tokens: OrderedDict[bytes, str | None] = OrderedDict()
        # Signs LiveAvatar's session tokens (JWTs); never leaves this process.
        self.token_key = secrets.token_bytes(32)
        self._reaper: asyncio.Task[None] | None = None

    # ---- keys and tokens ----------------------------------------------------------------
    def key_ok(self, key: str) -> bool:
        if not key:
            return False
        if self.config.api_key is None:
            return True
        return same_secret(key, self.config.api_key)

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        self._tokens[_digest(token)] = None
        while len(self._tokens) > MAX_TOKENS:
            self._tokens.popitem(last=False)
        return token

    def token_known(self, token: str) -> bool:
        return _digest(token) in self._tokens

    def token_used(self, token: str) -> bool:
        """The create_token token has already created its session (they are single-use)."""
        return self._tokens.get(_digest(token)) is not None

    def use_token(self, token: str, session_id: str) -> None:
        self._tokens[_digest(token)] = session_id

    def by_session_token(self, session_id: str | None, token: str) -> Session | None:
        """The session a bearer token was issued to (its id from the verified token)."""
        session = self.sessions.get(session_id) if session_id else None
        if session is None or not session.session_token:
            return None
        return session if same_secret(token, session.session_token) else None

    # ---- sessions -----------------------------------------------------------------------
    def live(self, api: Api) -> list[Session]:
        return [s for s in self.sessions.values() if s.api == api and not s.closed]

    def check_capacity(self, api: Api) -> None:
        if len(self.live(api)) >= self.config.concurrency_limit:
            raise api_errors.concurrent_limit(self.config.concurrency_limit)

    def add(self, session: Session) -> None:
        self.sessions[session.session_id] = session
        self._forget_old_closed()

    def find(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def get_open(self, session_id: str) -> Session:
        """The session, or the 400 the real API gives for unknown and closed sessions."""
        session = self.sessions.get(session_id)
        if session is None:
            raise api_errors.session_not_found(session_id)
        if session.closed:
            raise api_errors.session_closed()
        return session

    def close(self, session: Session, end_reason: str) -> None:
        if session.closed:
            return
        session.closed_at = time.time()
        session.end_reason = end_reason
        for callback in session.on_close:
            with contextlib.suppress(Exception):
                callback(end_reason)
        # The LiveKit room is deleted with the session: viewers see ROOM_DELETED (reason 5).
        session.stream.close(localroom.close_code(5), "ROOM_DELETED")

    def _forget_old_closed(self) -> None:
        closed = [sid for sid, s in self.sessions.items() if s.closed]
        for sid in closed[: max(0, len(closed) - MAX_REMEMBERED_CLOSED)]:
            del self.sessions[sid]

    # ---- expiry -------------------------------------------------------------------------
    def start_reaper(self) -> None:
        self._reaper = asyncio.create_task(self._reap_forever(), name="session-reaper")

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL_S)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if session.closed:
                    continue
                reason = session.expiry_reason(now)
                if reason is not None:
                    self.close(session, reason)

    async def shutdown(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for session in list(self.sessions.values()):
            self.close(session, "SERVER_SHUTDOWN")
        await asyncio.gather(*(s.stream.wait_viewers_closed(1.0) for s in self.sessions.values()))


def new_session_id() -> str:
    return str(uuid.uuid4())


def registry_of(request: Request) -> Registry:
    """The app's registry, as a route reaches it."""
    registry: Registry = request.app.state.registry
    return registry

"""What the room-based providers (HeyGen v1, LiveAvatar) share behind the avatar interface.

Each vendor module keeps its own wire calls; this holds the plumbing around them: the room
transport, the audio-in agent socket, an idempotent stop, and a start that never leaves a paid
session running.
"""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, Protocol, TypeVar

from lib.avatar.agent_ws import AgentSocket
from lib.avatar.base import (
    AvatarError,
    AvatarEvent,
    AvatarInfo,
    AvatarProvider,
    AvatarSession,
    MediaSink,
    RemoteSession,
    SessionOptions,
    VoiceInfo,
)
from lib.avatar.transport import MediaTransport, TransportFactory


class RoomSession(AvatarSession):
    """A session whose media and events come through a room transport."""

    def __init__(
        self,
        provider: str,
        session_id: str,
        options: SessionOptions,
        duration_limit: int | None,
        transport: MediaTransport,
        sink: MediaSink,
    ) -> None:
        self.provider = provider
        self.session_id = session_id
        self.options = options
        self.started_at = time.time()
        self.duration_limit_s = float(duration_limit or 0) or None
        self._transport = transport
        self._sink = sink
        self._agent: AgentSocket | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def hears_user(self) -> bool:
        """The user's microphone can go into the room (the avatar listens)."""
        return True

    async def join_room(
        self, url: str, token: str, parse: Callable[[dict[str, Any]], AvatarEvent]
    ) -> None:
        """Join the room; its data messages reach the sink as typed events."""
        sink = self._sink

        def on_data(msg: dict[str, Any]) -> None:
            sink.on_event(parse(msg))

        await self._transport.connect(url, token, self.session_id, sink, on_data)

    async def _open_agent(self, url: str, *, talking_events: bool = True) -> None:
        self._agent = AgentSocket(self.provider, talking_events=talking_events)
        await self._agent.connect(url, self._sink)

    async def _agent_socket(self) -> AgentSocket | None:
        """The audio-in socket, if this session has one (a provider may open it on first use)."""
        return self._agent

    async def speak_audio(self, pcm24k: bytes, *, event_id: str, end: bool = False) -> None:
        agent = await self._agent_socket()
        if agent is None:
            await super().speak_audio(pcm24k, event_id=event_id, end=end)
            return
        if pcm24k:
            await agent.speak(pcm24k, event_id)
        if end:
            await agent.speak_end(event_id)

    async def send_user_audio(self, pcm24k: bytes) -> None:
        if not self.hears_user:
            await super().send_user_audio(pcm24k)
        await self._transport.send_audio(pcm24k, 24_000)

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._stop_remote()
        except AvatarError as exc:
            if not self._already_ended(exc):
                raise
        finally:
            if self._agent is not None:
                await self._agent.close()
            await self._transport.close()

    @abc.abstractmethod
    async def _stop_remote(self) -> None:
        """The provider's own stop call."""

    @abc.abstractmethod
    def _already_ended(self, exc: AvatarError) -> bool:
        """The stop was refused because the session is already over: the outcome we wanted."""


class RoomApi(Protocol):
    """The listing calls every room provider's HTTP client answers."""

    provider: str

    async def list_avatars(self) -> list[AvatarInfo]: ...

    async def list_voices(self) -> list[VoiceInfo]: ...

    async def list_sessions(self) -> list[RemoteSession]: ...

    async def aclose(self) -> None: ...


ApiT = TypeVar("ApiT", bound=RoomApi)


class RoomProvider(AvatarProvider, Generic[ApiT]):
    """A provider whose listings are its HTTP client's; subclasses start and stop sessions."""

    def __init__(self, api: ApiT, transport_factory: TransportFactory) -> None:
        self.name = api.provider
        self.api = api
        self._transport_factory = transport_factory

    async def list_avatars(self) -> list[AvatarInfo]:
        return await self.api.list_avatars()

    async def list_voices(self) -> list[VoiceInfo]:
        return await self.api.list_voices()

    async def list_sessions(self) -> list[RemoteSession]:
        return await self.api.list_sessions()

    async def aclose(self) -> None:
        await self.api.aclose()


@contextlib.asynccontextmanager
async def stopped_on_failure(session: AvatarSession) -> AsyncIterator[None]:
    """Never leave a paid session running because a later step of starting it failed."""
    try:
        yield
    except BaseException:
        await stop_quietly(session)
        raise


async def stop_quietly(session: AvatarSession) -> None:
    """Cleanup path: stop, and let the original failure be the one reported."""
    with contextlib.suppress(Exception):
        await session.stop()

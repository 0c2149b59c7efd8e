"""HeyGen Interactive Avatar v1 (streaming.*) over httpx, behind the avatar interface.

The embedded `local` provider is this same client pointed at the local server with the local
room transport; the real service uses the LiveKit transport.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from lib.avatar.agent_ws import AgentSocket
from lib.avatar.base import (
    AvatarError,
    AvatarEvent,
    AvatarInfo,
    AvatarSession,
    Emotion,
    EndMessage,
    MediaSink,
    RemoteSession,
    SessionControls,
    SessionOptions,
    SpeakResult,
    TaskMode,
    VoiceInfo,
)
from lib.avatar.http import ProviderApi, voice_info
from lib.avatar.room_events import RoomEventNames, TurnNames, room_event
from lib.avatar.room_session import RoomProvider, RoomSession, stopped_on_failure
from lib.avatar.transport import MediaTransport
from lib.core.config import Secret

TASK_TIMEOUT = httpx.Timeout(300.0, connect=5.0)  # sync tasks answer only after speaking
# streaming.new's voice takes an id, an emotion and a rate (0.5–1.5); the session a language.
CONTROLS = SessionControls(voice=True, emotion=True, rate=(0.5, 1.5), language=True)


@dataclass(frozen=True)
class NewSession:
    session_id: str
    access_token: str
    url: str
    realtime_endpoint: str | None
    session_duration_limit: int | None
    raw: dict[str, Any]


class HeyGenApi(ProviderApi):
    """One method per endpoint. `transport` is the network seam (tests may inject one)."""

    key_header = "x-api-key"
    default_provider = "heygen"

    def __init__(
        self,
        api_key: Secret,
        base_url: str,
        *,
        task_emotion: bool = False,
        provider: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`task_emotion`: the server takes an emotion per task (the embedded one does; the
        real API only per session, so it is never sent there)."""
        super().__init__(api_key, base_url, provider=provider, transport=transport)
        self.task_emotion = task_emotion

    async def create_token(self) -> str:
        body = await self._call("POST", "/v1/streaming.create_token", json={})
        token = (self._data(body) or {}).get("token")
        if not token:
            raise AvatarError("create_token returned no token", provider=self.provider)
        return str(token)

    async def new_session(self, token: str, options: SessionOptions) -> NewSession:
        voice: dict[str, Any] = {"rate": options.rate}
        if options.voice_id:
            voice["voice_id"] = options.voice_id
        if options.emotion:
            voice["emotion"] = options.emotion
        payload = {
            "avatar_id": options.avatar_id,
            "quality": options.quality,
            "voice": voice,
            "language": options.language,
            "version": "v2",
            "video_encoding": "VP8",
            "activity_idle_timeout": options.idle_timeout_s,
            "source": "sdk",
        }
        data = self._data(await self._call("POST", "/v1/streaming.new", token=token, json=payload))
        if not isinstance(data, dict) or "session_id" not in data:
            raise AvatarError("streaming.new returned no session", provider=self.provider)
        return NewSession(
            session_id=str(data["session_id"]),
            access_token=str(data.get("access_token", "")),
            url=str(data.get("url", "")),
            realtime_endpoint=data.get("realtime_endpoint"),
            session_duration_limit=data.get("session_duration_limit"),
            raw=data,
        )

    async def start(self, token: str, session_id: str) -> None:
        await self._call(
            "POST", "/v1/streaming.start", token=token, json={"session_id": session_id}
        )

    async def task(
        self,
        token: str,
        session_id: str,
        text: str,
        *,
        task_type: str = "repeat",
        task_mode: TaskMode = "async",
        emotion: Emotion | None = None,
    ) -> tuple[str, float | None]:
        payload: dict[str, Any] = {
            "session_id": session_id,
            "text": text,
            "task_type": task_type,
            "task_mode": task_mode,
        }
        if emotion is not None and self.task_emotion:
            payload["emotion"] = emotion
        body = await self._call(
            "POST",
            "/v1/streaming.task",
            token=token,
            json=payload,
            timeout=TASK_TIMEOUT if task_mode == "sync" else None,
        )
        data = self._data(body) or {}
        duration = data.get("duration_ms")
        return str(data.get("task_id", "")), float(duration) if duration is not None else None

    async def session_call(self, token: str | None, action: str, session_id: str) -> None:
        """interrupt | keep_alive | start_listening | stop_listening | stop"""
        await self._call(
            "POST", f"/v1/streaming.{action}", token=token, json={"session_id": session_id}
        )

    async def list_sessions(self) -> list[RemoteSession]:
        data = self._data(await self._call("GET", "/v1/streaming.list")) or {}
        return [
            RemoteSession(
                str(s["session_id"]), str(s.get("status", "")), float(s.get("created_at") or 0)
            )
            for s in data.get("sessions", [])
        ]

    async def list_avatars(self) -> list[AvatarInfo]:
        data = self._data(await self._call("GET", "/v1/streaming/avatar.list")) or []
        return [
            AvatarInfo(
                avatar_id=str(a["avatar_id"]),
                name=str(a.get("pose_name") or a["avatar_id"]),
                default_voice=a.get("default_voice"),
                preview_url=a.get("normal_preview"),
                status=str(a.get("status", "ACTIVE")),
            )
            for a in data
            if a.get("status", "ACTIVE") == "ACTIVE"
        ]

    async def list_voices(self) -> list[VoiceInfo]:
        data = self._data(await self._call("GET", "/v2/voices")) or {}
        voices = data.get("voices", []) if isinstance(data, dict) else data
        # Only realtime-capable voices work in streaming sessions (StreamingAvatarSDK issue #3).
        return [voice_info(v, "voice_id") for v in voices if v.get("support_realtime")]


HEYGEN_EVENTS = RoomEventNames(
    text_field="message",
    avatar=TurnNames("avatar_start_talking", "avatar_stop_talking", "avatar_talking_message"),
    user=TurnNames("user_start", "user_stop", "user_talking_message"),
)


def parse_data_event(msg: dict[str, Any]) -> AvatarEvent:
    """HeyGen data-channel JSON → typed event (unknown kinds are kept as ProviderEvent)."""
    kind = str(msg.get("type", ""))
    task_id = str(msg.get("task_id", ""))
    if kind == "avatar_end_message":
        return EndMessage(task_id=task_id)
    return room_event(kind, task_id, msg, HEYGEN_EVENTS)


class HeyGenSession(RoomSession):
    def __init__(
        self,
        api: HeyGenApi,
        token: str,
        new: NewSession,
        options: SessionOptions,
        transport: MediaTransport,
        sink: MediaSink,
    ) -> None:
        super().__init__(
            api.provider, new.session_id, options, new.session_duration_limit, transport, sink
        )
        self.info = new
        self._api = api
        self._token = token

    async def speak(
        self, text: str, mode: TaskMode = "async", emotion: Emotion | None = None
    ) -> SpeakResult:
        requested = time.time()
        task_id, duration = await self._api.task(
            self._token, self.session_id, text, task_mode=mode, emotion=emotion
        )
        return SpeakResult(task_id, duration, requested, time.time())

    async def _agent_socket(self) -> AgentSocket | None:
        # Opened on first use, where the session has a realtime endpoint.
        if self._agent is None and self.info.realtime_endpoint:
            await self._open_agent(str(self.info.realtime_endpoint), talking_events=False)
        return self._agent

    async def interrupt(self) -> None:
        await self._api.session_call(self._token, "interrupt", self.session_id)

    async def listen(self, on: bool) -> None:
        action = "start_listening" if on else "stop_listening"
        await self._api.session_call(self._token, action, self.session_id)

    async def keep_alive(self) -> None:
        await self._api.session_call(self._token, "keep_alive", self.session_id)

    async def _stop_remote(self) -> None:
        await self._api.session_call(self._token, "stop", self.session_id)

    def _already_ended(self, exc: AvatarError) -> bool:
        # Already closed on the provider's side (idle expiry) is the outcome we wanted.
        return "closed" in exc.message.lower() or exc.status in (400, 404)


class HeyGenProvider(RoomProvider[HeyGenApi]):
    async def stop_session(self, session_id: str) -> None:
        await self.api.session_call(None, "stop", session_id)

    async def start(self, options: SessionOptions, sink: MediaSink) -> AvatarSession:
        token = await self.api.create_token()
        new = await self.api.new_session(token, options)
        transport = self._transport_factory()
        session = HeyGenSession(self.api, token, new, options, transport, sink)
        async with stopped_on_failure(session):
            await self.api.start(token, new.session_id)
            await session.join_room(new.url, new.access_token, parse_data_event)
        return session

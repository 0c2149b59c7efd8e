"""LiveAvatar (HeyGen's replacement API) over httpx, behind the avatar interface.

FULL mode: LiveAvatar speaks text (`avatar.speak_text` on the room's `agent-control` topic).
LITE mode: we bring the audio (`agent.speak` on `ws_url`), the avatar lip-syncs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from lib.avatar.base import (
    AvatarError,
    AvatarEvent,
    AvatarInfo,
    AvatarSession,
    Disconnected,
    Emotion,
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
from lib.avatar.transport import MediaTransport, TransportFactory
from lib.core.config import Secret

Mode = Literal["FULL", "LITE"]
# HeyGen quality names → LiveAvatar video_settings.quality.
QUALITY = {"low": "low", "medium": "medium", "high": "high"}
CONTROL_TOPIC = "agent-control"
SPEED_RANGE = (0.8, 1.2)  # avatar_persona.voice_settings.speed (HeyGen's rate range is wider)
# FULL's avatar_persona takes a voice, a speed and a language (no emotion); LITE lip-syncs our
# audio, so its session takes the avatar and the quality only.
CONTROLS: dict[Mode, SessionControls] = {
    "FULL": SessionControls(voice=True, rate=SPEED_RANGE, language=True),
    "LITE": SessionControls(),
}


@dataclass(frozen=True)
class StartedSession:
    session_id: str
    session_token: str
    livekit_url: str
    livekit_client_token: str
    ws_url: str | None
    max_session_duration: int | None


class LiveAvatarApi(ProviderApi):
    key_header = "X-API-KEY"
    default_provider = "liveavatar"

    @staticmethod
    def _results(data: Any) -> list[dict[str, Any]]:
        if isinstance(data, dict):
            return list(data.get("results", []))
        return list(data or [])

    async def create_token(
        self,
        options: SessionOptions,
        mode: Mode,
        *,
        sandbox: bool = False,
        connector: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """`connector`: the `openai_realtime_config` of a LITE session whose voice model
        LiveAvatar runs."""
        payload: dict[str, Any] = {
            "mode": mode,
            "avatar_id": options.avatar_id,
            "is_sandbox": sandbox,
            "video_settings": {"quality": QUALITY[options.quality], "encoding": "VP8"},
        }
        if connector is not None:
            payload["openai_realtime_config"] = connector
        if mode == "FULL":
            # No context_id: LiveAvatar's "restricted mode", in which the avatar transcribes the
            # user but never answers by itself (our model's answer is the only one).
            speed = min(max(options.rate, SPEED_RANGE[0]), SPEED_RANGE[1])
            persona: dict[str, Any] = {
                "language": options.language,
                "voice_settings": {"speed": speed},
            }
            if options.voice_id:
                persona["voice_id"] = options.voice_id
            payload["avatar_persona"] = persona
        data = self._data(await self._call("POST", "/v1/sessions/token", json=payload)) or {}
        if "session_token" not in data:
            raise AvatarError("sessions/token returned no token", provider=self.provider)
        return str(data["session_id"]), str(data["session_token"])

    async def start(self, session_token: str) -> StartedSession:
        data = self._data(await self._call("POST", "/v1/sessions/start", token=session_token))
        if not isinstance(data, dict):
            raise AvatarError("sessions/start returned no session", provider=self.provider)
        return StartedSession(
            session_id=str(data["session_id"]),
            session_token=session_token,
            livekit_url=str(data.get("livekit_url", "")),
            livekit_client_token=str(data.get("livekit_client_token", "")),
            ws_url=data.get("ws_url"),
            max_session_duration=data.get("max_session_duration"),
        )

    async def create_secret(self, value: Secret, name: str) -> str:
        """Store an OpenAI key with LiveAvatar (for its connector); its id."""
        body = {"secret_type": "OPENAI_API_KEY", "secret_name": name}
        body["secret_value"] = value.reveal()  # at the network edge only
        data = self._data(await self._call("POST", "/v1/secrets", json=body)) or {}
        if "id" not in data:
            raise AvatarError("secrets returned no id", provider=self.provider)
        return str(data["id"])

    async def delete_secret(self, secret_id: str) -> None:
        await self._call("DELETE", f"/v1/secrets/{secret_id}")

    async def create_context(self, name: str, prompt: str, opening_text: str) -> str:
        body = {"name": name, "prompt": prompt, "opening_text": opening_text}
        data = self._data(await self._call("POST", "/v1/contexts", json=body)) or {}
        if "id" not in data:
            raise AvatarError("contexts returned no id", provider=self.provider)
        return str(data["id"])

    async def delete_context(self, context_id: str) -> None:
        await self._call("DELETE", f"/v1/contexts/{context_id}")

    async def keep_alive(self, session_token: str, session_id: str) -> None:
        await self._call(
            "POST", "/v1/sessions/keep-alive", token=session_token, json={"session_id": session_id}
        )

    async def stop(
        self, session_id: str, *, token: str | None = None, reason: str = "USER_CLOSED"
    ) -> None:
        await self._call(
            "POST",
            "/v1/sessions/stop",
            token=token,
            json={"session_id": session_id, "reason": reason},
        )

    async def list_sessions(self) -> list[RemoteSession]:
        data = self._data(await self._call("GET", "/v1/sessions", params={"type": "active"}))
        return [
            RemoteSession(
                str(s.get("id") or s.get("session_id")),
                str(s.get("status", "")),
                _epoch(s.get("created_at")),
            )
            for s in self._results(data)
        ]

    async def list_avatars(self) -> list[AvatarInfo]:
        data = self._data(await self._call("GET", "/v1/avatars/public"))
        out = []
        for a in self._results(data):
            voice = a.get("default_voice") or {}
            out.append(
                AvatarInfo(
                    avatar_id=str(a["id"]),
                    name=str(a.get("name") or a["id"]),
                    default_voice=voice.get("id") if isinstance(voice, dict) else None,
                    preview_url=a.get("preview_url"),
                    status=str(a.get("status", "ACTIVE")),
                )
            )
        return [a for a in out if a.status in ("ACTIVE", "COMPLETED", "READY")]

    async def list_voices(self) -> list[VoiceInfo]:
        data = self._data(await self._call("GET", "/v1/voices"))
        return [voice_info(v, "id") for v in self._results(data) if v.get("support_realtime", True)]


def _epoch(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        from datetime import datetime

        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


LIVEAVATAR_EVENTS = RoomEventNames(
    text_field="text",
    avatar=TurnNames("avatar.speak_started", "avatar.speak_ended", "avatar.transcription"),
    user=TurnNames("user.speak_started", "user.speak_ended", "user.transcription"),
)


def parse_room_event(msg: dict[str, Any]) -> AvatarEvent:
    """LiveAvatar FULL `agent-response` JSON → typed event."""
    kind = str(msg.get("event_type", ""))
    task_id = str(msg.get("source_event_id") or msg.get("event_id") or "")
    if kind == "session.stopped":
        return Disconnected(reason=str(msg.get("end_reason", "SESSION_STOPPED")))
    return room_event(kind, task_id, msg, LIVEAVATAR_EVENTS)


class LiveAvatarSession(RoomSession):
    def __init__(
        self,
        api: LiveAvatarApi,
        started: StartedSession,
        options: SessionOptions,
        mode: Mode,
        transport: MediaTransport,
        sink: MediaSink,
    ) -> None:
        super().__init__(
            api.provider,
            started.session_id,
            options,
            started.max_session_duration,
            transport,
            sink,
        )
        self.mode = mode
        self.info = started
        self._api = api
        self.runs_voice_model = options.voice_model is not None
        self.context_id: str | None = None  # made for this session; deleted when it stops

    @property
    def hears_user(self) -> bool:
        return self.mode == "FULL" or self.runs_voice_model

    async def open_agent_socket(self) -> None:
        if self.info.ws_url:
            await self._open_agent(self.info.ws_url)

    async def _control(self, event_type: str, event_id: str, **fields: str) -> None:
        """A command on the room's control topic (FULL mode)."""
        await self._transport.publish(
            {
                "event_type": event_type,
                "event_id": event_id,
                "session_id": self.session_id,
                **fields,
            },
            topic=CONTROL_TOPIC,
        )

    async def speak(
        self, text: str, mode: TaskMode = "async", emotion: Emotion | None = None
    ) -> SpeakResult:
        if self.mode != "FULL":
            raise AvatarError(
                "LITE sessions speak audio you send, not text",
                provider=self.provider,
                hint="choose LiveAvatar FULL to have LiveAvatar's voice speak typed text",
            )
        requested = time.time()
        event_id = uuid.uuid4().hex
        await self._control("avatar.speak_text", event_id, text=text)
        # LiveAvatar answers asynchronously on the room; the duration arrives with speak_ended.
        return SpeakResult(event_id, None, requested, time.time())

    async def ask(self, text: str) -> None:
        if not self.runs_voice_model:
            await super().ask(text)
        # What LiveAvatar's web SDK sends (`message()`) when there is no audio socket.
        await self._control("avatar.speak_response", uuid.uuid4().hex, text=text)

    async def interrupt(self) -> None:
        if self._agent is not None:
            await self._agent.interrupt()
        else:
            await self._control("avatar.interrupt", uuid.uuid4().hex)

    async def listen(self, on: bool) -> None:
        if not self.hears_user:
            await super().listen(on)
        event_type = "avatar.start_listening" if on else "avatar.stop_listening"
        await self._control(event_type, uuid.uuid4().hex)

    async def keep_alive(self) -> None:
        await self._api.keep_alive(self.info.session_token, self.session_id)
        if self._agent is not None:
            await self._agent.keep_alive()

    async def _stop_remote(self) -> None:
        try:
            await self._api.stop(self.session_id, token=self.info.session_token)
        finally:
            if self.context_id is not None:
                with contextlib.suppress(AvatarError):
                    await self._api.delete_context(self.context_id)

    def _already_ended(self, exc: AvatarError) -> bool:
        return exc.status in (400, 404, 409)


class LiveAvatarProvider(RoomProvider[LiveAvatarApi]):
    def __init__(
        self,
        api: LiveAvatarApi,
        transport_factory: TransportFactory,
        *,
        mode: Mode = "FULL",
        sandbox: bool = False,
        voice_model_key: Callable[[], Secret] | None = None,
    ) -> None:
        """`voice_model_key`: the key of the Realtime endpoint LiveAvatar's connector calls
        (asked for only when a session runs one)."""
        super().__init__(api, transport_factory)
        self.mode: Mode = mode
        self.sandbox = sandbox
        self._voice_model_key = voice_model_key
        self._secrets: dict[Secret, str] = {}  # OpenAI key → its id with LiveAvatar
        self._secrets_lock = asyncio.Lock()  # two starts at once store the key once

    async def _secret_id(self, key: Secret) -> str:
        """The key stored once per provider (deleted again in aclose)."""
        async with self._secrets_lock:
            if key not in self._secrets:
                self._secrets[key] = await self.api.create_secret(key, "avatarlab-openai")
            return self._secrets[key]

    async def aclose(self) -> None:
        for secret_id in self._secrets.values():
            with contextlib.suppress(AvatarError):
                await self.api.delete_secret(secret_id)
        self._secrets.clear()
        await super().aclose()

    async def stop_session(self, session_id: str) -> None:
        await self.api.stop(session_id, reason="ZOMBIE_SESSION_REAP")

    async def start(self, options: SessionOptions, sink: MediaSink) -> AvatarSession:
        voice_model = options.voice_model
        connector, context_id = None, None
        if voice_model is not None:
            if self.mode != "LITE":
                raise AvatarError(
                    "LiveAvatar runs a voice model only in LITE mode",
                    provider=self.name,
                    hint="choose LiveAvatar LITE for the connector bridge mode",
                )
            if self._voice_model_key is None:
                raise AvatarError(
                    "this provider has no key for a voice model",
                    provider=self.name,
                    hint="set OPENAI_API_KEY for LiveAvatar's OpenAI Realtime connector",
                )
            secret_id = await self._secret_id(self._voice_model_key())
            context_id = await self.api.create_context(
                f"avatarlab-{uuid.uuid4().hex[:8]}",
                voice_model.instructions,
                voice_model.opening_text,
            )
            connector = {
                "secret_id": secret_id,
                "context_id": context_id,
                "voice": voice_model.voice,
                "model": voice_model.model,
                "temperature": voice_model.temperature,
            }
        try:
            _, token = await self.api.create_token(
                options, self.mode, sandbox=self.sandbox, connector=connector
            )
            started = await self.api.start(token)
        except BaseException:
            if context_id is not None:
                with contextlib.suppress(AvatarError):
                    await self.api.delete_context(context_id)
            raise
        transport = self._transport_factory()
        session = LiveAvatarSession(self.api, started, options, self.mode, transport, sink)
        session.context_id = context_id
        async with stopped_on_failure(session):
            await session.join_room(
                started.livekit_url, started.livekit_client_token, parse_room_event
            )
            if self.mode == "LITE":
                await session.open_agent_socket()
        return session

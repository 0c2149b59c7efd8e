"""LiveAvatar endpoints (`/v1/sessions/*`, `/v1/avatars/public`, `/v1/voices`).

LiveAvatar is a FastAPI service: `{"code":1000,"data":...,"message":...}` envelopes
(envelope.py), 422 `{"detail":[...]}` for schema errors, 201 from sessions/start. Session
tokens are signed JWTs carrying `start_session_data` (tokens.py). The LiveKit room of the real
service is the emulator's local room (`livekit_url` is its websocket base).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from lib.emulators.engines.looks import AvatarLook
from lib.emulators.engines.tts import VoiceSpec
from lib.emulators.liveavatar import tokens
from lib.emulators.liveavatar.connector import ConnectorConfig, RealtimeConnector
from lib.emulators.liveavatar.envelope import api_key_ok, ok, require_key
from lib.emulators.liveavatar.library import library_of
from lib.emulators.rooms import api_errors, catalog
from lib.emulators.rooms.api_errors import liveavatar_error
from lib.emulators.rooms.bounds import clip
from lib.emulators.rooms.catalog import RESOLUTIONS, Quality
from lib.emulators.rooms.http_io import read_fastapi_json
from lib.emulators.rooms.schemas import (
    KeepAliveBody,
    OpenAIRealtimeConfig,
    SessionTokenBody,
    StopBody,
    parse_fastapi,
)
from lib.emulators.rooms.sessions import (
    LIVEAVATAR_IDLE_DEFAULT_S,
    Registry,
    Session,
    new_session_id,
    registry_of,
)
from lib.emulators.rooms.speaking import warm_voice
from lib.emulators.rooms.stream import AvatarStream
from lib.wire import localroom

# very_high is 1080p on the real service; raw 1080p over loopback would cost ~150 MB/s, so the
# emulator caps it at 720p.
QUALITY: dict[str, Quality] = {
    "very_high": "high",
    "high": "high",
    "medium": "medium",
    "low": "low",
}


def _bearer_session(request: Request) -> Session | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    registry = registry_of(request)
    session = registry.by_session_token(tokens.session_id_of(registry.token_key, token), token)
    return session if session is not None and session.api == "liveavatar" else None


def _require_any(request: Request) -> Session | None:
    """X-API-KEY or a session's bearer token (checked before the body, as FastAPI does)."""
    bearer = _bearer_session(request)
    if bearer is None and not api_key_ok(request):
        raise api_errors.liveavatar_unauthorized(
            "send X-API-KEY, or Authorization: Bearer <session_token>"
        )
    return bearer


def _target_session(request: Request, session_id: str | None) -> Session:
    """The session named in the body (API-key callers) or the bearer token's own session."""
    bearer = _require_any(request)
    if session_id is None:
        if bearer is None:
            raise liveavatar_error(400, "session_id is required when authenticating by API key")
        session = bearer
    else:
        found = registry_of(request).find(session_id)
        if found is None or found.api != "liveavatar":
            raise liveavatar_error(404, f"Session {clip(session_id)} not found")
        if bearer is not None and bearer is not found:
            raise api_errors.liveavatar_unauthorized("this session token is for another session")
        session = found
    if session.closed:
        raise liveavatar_error(400, api_errors.SESSION_CLOSED_MESSAGE)
    return session


# ---- sessions -------------------------------------------------------------------------------


def _resolve(body: SessionTokenBody) -> tuple[AvatarLook, VoiceSpec, str, float]:
    avatar = catalog.find_avatar(body.avatar_id)
    if avatar is None:
        raise liveavatar_error(
            404, f"Avatar {clip(body.avatar_id)} not found; GET /v1/avatars/public lists them"
        )
    persona = body.avatar_persona
    voice_id = (persona.voice_id if persona else None) or avatar.default_voice
    voice = catalog.find_voice(voice_id) if voice_id else None
    if voice is None or not voice.support_realtime:
        raise liveavatar_error(
            404,
            f"Voice {voice_id and clip(voice_id)} not found; GET /v1/voices lists the voices "
            "you can use",
        )
    language = (persona.language if persona else "en").strip().lower()
    if language not in catalog.TTS_LANGUAGES:
        raise liveavatar_error(
            400,
            f"Language {clip(language)!r} is not supported; use one of "
            f"{', '.join(catalog.TTS_LANGUAGES)}",
        )
    speed = persona.voice_settings.speed if persona and persona.voice_settings else 1.0
    return avatar, voice, language, speed


def _check_capacity(registry: Registry) -> None:
    limit = registry.config.concurrency_limit
    if len(registry.live("liveavatar")) >= limit:
        raise liveavatar_error(
            400,
            f"Concurrent session limit reached ({limit}); stop a session with "
            "POST /v1/sessions/stop",
        )


async def session_token(request: Request) -> JSONResponse:
    require_key(request)
    registry = registry_of(request)
    body = parse_fastapi(SessionTokenBody, await read_fastapi_json(request))
    avatar, voice, language, speed = _resolve(body)
    cfg = body.openai_realtime_config
    connector = _connector_config(request, cfg, body.mode) if cfg is not None else None
    _check_capacity(registry)
    if body.mode == "FULL":
        warm_voice(voice)  # a neural voice's model loads while the client connects
    config = registry.config
    duration = min(float(body.max_session_duration or 1e12), config.session_duration_limit_s)
    if body.is_sandbox:
        duration = min(duration, config.sandbox_duration_s)  # sandbox: about one minute
    quality = QUALITY[body.video_settings.quality]
    width, height = RESOLUTIONS[quality]
    stream = await AvatarStream.create(avatar_id=avatar.avatar_id, width=width, height=height)
    _check_capacity(registry)  # again: a concurrent request may have taken the slot meanwhile
    session = Session(
        session_id=new_session_id(),
        api="liveavatar",
        mode="FULL" if body.mode == "FULL" else "LITE",
        avatar=avatar,
        voice=voice,
        quality=quality,
        emotion=None,
        rate=speed,
        language=language,
        idle_timeout_s=config.idle_timeout_s or LIVEAVATAR_IDLE_DEFAULT_S,
        duration_limit_s=duration,
        stream=stream,
        is_sandbox=body.is_sandbox,
        listening=body.mode == "FULL",  # FULL mode converses: it listens from the start
    )
    if connector is not None:
        session.connector = RealtimeConnector(session, connector)
        session.on_close.append(lambda reason: session.connector.stop())
    session.session_token = tokens.mint(
        registry.token_key, session.session_id, _start_session_data(body, session), duration
    )
    if session.mode == "FULL" or session.connector is not None:  # FULL's events on the room
        session.on_close.append(lambda reason: _announce_stop(session, reason))
    registry.add(session)
    data = {"session_id": session.session_id, "session_token": session.session_token}
    return ok(data, "Session token created successfully")


def _connector_config(request: Request, cfg: OpenAIRealtimeConfig, mode: str) -> ConnectorConfig:
    """The OpenAI Realtime connector's settings, from the stored secret and context."""
    if mode == "FULL":
        raise liveavatar_error(400, "openai_realtime_config is a LITE mode connector: use LITE")
    library = library_of(request)
    secret = library.secrets.get(cfg.secret_id)
    if secret is None or secret.secret_type != "OPENAI_API_KEY":
        raise liveavatar_error(
            404,
            f"Secret {clip(cfg.secret_id)} not found; store your OpenAI key with "
            "POST /v1/secrets (secret_type OPENAI_API_KEY)",
        )
    context = library.contexts.get(cfg.context_id) if cfg.context_id else None
    if cfg.context_id and context is None:
        raise liveavatar_error(404, f"Context {clip(cfg.context_id)} not found")
    base_url = registry_of(request).config.openai_base_url
    if base_url is None:
        raise liveavatar_error(
            400,
            "This server runs no OpenAI Realtime connector: start it with --openai-base-url",
        )
    return ConnectorConfig(
        base_url=base_url,
        key=secret.value,
        model=cfg.model,
        voice=cfg.voice,
        temperature=cfg.temperature,
        instructions=context.prompt if context else "",
        opening_text=context.opening_text if context else None,
    )


def _start_session_data(body: SessionTokenBody, session: Session) -> dict[str, Any]:
    """What the token says about the session it starts (the web SDK reads `mode`)."""
    data = body.model_dump(mode="json", exclude_none=True)
    data["mode"] = session.mode  # CUSTOM is LITE's old name
    return data


def _announce_stop(session: Session, end_reason: str) -> None:
    session.stream.broadcast(
        {
            "event_type": "session.stopped",
            "session_id": session.session_id,
            "event_id": uuid.uuid4().hex,
            "end_reason": end_reason,
            "stop_reason": end_reason,  # what LiveAvatar's web SDK reads
        }
    )


async def session_start(request: Request) -> JSONResponse:
    session = _bearer_session(request)
    if session is None:
        raise api_errors.liveavatar_unauthorized("send Authorization: Bearer <session_token>")
    if session.closed:
        raise liveavatar_error(400, api_errors.SESSION_CLOSED_MESSAGE)
    if session.started_mono is not None:
        raise liveavatar_error(400, "Session already started")
    session.touch()
    session.started_mono = session.last_activity
    ws_base = registry_of(request).config.ws_base
    ws_url = None
    registry = registry_of(request)
    if session.connector is not None:  # LiveAvatar runs the voice model: no socket for audio
        session.connector.start(lambda reason: registry.close(session, "SERVER_ERROR"))
    elif session.mode == "LITE":
        ws_url = f"{ws_base}/v1/liveavatar/ws/{session.session_id}?token={session.ws_token}"
    data = {
        "session_id": session.session_id,
        "livekit_url": f"{ws_base}{localroom.ROOM_PATH}",
        "livekit_client_token": session.room_token,
        "livekit_agent_token": session.agent_token,
        "max_session_duration": int(session.duration_limit_s),
        "ws_url": ws_url,
    }
    return ok(data, "Session started successfully", 201)


async def keep_alive(request: Request) -> JSONResponse:
    _require_any(request)
    body = parse_fastapi(KeepAliveBody, await read_fastapi_json(request) or {})
    _target_session(request, body.session_id).touch()
    return ok(None, "Session kept alive")


async def session_stop(request: Request) -> JSONResponse:
    _require_any(request)
    body = parse_fastapi(StopBody, await read_fastapi_json(request) or {})
    session = _target_session(request, body.session_id)
    registry_of(request).close(session, body.reason)
    return ok(None, "Session stopped successfully")


async def list_sessions(request: Request) -> JSONResponse:
    require_key(request)
    kind = request.query_params.get("type")
    if kind not in ("active", "historic"):
        detail: dict[str, Any] = (
            {"type": "missing", "loc": ["query", "type"], "msg": "Field required", "input": None}
            if kind is None
            else {
                "type": "literal_error",
                "loc": ["query", "type"],
                "msg": "Input should be 'active' or 'historic'",
                "input": clip(kind),
                "ctx": {"expected": "'active' or 'historic'"},
            }
        )
        raise api_errors.validation_error([detail])
    now = time.time()
    results = [
        {
            "id": s.session_id,
            "created_at": catalog.iso(s.created_at),
            "updated_at": catalog.iso(s.closed_at or now),
            "duration": round((s.closed_at or now) - s.created_at),
            "source": "API",
            "mode": s.mode,
            "is_sandbox": s.is_sandbox,
            "credits_consumed": 0,
            "status": "CLOSED" if s.closed else "ACTIVE",
            "end_reason": s.end_reason,
        }
        for s in registry_of(request).sessions.values()
        if s.api == "liveavatar" and s.closed == (kind == "historic")
    ]
    return ok(catalog.page(results), "Sessions retrieved successfully")


# ---- catalogue ------------------------------------------------------------------------------


async def public_avatars(request: Request) -> JSONResponse:
    require_key(request)
    base = f"{registry_of(request).config.http_base}/v1/avatar-preview"
    return ok(catalog.page(catalog.liveavatar_avatars(base)), "Avatars retrieved successfully")


async def user_avatars(request: Request) -> JSONResponse:
    require_key(request)
    return ok(catalog.page([]), "Avatars retrieved successfully")  # no custom avatars here


async def voices(request: Request) -> JSONResponse:
    require_key(request)
    return ok(catalog.page(catalog.liveavatar_voices()), "Voices retrieved successfully")


def routes() -> list[BaseRoute]:
    return [
        Route("/v1/sessions/token", session_token, methods=["POST"]),
        Route("/v1/sessions/start", session_start, methods=["POST"]),
        Route("/v1/sessions/keep-alive", keep_alive, methods=["POST"]),
        Route("/v1/sessions/stop", session_stop, methods=["POST"]),
        Route("/v1/sessions", list_sessions, methods=["GET"]),
        Route("/v1/avatars/public", public_avatars, methods=["GET"]),
        Route("/v1/avatars", user_avatars, methods=["GET"]),
        Route("/v1/voices", voices, methods=["GET"]),
    ]

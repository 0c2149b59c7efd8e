"""HeyGen Interactive Avatar v1 endpoints (`/v1/streaming.*`, avatar and voice lists).

Response bodies follow the real service (see shared/reference/heygen-and-liveavatar-api.md):
`{"code":100,"message":"success",...}` envelopes, `{"error":null,"data":...}` for
create_token and /v2/voices, and `{"status":"success"}` for streaming.stop (the docs' body).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from lib.emulators.engines.looks import AvatarLook, avatar_by_id
from lib.emulators.engines.tts import VoiceSpec, voice_by_id
from lib.emulators.rooms import api_errors, catalog
from lib.emulators.rooms.bounds import clip
from lib.emulators.rooms.catalog import RESOLUTIONS
from lib.emulators.rooms.ears import warm_ears
from lib.emulators.rooms.http_io import read_heygen_json, respond
from lib.emulators.rooms.schemas import (
    STT_LANGUAGES,
    NewSessionBody,
    SessionIdBody,
    TaskBody,
    parse_heygen,
)
from lib.emulators.rooms.sessions import (
    HEYGEN_IDLE_DEFAULT_S,
    Session,
    new_session_id,
    registry_of,
)
from lib.emulators.rooms.speaking import canned_reply, speak_text, warm_voice
from lib.emulators.rooms.speech_events import HeyGenRoomEvents
from lib.emulators.rooms.stream import AvatarStream
from lib.wire import localroom

SUCCESS: dict[str, Any] = {"code": 100, "message": "success"}


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key holder, or the holder of a create_token session token."""

    token: str | None = None  # set when authenticated by a session token


def authenticate(request: Request) -> Caller:
    """`x-api-key: <key>` or `Authorization: Bearer <session token or key>`; else 401."""
    registry = registry_of(request)
    key = request.headers.get("x-api-key")
    if key is not None and registry.key_ok(key.strip()):
        return Caller()
    auth = request.headers.get("authorization", "")
    scheme, _, credential = auth.partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and credential:
        if registry.token_known(credential):
            return Caller(token=credential)
        if registry.key_ok(credential):
            return Caller()
    raise api_errors.unauthorized()


_B = TypeVar("_B", SessionIdBody, TaskBody)


async def _heygen_session(request: Request, model: type[_B]) -> tuple[_B, Session]:
    """The body, and the open HeyGen session it names (another API's is not found)."""
    authenticate(request)
    body = parse_heygen(model, await read_heygen_json(request))
    session = registry_of(request).get_open(body.session_id)
    if session.api != "heygen":
        raise api_errors.session_not_found(body.session_id)
    return body, session


async def _session_call(request: Request) -> Session:
    _, session = await _heygen_session(request, SessionIdBody)
    session.touch()
    return session


# ---- endpoints ------------------------------------------------------------------------------


async def create_token(request: Request) -> JSONResponse:
    if authenticate(request).token is not None:
        raise api_errors.unauthorized()  # a session token cannot mint another
    await read_heygen_json(request)
    return respond({"error": None, "data": {"token": registry_of(request).issue_token()}})


def _choose_avatar(body: NewSessionBody) -> AvatarLook:
    ref = body.avatar_id or body.avatar_name
    if not ref:
        raise api_errors.missing_parameter("avatar_name or avatar_id")
    avatar = avatar_by_id(ref)
    if avatar is None:
        raise api_errors.invalid_parameter(
            f"avatar_id {clip(ref)!r} is not an interactive avatar; GET /v1/streaming/avatar.list "
            f"lists them ({catalog.avatar_ids()})"
        )
    return avatar


def _choose_voice(body: NewSessionBody, default_voice: str | None) -> VoiceSpec:
    voice_id = body.voice.voice_id or default_voice
    voice = voice_by_id(voice_id) if voice_id else None
    if voice is None:
        raise api_errors.invalid_parameter(
            f"voice.voice_id {voice_id and clip(voice_id)!r} is not a voice; GET /v1/voice.list "
            f"lists them (realtime: {catalog.realtime_voice_ids()})"
        )
    if not voice.support_realtime:
        raise api_errors.invalid_parameter(
            f"voice.voice_id {voice_id and clip(voice_id)!r} does not support streaming "
            f"(support_realtime is false); use a realtime voice: {catalog.realtime_voice_ids()}"
        )
    return voice


def _check_language(language: str) -> str:
    lang = language.strip().lower()
    if lang not in STT_LANGUAGES:
        raise api_errors.invalid_parameter(
            f"language {clip(language)!r} is not supported; use one of {', '.join(STT_LANGUAGES)}"
        )
    if lang not in catalog.TTS_LANGUAGES:
        raise api_errors.invalid_parameter(
            f"language {clip(language)!r} has no local voice; use one of "
            f"{', '.join(catalog.TTS_LANGUAGES)}"
        )
    return lang


async def new_session(request: Request) -> JSONResponse:
    caller = authenticate(request)
    registry = registry_of(request)
    if caller.token is not None and registry.token_used(caller.token):
        raise api_errors.unauthorized()  # session tokens are single-use
    body = parse_heygen(NewSessionBody, await read_heygen_json(request))
    avatar = _choose_avatar(body)
    voice = _choose_voice(body, avatar.default_voice)
    language = _check_language(body.language)
    registry.check_capacity("heygen")
    warm_voice(voice)  # a neural voice's model loads while the viewer connects
    width, height = RESOLUTIONS[body.quality]
    emotion = body.voice.emotion
    stream = await AvatarStream.create(
        avatar_id=avatar.avatar_id, width=width, height=height, emotion=emotion
    )
    # Checked again after the await: a concurrent request may have used the token or the slot.
    if caller.token is not None and registry.token_used(caller.token):
        raise api_errors.unauthorized()
    registry.check_capacity("heygen")

    config = registry.config
    if body.disable_idle_timeout:
        idle: float | None = None
    else:
        # An explicit activity_idle_timeout wins; --idle-timeout replaces only the default.
        idle = float(body.activity_idle_timeout or config.idle_timeout_s or HEYGEN_IDLE_DEFAULT_S)
    session_id = new_session_id()
    session = Session(
        session_id=session_id,
        api="heygen",
        mode="HEYGEN",
        avatar=avatar,
        voice=voice,
        quality=body.quality,
        emotion=emotion,
        rate=body.voice.rate,
        language=language,
        idle_timeout_s=idle,
        duration_limit_s=config.session_duration_limit_s,
        stream=stream,
    )
    registry.add(session)
    if caller.token is not None:
        registry.use_token(caller.token, session_id)
    data = {
        "session_id": session_id,
        "access_token": session.room_token,
        "url": f"{config.ws_base}{localroom.ROOM_PATH}",
        # The audio socket's token rides in the URL, so clients that open it as given work.
        "realtime_endpoint": f"{config.ws_base}/v1/realtime/{session_id}?token="
        f"{session.agent_token}",
        "livekit_agent_token": session.agent_token,
        "is_paid": False,
        "session_duration_limit": int(config.session_duration_limit_s),
        "sdp": None,
        "ice_servers": None,
        "ice_servers2": None,
    }
    return respond({**SUCCESS, "data": data})


async def start(request: Request) -> JSONResponse:
    session = await _session_call(request)
    if session.started_mono is None:
        session.started_mono = session.last_activity
    return respond(SUCCESS)


async def task(request: Request) -> JSONResponse:
    body, session = await _heygen_session(request, TaskBody)
    if session.started_mono is None:
        raise api_errors.session_not_started()
    if not body.text.strip():
        raise api_errors.invalid_parameter(
            "text: must not be empty; give the words the avatar should say"
        )
    session.touch()
    spoken = body.text if body.task_type == "repeat" else canned_reply(body.text)
    stream = session.stream
    speech = await speak_text(
        session, spoken, lambda _text: HeyGenRoomEvents(stream), emotion=body.emotion
    )
    if body.task_mode == "sync":
        # Sync replies once the avatar has finished saying it (or was interrupted).
        await asyncio.shield(speech.done)
        session.touch()
    data = {"task_id": speech.task_id, "duration_ms": round(speech.duration_ms, 1)}
    return respond({**SUCCESS, "data": data})


async def interrupt(request: Request) -> JSONResponse:
    session = await _session_call(request)
    session.stream.interrupt()
    return respond(SUCCESS)


async def keep_alive(request: Request) -> JSONResponse:
    await _session_call(request)  # touching the session is the whole point
    return respond(SUCCESS)


async def start_listening(request: Request) -> JSONResponse:
    (await _session_call(request)).listening = True
    warm_ears()
    return respond(SUCCESS)


async def stop_listening(request: Request) -> JSONResponse:
    (await _session_call(request)).listening = False
    return respond(SUCCESS)


async def stop(request: Request) -> JSONResponse:
    session = await _session_call(request)
    registry_of(request).close(session, "USER_CLOSED")
    return respond({"status": "success"})


async def list_sessions(request: Request) -> JSONResponse:
    authenticate(request)
    sessions = [
        {"session_id": s.session_id, "status": s.status, "created_at": int(s.created_at)}
        for s in registry_of(request).live("heygen")
    ]
    return respond({**SUCCESS, "data": {"sessions": sessions}})


def _preview_base(request: Request) -> str:
    return f"{registry_of(request).config.http_base}/v1/avatar-preview"


async def avatar_list(request: Request) -> JSONResponse:
    authenticate(request)
    data = catalog.heygen_avatars(_preview_base(request))
    return respond({"code": 100, "message": "Success", "data": data})


async def voice_list_v1(request: Request) -> JSONResponse:
    authenticate(request)
    return respond({**SUCCESS, "data": {"voices": catalog.heygen_voices()}})


async def voice_list_v2(request: Request) -> JSONResponse:
    authenticate(request)
    return respond({"error": None, "data": {"voices": catalog.heygen_voices()}})


def routes() -> list[BaseRoute]:
    post = ["POST"]
    return [
        Route("/v1/streaming.create_token", create_token, methods=post),
        Route("/v1/streaming.new", new_session, methods=post),
        Route("/v1/streaming.start", start, methods=post),
        Route("/v1/streaming.task", task, methods=post),
        Route("/v1/streaming.interrupt", interrupt, methods=post),
        Route("/v1/streaming.keep_alive", keep_alive, methods=post),
        Route("/v1/streaming.start_listening", start_listening, methods=post),
        Route("/v1/streaming.stop_listening", stop_listening, methods=post),
        Route("/v1/streaming.stop", stop, methods=post),
        Route("/v1/streaming.list", list_sessions, methods=["GET"]),
        Route("/v1/streaming/avatar.list", avatar_list, methods=["GET"]),
        Route("/v1/voice.list", voice_list_v1, methods=["GET"]),
        Route("/v2/voices", voice_list_v2, methods=["GET"]),
    ]

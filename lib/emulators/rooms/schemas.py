"""Request bodies of the emulated APIs, validated with pydantic.

HeyGen v1 answers schema problems with HTTP 400 `Invalid parameter` (or 40001 for a missing
field); LiveAvatar is a FastAPI service and answers with 422 `{"detail": [...]}`. The same
pydantic models drive both, so the allowed values live in one place.
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lib.emulators.rooms import api_errors
from lib.emulators.rooms.bounds import MAX_ECHO_CHARS, clip

# The 28 speech languages HeyGen's demo offers (InteractiveAvatarNextJSDemo constants).
STT_LANGUAGES: tuple[str, ...] = (
    "bg",
    "zh",
    "cs",
    "da",
    "nl",
    "en",
    "fi",
    "fr",
    "de",
    "el",
    "hi",
    "hu",
    "id",
    "it",
    "ja",
    "ko",
    "ms",
    "no",
    "pl",
    "pt",
    "ro",
    "ru",
    "sk",
    "es",
    "sv",
    "tr",
    "uk",
    "vi",
)

HeyGenEmotion = Literal["excited", "serious", "friendly", "soothing", "broadcaster"]


class _Body(BaseModel):
    # Unknown fields (knowledge_base, stt_settings, source, ...) are accepted and ignored,
    # as the real services do.
    model_config = ConfigDict(extra="ignore")


# ---- HeyGen v1 ------------------------------------------------------------------------------


class VoiceBody(_Body):
    voice_id: str | None = None
    rate: float = Field(default=1.0, ge=0.5, le=1.5)
    emotion: HeyGenEmotion | None = None
    elevenlabs_settings: dict[str, Any] | None = None


class NewSessionBody(_Body):
    avatar_name: str | None = None
    avatar_id: str | None = None
    quality: Literal["low", "medium", "high"] = "low"  # HeyGen's documented default
    voice: VoiceBody = Field(default_factory=lambda: VoiceBody())
    language: str = "en"
    # "v2" is the LiveKit transport. Leaving it out once meant raw WebRTC (retired 2025-02-28);
    # the emulator treats an omitted version as v2 and refuses anything else.
    version: Literal["v2"] = "v2"
    video_encoding: Literal["H264", "VP8"] = "VP8"
    activity_idle_timeout: int | None = Field(default=None, ge=30, le=3600)
    disable_idle_timeout: bool = False


class SessionIdBody(_Body):
    session_id: str


class TaskBody(_Body):
    session_id: str
    text: str
    task_type: Literal["repeat", "talk", "chat"] = "repeat"
    task_mode: Literal["sync", "async"] = "sync"  # the docs' default
    # Emulator extension: the real API sets emotion per session (voice.emotion). Here one
    # task may carry its own, so the bridge's emotion-per-chunk can be seen and heard.
    emotion: HeyGenEmotion | None = None


# ---- LiveAvatar -----------------------------------------------------------------------------


class VideoSettings(_Body):
    quality: Literal["very_high", "high", "medium", "low"] = "high"
    encoding: Literal["H264", "VP8"] = "VP8"


class LiveVoiceSettings(_Body):
    provider: str = "elevenLabs"
    speed: float = Field(default=1.0, ge=0.8, le=1.2)  # docs.liveavatar.com voice-settings range


class AvatarPersona(_Body):
    voice_id: str | None = None
    context_id: str | None = None
    language: str = "en"
    voice_settings: LiveVoiceSettings | None = None


# docs.liveavatar.com lite-mode/connectors/openai-realtime: the voices and the temperature range.
RealtimeVoice = Literal[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "shimmer", "sage",
    "verse", "marin", "cedar",
]  # fmt: skip


class OpenAIRealtimeConfig(_Body):
    secret_id: str = Field(min_length=1, max_length=128)
    context_id: str | None = Field(default=None, max_length=128)
    voice: RealtimeVoice = "alloy"
    model: str = Field(default="gpt-realtime", min_length=1, max_length=128)
    temperature: float = Field(default=0.8, ge=0.6, le=1.2)


class SecretBody(_Body):
    secret_type: Literal["OPENAI_API_KEY", "ELEVENLABS_API_KEY", "GEMINI_API_KEY"]
    secret_name: str = Field(min_length=1, max_length=255)
    secret_value: str = Field(min_length=1, max_length=4096)


class ContextBody(_Body):
    name: str = Field(min_length=1, max_length=255)
    prompt: str = Field(min_length=1, max_length=100_000)
    opening_text: str = Field(min_length=1, max_length=2_000)


class SessionTokenBody(_Body):
    # CUSTOM is LITE's old name (livekit/agents PR #4748); still accepted.
    mode: Literal["FULL", "LITE", "CUSTOM"]
    avatar_id: str
    is_sandbox: bool = False
    video_settings: VideoSettings = Field(default_factory=lambda: VideoSettings())
    max_session_duration: int | None = Field(default=None, gt=0)
    avatar_persona: AvatarPersona | None = None
    interactivity_type: Literal["CONVERSATIONAL", "PUSH_TO_TALK"] = "CONVERSATIONAL"
    openai_realtime_config: OpenAIRealtimeConfig | None = None


class StopBody(_Body):
    session_id: str | None = None
    reason: Literal[
        "UNKNOWN",
        "USER_DISCONNECTED",
        "SERVER_ERROR",
        "IDLE_TIMEOUT",
        "NO_CREDITS",
        "USER_CLOSED",
        "AVATAR_DELETED",
        "MAX_DURATION_REACHED",
        "ZOMBIE_SESSION_REAP",
        "AGENT_HANG_UP",
    ] = "UNKNOWN"


class KeepAliveBody(_Body):
    session_id: str | None = None


M = TypeVar("M", bound=BaseModel)


def parse_heygen(model: type[M], data: Any) -> M:
    """Validate a HeyGen body; the first problem becomes a 400 naming the field."""
    if not isinstance(data, dict):
        raise api_errors.invalid_parameter("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        if first["type"] == "missing":
            raise api_errors.missing_parameter(field) from None
        got = clip(json.dumps(first.get("input"), default=str))
        raise api_errors.invalid_parameter(f"{field}: {first['msg']} (got {got})") from None


def parse_fastapi(model: type[M], data: Any) -> M:
    """Validate a LiveAvatar body; problems become FastAPI's 422 with `loc` under "body"."""
    if data is None:
        raise api_errors.validation_error(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = json.loads(exc.json(include_url=False))
        for detail in details:
            detail["loc"] = ["body", *detail["loc"]]
            shown = json.dumps(detail.get("input"))
            if len(shown) > MAX_ECHO_CHARS:  # FastAPI echoes the input: not a whole big body
                detail["input"] = clip(shown)
        raise api_errors.validation_error(details) from None

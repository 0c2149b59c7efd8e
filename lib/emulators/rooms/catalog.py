"""The avatars and voices the emulator offers, in each API's listing shape.

Both come from the local engines (`lib.emulators.engines.looks.AVATARS`,
`lib.emulators.engines.tts.VOICES`). HeyGen ids are the engine ids; LiveAvatar ids are UUIDs (as on
the real service), derived deterministically from the engine ids. Lookups accept either form.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal

from lib.emulators.engines.looks import AVATARS, AvatarLook, avatar_by_id
from lib.emulators.engines.tts import LANGUAGES, VOICES, VoiceSpec, voice_by_id

# A fixed creation time keeps listings stable between runs (2024-06-01T00:00:00Z).
CREATED_AT = 1717200000
_NAMESPACE = uuid.UUID("6f1c1d2e-5a4b-4c3d-9e8f-a0b1c2d3e4f5")

Quality = Literal["low", "medium", "high"]
# HeyGen's quality → output resolution (its docs: low 360p, medium 480p, high 720p). The app's
# client keeps its own table; a test holds the two together, so neither hides the other's error.
RESOLUTIONS: Final[dict[Quality, tuple[int, int]]] = {
    "low": (640, 360),
    "medium": (854, 480),
    "high": (1280, 720),
}

TTS_LANGUAGES = ("en", *sorted(LANGUAGES))


def liveavatar_id(engine_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, engine_id))


_AVATAR_BY_UUID = {liveavatar_id(a.avatar_id): a for a in AVATARS}
_VOICE_BY_UUID = {liveavatar_id(v.voice_id): v for v in VOICES}


def find_avatar(avatar_id: str) -> AvatarLook | None:
    return avatar_by_id(avatar_id) or _AVATAR_BY_UUID.get(avatar_id)


def find_voice(voice_id: str) -> VoiceSpec | None:
    return voice_by_id(voice_id) or _VOICE_BY_UUID.get(voice_id)


def avatar_ids() -> str:
    return ", ".join(a.avatar_id for a in AVATARS)


def realtime_voice_ids() -> str:
    return ", ".join(v.voice_id for v in VOICES if v.support_realtime)


def iso(epoch: float) -> str:
    """A time as both APIs write it: ISO 8601, UTC, with a Z."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


# ---- HeyGen v1 ------------------------------------------------------------------------------


def heygen_avatar(a: AvatarLook, preview_base: str) -> dict[str, Any]:
    return {
        "avatar_id": a.avatar_id,
        "created_at": CREATED_AT,
        "default_voice": a.default_voice,
        "is_public": True,
        "normal_preview": f"{preview_base}/{a.avatar_id}.png",
        "pose_name": a.pose_name,
        "status": "ACTIVE",
    }


def heygen_voice(v: VoiceSpec) -> dict[str, Any]:
    return {
        "voice_id": v.voice_id,
        "language": v.language,
        "gender": v.gender,
        "name": v.name,
        "preview_audio": None,
        "support_pause": False,
        "emotion_support": True,
        "support_interactive_avatar": v.support_realtime,
        "support_realtime": v.support_realtime,
    }


def heygen_avatars(preview_base: str) -> list[dict[str, Any]]:
    return [heygen_avatar(a, preview_base) for a in AVATARS]


def heygen_voices() -> list[dict[str, Any]]:
    return [heygen_voice(v) for v in VOICES]


# ---- LiveAvatar (paginated {"count","results","next","previous"}) ----------------------------


def page(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(results), "results": results, "next": None, "previous": None}


def liveavatar_avatars(preview_base: str) -> list[dict[str, Any]]:
    out = []
    for a in AVATARS:
        voice = voice_by_id(a.default_voice) if a.default_voice else None
        out.append(
            {
                "id": liveavatar_id(a.avatar_id),
                "name": a.name,
                "created_at": iso(CREATED_AT),
                "updated_at": iso(CREATED_AT),
                "error_message": None,
                "space_id": None,
                "type": "VIDEO",
                "status": "ACTIVE",
                "preview_url": f"{preview_base}/{a.avatar_id}.png",
                "is_expired": False,
                "default_voice": (
                    {"id": liveavatar_id(voice.voice_id), "name": voice.name} if voice else None
                ),
                "is_1080p": False,
            }
        )
    return out


def liveavatar_voices() -> list[dict[str, Any]]:
    # Every LiveAvatar voice streams; the non-realtime local voice is left out.
    return [
        {
            "id": liveavatar_id(v.voice_id),
            "name": v.name,
            "language": v.language,
            "gender": v.gender,
            "type": "public",
            "preview_url": None,
        }
        for v in VOICES
        if v.support_realtime
    ]

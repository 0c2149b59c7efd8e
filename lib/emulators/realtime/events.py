"""GA server-event builders for the local Realtime server: ids, the session object, items,
responses and `error` events, in the exact shapes `openai.types.realtime` parses."""

from __future__ import annotations

import secrets
import time
from typing import Any

JsonDict = dict[str, Any]

PCM_FORMAT: JsonDict = {"type": "audio/pcm", "rate": 24000}
DEFAULT_VOICE = "marin"
DEFAULT_INSTRUCTIONS = (
    "You are a helpful, witty, and friendly AI. Act like a human, but remember that you aren't "
    "a human and that you can't do human things in the real world. Your voice and personality "
    "should be warm and engaging, with a lively and playful tone. Talk quickly."
)
SESSION_LIFETIME_S = 3600  # a real session can last at most 60 minutes


def new_id(prefix: str) -> str:
    # Real ids are a prefix plus ~21 url-safe characters (e.g. "item_C9x…"); clients treat
    # them as opaque.
    return f"{prefix}_{secrets.token_urlsafe(16).replace('-', 'x').replace('_', 'y')[:21]}"


def event(kind: str, **fields: Any) -> JsonDict:
    """A server event: `type` and a fresh `event_id` first, then the payload."""
    return {"type": kind, "event_id": new_id("event"), **fields}


def error_event(
    message: str,
    *,
    code: str | None,
    param: str | None = None,
    client_event_id: str | None = None,
    error_type: str = "invalid_request_error",
) -> JsonDict:
    return event(
        "error",
        error={
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    )


def server_vad_defaults() -> JsonDict:
    return {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 500,
        "idle_timeout_ms": None,
        "create_response": True,
        "interrupt_response": True,
    }


def semantic_vad_defaults() -> JsonDict:
    return {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    }


def default_session(model: str) -> JsonDict:
    """The full effective config a new GA session reports in `session.created`."""
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(time.time()) + SESSION_LIFETIME_S,
        "include": None,
        "audio": {
            "input": {
                "format": dict(PCM_FORMAT),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": server_vad_defaults(),
            },
            "output": {"format": dict(PCM_FORMAT), "voice": DEFAULT_VOICE, "speed": 1.0},
        },
    }


def user_audio_item(item_id: str) -> JsonDict:
    # The audio bytes are never echoed back; the transcript fills in once transcribed.
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": None}],
    }


def assistant_item(item_id: str, status: str = "in_progress") -> JsonDict:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [],
    }


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "in_progress"
) -> JsonDict:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": status,
        "name": name,
        "call_id": call_id,
        "arguments": arguments,
    }


def response_object(
    response_id: str,
    *,
    conversation_id: str | None,
    output_modalities: list[str],
    voice: str,
    max_output_tokens: int | str,
    metadata: JsonDict | None,
) -> JsonDict:
    return {
        "object": "realtime.response",
        "id": response_id,
        "status": "in_progress",
        "status_details": None,
        "output": [],
        "conversation_id": conversation_id,
        "output_modalities": output_modalities,
        "max_output_tokens": max_output_tokens,
        "audio": {"output": {"format": dict(PCM_FORMAT), "voice": voice}},
        "usage": None,
        "metadata": metadata,
    }


def rate_limits(remaining_tokens: int) -> JsonDict:
    return event(
        "rate_limits.updated",
        rate_limits=[
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {
                "name": "tokens",
                "limit": 40000,
                "remaining": max(0, remaining_tokens),
                "reset_seconds": 0.9,
            },
        ],
    )

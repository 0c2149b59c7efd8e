"""OpenAI Realtime (GA) server events, parsed once into typed records.

The SDK's own parse does no validation (unknown types silently become another model), so we
switch on the `type` string ourselves. Unknown events are kept as `Unknown`, never dropped.
`at` is when we received the event (time.time()).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any, Final

# The error a `response.create` gets while a response is still running (a race the Realtime
# client answers by asking again; the bridge does not report it).
BUSY_CODE: Final = "conversation_already_has_active_response"


@dataclass(frozen=True)
class BrainEvent:
    type: str
    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class SessionState(BrainEvent):  # session.created / session.updated
    session: dict[str, Any]


@dataclass(frozen=True)
class SpeechStarted(BrainEvent):
    audio_start_ms: int
    item_id: str


@dataclass(frozen=True)
class SpeechStopped(BrainEvent):
    audio_end_ms: int
    item_id: str


@dataclass(frozen=True)
class Committed(BrainEvent):
    item_id: str


@dataclass(frozen=True)
class TranscriptDelta(BrainEvent):
    item_id: str
    delta: str


@dataclass(frozen=True)
class TranscriptDone(BrainEvent):
    item_id: str
    transcript: str
    usage: dict[str, Any] | None


@dataclass(frozen=True)
class ResponseCreated(BrainEvent):
    response_id: str


@dataclass(frozen=True)
class OutputPart(BrainEvent):
    """Part of an answer: which response, and which of its output items."""

    response_id: str
    item_id: str


@dataclass(frozen=True)
class TextDelta(OutputPart):
    """Assistant text: `response.output_text.delta` or the audio transcript's delta."""

    delta: str
    from_audio: bool = False


@dataclass(frozen=True)
class TextDone(OutputPart):
    text: str
    from_audio: bool = False


@dataclass(frozen=True)
class AudioDelta(OutputPart):
    pcm: bytes  # PCM16 mono 24 kHz


@dataclass(frozen=True)
class FunctionCall(BrainEvent):
    response_id: str
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ResponseDone(BrainEvent):
    response_id: str
    status: str
    reason: str | None
    usage: dict[str, Any] | None
    output: list[dict[str, Any]]


@dataclass(frozen=True)
class ErrorEvent(BrainEvent):
    code: str | None
    message: str
    param: str | None


@dataclass(frozen=True)
class ConnectionLost(BrainEvent):
    """Not a wire event: our connection to the model closed unexpectedly (we reconnect)."""

    reason: str


@dataclass(frozen=True)
class Other(BrainEvent):
    """A known event we don't act on (item added/done, content parts, rate limits…)."""

    raw: dict[str, Any]


@dataclass(frozen=True)
class Unknown(BrainEvent):
    raw: dict[str, Any]


KNOWN_PASSIVE = frozenset(
    {
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.created",
        "conversation.item.retrieved",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_audio.done",
        "response.function_call_arguments.delta",
        "rate_limits.updated",
        "conversation.item.input_audio_transcription.failed",
    }
)


def parse(raw: dict[str, Any]) -> BrainEvent:
    t = str(raw.get("type", ""))
    g = raw.get
    if t in ("session.created", "session.updated"):
        return SessionState(t, dict(g("session") or {}))
    if t == "input_audio_buffer.speech_started":
        return SpeechStarted(t, int(g("audio_start_ms") or 0), str(g("item_id") or ""))
    if t == "input_audio_buffer.speech_stopped":
        return SpeechStopped(t, int(g("audio_end_ms") or 0), str(g("item_id") or ""))
    if t == "input_audio_buffer.committed":
        return Committed(t, str(g("item_id") or ""))
    if t == "conversation.item.input_audio_transcription.delta":
        return TranscriptDelta(t, str(g("item_id") or ""), str(g("delta") or ""))
    if t == "conversation.item.input_audio_transcription.completed":
        return TranscriptDone(t, str(g("item_id") or ""), str(g("transcript") or ""), g("usage"))
    if t == "response.created":
        return ResponseCreated(t, str((g("response") or {}).get("id", "")))
    if t in ("response.output_text.delta", "response.output_audio_transcript.delta"):
        return TextDelta(
            t,
            str(g("response_id") or ""),
            str(g("item_id") or ""),
            str(g("delta") or ""),
            from_audio="audio" in t,
        )
    if t == "response.output_text.done":
        return TextDone(
            t, str(g("response_id") or ""), str(g("item_id") or ""), str(g("text") or "")
        )
    if t == "response.output_audio_transcript.done":
        return TextDone(
            t,
            str(g("response_id") or ""),
            str(g("item_id") or ""),
            str(g("transcript") or ""),
            from_audio=True,
        )
    if t == "response.output_audio.delta":
        return AudioDelta(
            t,
            str(g("response_id") or ""),
            str(g("item_id") or ""),
            base64.b64decode(g("delta") or ""),
        )
    if t == "response.function_call_arguments.done":
        return FunctionCall(
            t,
            str(g("response_id") or ""),
            str(g("call_id") or ""),
            str(g("name") or ""),
            str(g("arguments") or ""),
        )
    if t == "response.done":
        resp = g("response") or {}
        details = resp.get("status_details") or {}
        return ResponseDone(
            t,
            str(resp.get("id", "")),
            str(resp.get("status", "")),
            details.get("reason") or (details.get("error") or {}).get("message"),
            resp.get("usage"),
            list(resp.get("output") or []),
        )
    if t == "error":
        err = g("error") or {}
        return ErrorEvent(t, err.get("code"), str(err.get("message", "")), err.get("param"))
    if t in KNOWN_PASSIVE:
        return Other(t, raw)
    return Unknown(t or "unknown", raw)

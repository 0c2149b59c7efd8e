"""Realtime session settings (GA shape only) and their `session.update` payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TurnKind = Literal["server_vad", "semantic_vad", "push_to_talk"]
Modality = Literal["text", "audio"]
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
MODELS = ("gpt-realtime", "gpt-realtime-mini")
TRANSCRIPTION_MODELS = ("gpt-4o-mini-transcribe", "gpt-4o-transcribe", "whisper-1")


@dataclass(frozen=True)
class TurnDetection:
    kind: TurnKind = "server_vad"
    threshold: float = 0.5
    silence_duration_ms: int = 500
    prefix_padding_ms: int = 300
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True

    def payload(self) -> dict[str, Any] | None:
        if self.kind == "push_to_talk":
            return None  # manual turns: the client commits and asks for a response
        common = {
            "create_response": self.create_response,
            "interrupt_response": self.interrupt_response,
        }
        if self.kind == "semantic_vad":
            return {"type": "semantic_vad", "eagerness": self.eagerness, **common}
        return {
            "type": "server_vad",
            "threshold": self.threshold,
            "silence_duration_ms": self.silence_duration_ms,
            "prefix_padding_ms": self.prefix_padding_ms,
            **common,
        }


@dataclass(frozen=True)
class RealtimeSettings:
    model: str = "gpt-realtime"
    output: Modality = "text"
    voice: str = "marin"
    instructions: str = "You are a helpful, concise assistant. persona:concierge"
    turn: TurnDetection = field(default_factory=TurnDetection)
    transcription_model: str | None = "gpt-4o-mini-transcribe"
    tools: tuple[dict[str, Any], ...] = ()

    def validate(self) -> list[str]:
        """Problems a user must fix, each saying what to change."""
        problems = []
        if self.voice not in VOICES:
            problems.append(
                f"voice {self.voice!r} is not a Realtime voice; pick one of " + ", ".join(VOICES)
            )
        if not 0.0 <= self.turn.threshold <= 1.0:
            problems.append("VAD threshold must be between 0 and 1")
        if not 0 <= self.turn.silence_duration_ms <= 5000:
            problems.append("silence duration must be 0–5000 ms")
        if not 0 <= self.turn.prefix_padding_ms <= 2000:
            problems.append("prefix padding must be 0–2000 ms")
        return problems

    def session_payload(self) -> dict[str, Any]:
        audio_in: dict[str, Any] = {
            "format": {"type": "audio/pcm", "rate": 24000},
            "turn_detection": self.turn.payload(),
            "transcription": (
                {"model": self.transcription_model} if self.transcription_model else None
            ),
        }
        session: dict[str, Any] = {
            "type": "realtime",
            "output_modalities": [self.output],
            "instructions": self.instructions,
            "audio": {
                "input": audio_in,
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": self.voice},
            },
            "tools": list(self.tools),
            "tool_choice": "auto",
        }
        return session

"""Token accounting that follows OpenAI's Realtime billing rules (guides/realtime-costs):
user audio is 1 token per 100 ms, assistant audio 1 token per 50 ms, text about 4 characters a
token, and the whole conversation (instructions + every item so far) is input to each
response. What the previous response already sent counts as cached, so cost meters see the
cheap cached share grow turn over turn."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

USER_AUDIO_TOKENS_PER_S = 10
ASSISTANT_AUDIO_TOKENS_PER_S = 20
CHARS_PER_TOKEN = 4


def text_tokens(text: str | None) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def user_audio_tokens(audio_ms: float) -> int:
    return math.ceil(audio_ms * USER_AUDIO_TOKENS_PER_S / 1000)


def assistant_audio_tokens(audio_ms: float) -> int:
    return math.ceil(audio_ms * ASSISTANT_AUDIO_TOKENS_PER_S / 1000)


@dataclass(frozen=True)
class TokenCount:
    text: int = 0
    audio: int = 0

    def __add__(self, other: TokenCount) -> TokenCount:
        return TokenCount(self.text + other.text, self.audio + other.audio)

    @property
    def total(self) -> int:
        return self.text + self.audio


def cached_share(current: TokenCount, previous: TokenCount | None) -> TokenCount:
    """The prefix the previous response already sent is served from the prompt cache."""
    if previous is None:
        return TokenCount()
    return TokenCount(min(current.text, previous.text), min(current.audio, previous.audio))


def response_usage(input_: TokenCount, cached: TokenCount, output: TokenCount) -> dict[str, Any]:
    """The `usage` object of `response.done` (RealtimeResponseUsage)."""
    return {
        "total_tokens": input_.total + output.total,
        "input_tokens": input_.total,
        "output_tokens": output.total,
        "input_token_details": {
            "text_tokens": input_.text,
            "audio_tokens": input_.audio,
            "image_tokens": 0,
            "cached_tokens": cached.total,
            "cached_tokens_details": {
                "text_tokens": cached.text,
                "audio_tokens": cached.audio,
                "image_tokens": 0,
            },
        },
        "output_token_details": {"text_tokens": output.text, "audio_tokens": output.audio},
    }


def transcription_usage(model: str, audio_ms: float, transcript: str) -> dict[str, Any]:
    """`whisper-1` bills by duration; the gpt-*-transcribe models bill tokens."""
    if model == "whisper-1":
        return {"type": "duration", "seconds": round(audio_ms / 1000, 3)}
    audio = user_audio_tokens(audio_ms)
    out = text_tokens(transcript)
    return {
        "type": "tokens",
        "input_tokens": audio,
        "output_tokens": out,
        "total_tokens": audio + out,
        "input_token_details": {"audio_tokens": audio, "text_tokens": 0},
    }

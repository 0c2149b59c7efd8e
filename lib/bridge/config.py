"""How a conversation's bridge works: the mode (what the model answers in) and how answers
are cut into pieces for the avatar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from lib.bridge.chunking import Strategy, parse_strategy

# connector: the vendor runs the voice model (LiveAvatar's OpenAI Realtime connector); the
# bridge only records what its room reports.
BridgeMode = Literal["text", "audio", "listen", "connector"]
BRIDGE_MODES: Final[tuple[BridgeMode, ...]] = ("text", "audio", "listen", "connector")


@dataclass(frozen=True)
class BridgeConfig:
    mode: BridgeMode = "text"
    chunking: str = "sentence:20"
    audio_first_ms: int = 200
    audio_next_ms: int = 1000
    barge_in: bool = True
    emotion_per_chunk: bool = True

    @property
    def strategy(self) -> Strategy:
        return parse_strategy(self.chunking)

    @property
    def speaks_text(self) -> bool:
        """Pieces of text go to the avatar (text and listen modes)."""
        return self.mode in ("text", "listen")

    @property
    def label(self) -> str:
        if self.mode == "audio":
            return f"audio:{self.audio_first_ms}/{self.audio_next_ms}"
        if self.mode == "listen":
            return f"listen/{self.strategy.name}"
        if self.mode == "connector":
            return "connector"
        return self.strategy.name

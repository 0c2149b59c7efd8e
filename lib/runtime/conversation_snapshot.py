"""What the Conversation page reads of a conversation, twice a second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lib.brain.base import BrainSnapshot
from lib.bridge.bridge import BridgeSnapshot
from lib.runtime.avatar_state import AvatarSnapshot

ConversationState = Literal["starting", "live", "audio_only", "ended", "failed"]


@dataclass(frozen=True)
class ConversationSnapshot:
    state: ConversationState
    record_id: str
    brain: BrainSnapshot
    avatar: AvatarSnapshot
    bridge: BridgeSnapshot
    waiting_for_model: bool
    banner: str | None
    brain_ready_s: float | None
    avatar_ready_s: float | None
    switch_ms: tuple[float, ...]
    gaps_ms: tuple[float, ...] = ()  # each replaced avatar's time away
    replacing: bool = False  # a dropped avatar's replacement is starting

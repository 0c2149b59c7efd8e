"""What the bridge keeps between events, and whom it tells about speaking and thinking.

The bridge's sides (brain events, avatar notes, turn ends) are mixins over this one state,
all under its one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from lib.bridge.agents import Agent
from lib.bridge.audio_chunks import AudioChunker
from lib.bridge.chunking import Chunker
from lib.bridge.config import BridgeConfig
from lib.bridge.ports import AvatarPort, BrainPort
from lib.bridge.timeline import Timeline, Turn

HandoffFn = Callable[[Agent, Agent], None]


class BridgeState:
    def __init__(
        self,
        timeline: Timeline,
        avatar: AvatarPort,
        brain: BrainPort,
        config: BridgeConfig,
        agents: list[Agent],
        *,
        on_handoff: HandoffFn | None = None,
        on_speaking: Callable[[bool], None] | None = None,
        on_thinking: Callable[[bool], None] | None = None,
    ) -> None:
        if not agents:
            raise ValueError("a conversation needs at least one agent")
        self.timeline = timeline
        self.avatar = avatar
        self.brain = brain
        self.config = config
        self.agents = {a.name: a for a in agents}
        self.agent = agents[0]
        self._on_handoff = on_handoff
        self._on_speaking = on_speaking
        self._on_thinking = on_thinking
        self._lock = threading.RLock()
        self._turn: Turn | None = None
        self._by_response: dict[str, Turn] = {}
        self._active_response: str | None = None
        self._awaiting_followup = False  # a tool call or handoff: the next response continues
        self._text_before: dict[str, str] = {}  # response → the turn's text before it
        self._chunker: Chunker | None = None
        self._audio: AudioChunker | None = None
        self._speaking = False
        self._thinking = False
        self._audio_only = False
        self._overheads: deque[float] = deque(maxlen=2000)

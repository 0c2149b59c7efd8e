"""The bridge: Realtime events in, avatar speech out, every step stamped on the turn.

It never blocks: brain events arrive on the brain's loop thread, avatar events and task notes
on the runner's; both take one lock, update the timeline and hand pieces to the avatar
(`speak_soon`), which sends them in order on its own loop. The page reads `snapshot()`.

Modes:
- `text`: the model answers in text; a chunk strategy cuts it into pieces the avatar speaks.
- `audio`: the model answers in audio; pieces of its PCM go to the avatar to lip-sync.
- `listen`: the avatar's own speech recognition hears the user (its user events arrive here
  as turn events); a streaming text model answers; chunks as in `text`.
- audio-only fallback (the avatar failed): the model's own voice plays; no avatar pieces.

The bridge's parts: `config` (mode and chunking), `state` (what it keeps, under one lock),
`brain_side` (model events in, pieces out), `avatar_side` (what became of each piece),
`turn_ends` (done, barged in on, given up).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lib.avatar.base import UserStarted, UserStopped, UserTranscript
from lib.brain.events import SpeechStarted, SpeechStopped, TranscriptDone
from lib.bridge.avatar_side import AvatarSide
from lib.bridge.brain_side import BrainSide
from lib.bridge.timeline import Turn


@dataclass(frozen=True)
class BridgeSnapshot:
    turns: tuple[Turn, ...]
    agent: str
    speaking: bool
    thinking: bool
    audio_only: bool
    overheads_ms: tuple[float, ...]  # text delta in → speak request out, per chunk


class Bridge(BrainSide, AvatarSide):
    """Built with `BridgeState`'s arguments: the timeline, the two ports, the config, the
    agents and the page's callbacks."""

    _heard_item = ""  # the avatar-heard user turn in progress (avatar-listens)

    # ---- controls -------------------------------------------------------------------------
    def user_text(self, text: str) -> Turn:
        """A typed (or scripted) user message: the turn starts now."""
        with self._lock:
            self._barge_in_locked(time.time(), "typed message", force=True)
            turn = self.timeline.open_turn("text", self.agent.name, speech_end_at=time.time())
            self.timeline.set(turn, user_text=text)
            self._turn = turn
            return turn

    def interrupt(self, why: str = "interrupt button") -> None:
        with self._lock:
            self._barge_in_locked(time.time(), why, force=True)

    def end(self, why: str) -> None:
        """The conversation is stopping: a turn still open is stored as interrupted."""
        with self._lock:
            turn = self._turn
            if turn is not None and turn.status == "open":
                now = time.time()
                self.timeline.stamp(turn, "interrupted_at", now)
                self.timeline.note(turn, "stopped", why, now)
                self._close_interrupted(turn, now)

    def user_heard(self, ev: UserStarted | UserStopped | UserTranscript) -> str | None:
        """The avatar's ears (avatar-listens): its user events as this turn's stages. The
        transcript's text once the user finished (None before)."""
        if isinstance(ev, UserStarted):
            self._heard_item = f"avatar_{ev.at:.6f}"
            self.on_brain_event(SpeechStarted("avatar.user_start", 0, self._heard_item, at=ev.at))
            return None
        if isinstance(ev, UserStopped):
            self.on_brain_event(SpeechStopped("avatar.user_stop", 0, self._heard_item, at=ev.at))
            return None
        text = ev.text.strip()
        item = self._heard_item
        self.on_brain_event(TranscriptDone("avatar.user_transcript", item, text, None, at=ev.at))
        return text

    def abandon(self, why: str) -> None:
        """Give up on the open turn (e.g. a sweep's turn timed out): stored as failed."""
        with self._lock:
            turn = self._turn
            if turn is not None and turn.status == "open":
                self.timeline.note(turn, "abandoned", why, time.time())
                self.timeline.close(turn, "error", why)

    def note(
        self, kind: str, text: str, at: float, payload: dict[str, object] | None = None
    ) -> None:
        """Something that happened around the current turn (e.g. the avatar switched)."""
        with self._lock:
            turn = self._turn if self._turn is not None and self._turn.status == "open" else None
            self.timeline.note(turn, kind, text, at, payload)

    def set_audio_only(self, on: bool) -> None:
        """The avatar failed: the model's own voice carries the answer (no avatar pieces)."""
        with self._lock:
            self._audio_only = on

    @property
    def audio_only(self) -> bool:
        return self._audio_only

    def snapshot(self) -> BridgeSnapshot:
        with self._lock:
            return BridgeSnapshot(
                turns=tuple(self.timeline.snapshot()),
                agent=self.agent.name,
                speaking=self._speaking,
                thinking=self._thinking,
                audio_only=self._audio_only,
                overheads_ms=tuple(x * 1000 for x in self._overheads),
            )

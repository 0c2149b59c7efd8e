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
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from lib.avatar.base import AvatarEvent, Disconnected, StartTalking, StopTalking
from lib.brain.events import (
    BUSY_CODE,
    AudioDelta,
    BrainEvent,
    Committed,
    ConnectionLost,
    ErrorEvent,
    FunctionCall,
    ResponseCreated,
    ResponseDone,
    SpeechStarted,
    SpeechStopped,
    TextDelta,
    TextDone,
    TranscriptDone,
)
from lib.bridge.agents import Agent
from lib.bridge.audio_chunks import AudioChunker, audio_ms
from lib.bridge.chunking import Chunker, Strategy, parse_strategy
from lib.bridge.ports import AvatarPort, BrainPort, TaskNote
from lib.bridge.sentiment import emotion_for
from lib.bridge.timeline import Timeline, Turn
from lib.bridge.tools import TRANSFER_PREFIX, run_tool

# Protocol races the brain already handles (a cancel that came too late, a create re-asked).
QUIET_ERRORS: Final = frozenset({"response_cancel_not_active", BUSY_CODE})
BridgeMode = Literal["text", "audio", "listen"]
BRIDGE_MODES: Final[tuple[BridgeMode, ...]] = ("text", "audio", "listen")


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
        return self.mode != "audio"

    @property
    def label(self) -> str:
        if self.mode == "audio":
            return f"audio:{self.audio_first_ms}/{self.audio_next_ms}"
        if self.mode == "listen":
            return f"listen/{self.strategy.name}"
        return self.strategy.name


HandoffFn = Callable[[Agent, Agent], None]


@dataclass(frozen=True)
class BridgeSnapshot:
    turns: tuple[Turn, ...]
    agent: str
    speaking: bool
    thinking: bool
    audio_only: bool
    overheads_ms: tuple[float, ...]  # text delta in → speak request out, per chunk


class Bridge:
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

    # ---- brain side (brain loop thread) ---------------------------------------------------
    def on_brain_event(self, ev: BrainEvent) -> None:
        now = time.time()
        with self._lock:
            if isinstance(ev, TextDelta):
                self._on_text_delta(ev, now)
            elif isinstance(ev, AudioDelta):
                self._on_audio_delta(ev)
            elif isinstance(ev, SpeechStarted):
                self._on_speech_started(ev)
            elif isinstance(ev, SpeechStopped):
                turn = self._voice_turn(ev.item_id, ev.at)
                self.timeline.stamp(turn, "speech_end_at", ev.at)
            elif isinstance(ev, Committed):
                turn = self._voice_turn(ev.item_id, ev.at)
                self.timeline.stamp(turn, "committed_at", ev.at)
            elif isinstance(ev, TranscriptDone):
                self._on_transcript(ev)
            elif isinstance(ev, ResponseCreated):
                self._on_response_created(ev)
            elif isinstance(ev, TextDone):
                self._on_text_done(ev)
            elif isinstance(ev, FunctionCall):
                self._on_function_call(ev)
            elif isinstance(ev, ResponseDone):
                self._on_response_done(ev)
            elif isinstance(ev, ErrorEvent):
                self._on_error(ev)
            elif isinstance(ev, ConnectionLost):
                self._on_connection_lost(ev)

    def _voice_turn(self, item_id: str, at: float) -> Turn:
        turn = self._turn
        if turn is not None and turn.item_id == item_id and item_id:
            return turn
        # Speech start was missed (e.g. push-to-talk commits without VAD events).
        if turn is None or turn.status != "open" or turn.response_id or turn.item_id:
            self._barge_in_locked(at, "new user turn")
            turn = self.timeline.open_turn("voice", self.agent.name)
            self._turn = turn
        if item_id and not turn.item_id:
            self.timeline.set(turn, item_id=item_id)
        return turn

    def _on_speech_started(self, ev: SpeechStarted) -> None:
        self._barge_in_locked(ev.at, "user started speaking")
        turn = self.timeline.open_turn("voice", self.agent.name, speech_started_at=ev.at)
        self.timeline.set(turn, item_id=ev.item_id)
        self._turn = turn

    def _on_transcript(self, ev: TranscriptDone) -> None:
        turn = self._turn if self._turn and self._turn.item_id == ev.item_id else None
        if turn is None:  # a late transcript for an earlier turn
            turn = next((t for t in self.timeline.snapshot_refs() if t.item_id == ev.item_id), None)
        if turn is not None:
            self.timeline.stamp(turn, "transcript_at", ev.at)
            self.timeline.set(turn, user_text=ev.transcript)

    def _on_response_created(self, ev: ResponseCreated) -> None:
        turn = self._turn
        continues = (
            turn is not None
            and turn.status == "open"
            and (not turn.response_id or self._awaiting_followup)
        )
        if not continues:  # the agent speaks first (greeting, interview question)
            turn = self.timeline.open_turn("agent", self.agent.name)
            self._turn = turn
        assert turn is not None
        self._awaiting_followup = False
        self._active_response = ev.response_id
        self._text_before[ev.response_id] = turn.assistant_text
        self._by_response[ev.response_id] = turn
        self.timeline.stamp(turn, "response_created_at", ev.at)
        self.timeline.set(turn, response_id=ev.response_id)
        self._chunker = Chunker(self.config.strategy)
        self._audio = AudioChunker(self.config.audio_first_ms, self.config.audio_next_ms)

    def _live_turn(self, response_id: str) -> Turn | None:
        turn = self._by_response.get(response_id)
        return turn if turn is not None and turn.status == "open" else None

    def _on_text_delta(self, ev: TextDelta, now: float) -> None:
        turn = self._live_turn(ev.response_id)
        if turn is None:
            return  # an answer we cancelled: its last deltas are not spoken
        self._set_thinking(False)
        self.timeline.stamp(turn, "first_delta_at", ev.at)
        turn.assistant_text += ev.delta
        if ev.from_audio or not self.config.speaks_text or self._audio_only:
            return  # the audio carries the words
        chunker = self._chunker
        if chunker is None:
            return
        for piece in chunker.feed(ev.delta, now):
            self._send_text(turn, piece, now)
        deadline = chunker.deadline()
        if deadline is not None:
            self.avatar.call_later(max(0.0, deadline - time.time()), self._on_deadline)

    def _on_deadline(self) -> None:
        now = time.time()
        with self._lock:
            turn, chunker = self._turn, self._chunker
            if turn is None or chunker is None or turn.status != "open":
                return
            for piece in chunker.due(now):
                self._send_text(turn, piece, now)

    def _on_audio_delta(self, ev: AudioDelta) -> None:
        turn = self._live_turn(ev.response_id)
        if turn is None:
            return
        self._set_thinking(False)
        self.timeline.stamp(turn, "first_delta_at", ev.at)
        if self.config.mode != "audio" or self._audio_only or self._audio is None:
            return
        for piece in self._audio.feed(ev.pcm):
            self._send_audio(turn, piece, ev.response_id, end=False)

    def _on_text_done(self, ev: TextDone) -> None:
        turn = self._live_turn(ev.response_id)
        if turn is None:
            return
        # A turn may span responses (tool output, handoff): keep what was said before.
        before = self._text_before.pop(ev.response_id, "")
        self.timeline.set(turn, assistant_text=f"{before} {ev.text}".strip())
        self._flush(turn, ev.response_id)

    def _flush(self, turn: Turn, response_id: str) -> None:
        now = time.time()
        if self._audio_only:
            return
        if self.config.speaks_text and self._chunker is not None:
            for piece in self._chunker.finish():
                self._send_text(turn, piece, now)
        elif self.config.mode == "audio" and self._audio is not None:
            rest = self._audio.finish()
            if rest or any(c.kind == "audio" for c in turn.chunks):
                self._send_audio(turn, rest, response_id, end=True)
            self._audio = None

    def _on_function_call(self, ev: FunctionCall) -> None:
        turn = self._live_turn(ev.response_id) or self._turn
        self._awaiting_followup = True
        if ev.name.startswith(TRANSFER_PREFIX):
            target = self.agents.get(ev.name[len(TRANSFER_PREFIX) :])
            if target is None:
                self.brain.send_function_output(
                    ev.call_id, '{"error": "no such agent in this conversation"}'
                )
                return
            previous, self.agent = self.agent, target
            self.timeline.note(
                turn,
                "handoff",
                f"handoff {previous.name} → {target.name}",
                ev.at,
                {"from": previous.name, "to": target.name},
            )
            if turn is not None:
                self.timeline.set(turn, agent=target.name)
            if self._on_handoff is not None:
                self._on_handoff(previous, target)  # session.update + avatar switch
            self.brain.send_function_output(
                ev.call_id, f'{{"status": "transferred", "agent": "{target.name}"}}'
            )
            return
        self._set_thinking(True)
        self.timeline.note(turn, "tool_call", f"tool {ev.name}({ev.arguments})", ev.at)
        output = run_tool(ev.name, ev.arguments)
        self.timeline.note(turn, "tool_result", f"tool {ev.name} → {output}")
        self.brain.send_function_output(ev.call_id, output)

    def _on_response_done(self, ev: ResponseDone) -> None:
        turn = self._by_response.get(ev.response_id)
        if self._active_response == ev.response_id:
            self._active_response = None
        if turn is None:
            return
        self.timeline.stamp(turn, "response_done_at", ev.at, latest=True)
        if ev.usage:
            merged = dict(turn.usage or {})
            merged[ev.response_id] = ev.usage
            self.timeline.set(turn, usage=merged)
        if turn.status != "open":
            return
        if ev.status == "failed":
            self.timeline.close(turn, "error", f"the model failed: {ev.reason or 'no reason'}")
            return
        if ev.status == "cancelled":
            self.timeline.stamp(turn, "interrupted_at", ev.at)
            self._close_interrupted(turn, ev.at)
            return
        self._flush(turn, ev.response_id)
        if self._awaiting_followup:
            return  # the tool output or the next agent answers next
        self._maybe_finish(turn)

    def _on_error(self, ev: ErrorEvent) -> None:
        turn = self._turn
        if turn is not None and turn.status == "open" and ev.code not in QUIET_ERRORS:
            self.timeline.note(turn, "error", f"{ev.code}: {ev.message}", ev.at)

    def _on_connection_lost(self, ev: ConnectionLost) -> None:
        """The model went away mid-turn: what it said so far is still spoken and kept; the
        turn is stored as failed (the session reconnects by itself)."""
        self._active_response = None
        self._awaiting_followup = False
        turn = self._turn
        if turn is None or turn.status != "open":
            return
        if turn.response_id and self._chunker is not None and self.config.speaks_text:
            for piece in self._chunker.finish():
                self._send_text(turn, piece, ev.at)
        self.timeline.note(turn, "brain_lost", "the voice model connection dropped", ev.at)
        self.timeline.close(turn, "error", f"the voice model connection dropped ({ev.reason})")

    # ---- sending pieces -------------------------------------------------------------------
    def _send_text(self, turn: Turn, piece: str, ready_at: float) -> None:
        emotion = emotion_for(piece) if self.config.emotion_per_chunk else None
        chunk = self.timeline.add_chunk(turn, "text", ready_at, text=piece, emotion=emotion)
        self.avatar.speak_soon(piece, chunk.id, emotion)

    def _send_audio(self, turn: Turn, pcm: bytes, response_id: str, *, end: bool) -> None:
        chunk = self.timeline.add_chunk(turn, "audio", time.time(), audio_ms=audio_ms(pcm))
        self.avatar.speak_audio_soon(pcm, chunk.id, event_id=response_id, end=end)

    # ---- avatar side (runner loop / transport thread) -------------------------------------
    def on_avatar(self, note: TaskNote | AvatarEvent) -> None:
        with self._lock:
            if isinstance(note, TaskNote):
                self._on_note(note)
            elif isinstance(note, StartTalking):
                self._set_speaking(True)
                self._on_audio_talking(note.at, started=True)
            elif isinstance(note, StopTalking):
                self._set_speaking(False)
                self._on_audio_talking(note.at, started=False)
            elif isinstance(note, Disconnected) and self._turn is not None:
                self.timeline.note(self._turn, "avatar_disconnected", f"avatar: {note.reason}")

    def _set_thinking(self, on: bool) -> None:
        """A tool call is running: the avatar shows it (the page and the video's badge)."""
        if self._thinking != on:
            self._thinking = on
            if self._on_thinking is not None:
                self._on_thinking(on)

    def _set_speaking(self, on: bool) -> None:
        if self._speaking != on:
            self._speaking = on
            if self._on_speaking is not None:
                self._on_speaking(on)

    def _on_note(self, note: TaskNote) -> None:
        found = self.timeline.find(note.token)
        if found is None:
            return
        turn, chunk = found
        if note.what == "sent":
            self._overheads.append((note.sent_at or note.at) - chunk.ready_at)
            fields: dict[str, object] = {"sent_at": note.sent_at, "accepted_at": note.at}
            if note.task_id:
                fields["task_id"] = note.task_id
            if chunk.status == "ready":
                fields["status"] = "sent"
            self.timeline.update_chunk(chunk, **fields)
            if note.sent_at is not None:
                self.timeline.stamp(turn, "first_chunk_at", note.sent_at)
        elif note.what == "started" and chunk.kind == "text":
            # A start can reach us after the turn was cut (its note waits for the task's HTTP
            # answer when the event came first): the avatar did begin this piece, and was cut.
            status = "speaking" if turn.status == "open" else "interrupted"
            self.timeline.update_chunk(chunk, started_at=note.at, status=status)
            self.timeline.stamp(turn, "avatar_start_at", note.at)
        elif note.what == "ended" and chunk.kind == "text":
            status = "interrupted" if note.interrupted else "done"
            self.timeline.update_chunk(chunk, ended_at=note.at, status=status)
            self._maybe_finish(turn)
        elif note.what == "dropped":
            if not chunk.finished:
                self.timeline.update_chunk(chunk, status="dropped", error=note.error or None)
            self._maybe_finish(turn)
        elif note.what == "failed":
            self.timeline.update_chunk(chunk, status="error", error=note.error)
            self.timeline.note(turn, "avatar_error", f"avatar refused a piece: {note.error}")
            self._maybe_finish(turn)

    def _on_audio_talking(self, at: float, *, started: bool) -> None:
        """Audio pieces play as one utterance: its talking events belong to the turn whose
        audio is playing."""
        if self.config.mode != "audio":
            return
        turn = self._audio_turn()
        if turn is None:
            return
        audio = [c for c in turn.chunks if c.kind == "audio"]
        if started:
            self.timeline.stamp(turn, "avatar_start_at", at)
            if audio and audio[0].started_at is None:
                self.timeline.update_chunk(audio[0], started_at=at, status="speaking")
            return
        interrupted = "interrupted_at" in turn.stamps
        for c in audio:
            if not c.finished:
                self.timeline.update_chunk(c, status="interrupted" if interrupted else "done")
        if audio:
            self.timeline.update_chunk(audio[-1], ended_at=at)
        self._maybe_finish(turn, stopped_at=at)

    def _audio_turn(self) -> Turn | None:
        for turn in reversed(self.timeline.snapshot_refs()):
            if any(c.kind == "audio" for c in turn.chunks):
                return turn
        return None

    # ---- turn ends ------------------------------------------------------------------------
    def _maybe_finish(self, turn: Turn, stopped_at: float | None = None) -> None:
        if turn.status != "open" or "response_done_at" not in turn.stamps:
            return
        if self._awaiting_followup and turn is self._turn:
            return
        if self.config.mode == "audio" and not self._audio_only:
            audio = [c for c in turn.chunks if c.kind == "audio"]
            if audio and stopped_at is None and not all(c.finished for c in audio):
                return
        elif not all(c.finished for c in turn.chunks):
            return
        ended = [c.ended_at for c in turn.chunks if c.ended_at is not None]
        stop = stopped_at if stopped_at is not None else (max(ended) if ended else None)
        if stop is not None:
            self.timeline.stamp(turn, "avatar_stop_at", stop)
        # A piece cut or dropped while the turn was still open (no barge-in): the avatar failed.
        errors = [
            c.error or ("cut off" if c.status == "interrupted" else "not spoken")
            for c in turn.chunks
            if c.status in ("error", "dropped", "interrupted")
        ]
        if errors:
            self.timeline.close(turn, "error", f"the avatar failed: {errors[0]}")
        else:
            self.timeline.close(turn, "done")

    def _barge_in_locked(self, at: float, why: str, *, force: bool = False) -> None:
        """A new user turn begins: stop the answer in progress (the avatar mid-word, the
        model, the queued pieces), or close a turn that never got an answer."""
        turn = self._turn
        if turn is None or turn.status != "open":
            return
        busy = (
            self._active_response is not None
            or self._speaking
            or any(not c.finished for c in turn.chunks)
        )
        if busy and (self.config.barge_in or force):
            self.timeline.stamp(turn, "interrupted_at", at)
            self.timeline.note(turn, "barge_in", f"interrupted: {why}", at)
            self.avatar.interrupt_soon()
            if self._active_response is not None:
                self.brain.cancel()
            self._close_interrupted(turn, at)
        elif not busy and "response_done_at" not in turn.stamps:
            self.timeline.note(turn, "abandoned", f"no answer before the next turn ({why})", at)
            self._close_interrupted(turn, at)

    def _close_interrupted(self, turn: Turn, at: float) -> None:
        for c in turn.chunks:
            if c.status in ("ready", "sent"):
                self.timeline.update_chunk(c, status="dropped")
            elif c.status == "speaking":
                self.timeline.update_chunk(c, status="interrupted")
        self._awaiting_followup = False
        self.timeline.close(turn, "interrupted")

"""The brain side (brain loop thread): the voice model's typed events open and stamp turns,
and its answer goes to the avatar in pieces (text cut by the chunker, or PCM); tool calls and
handoffs run here."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

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
from lib.bridge.audio_chunks import AudioChunker, audio_ms
from lib.bridge.chunking import Chunker
from lib.bridge.sentiment import emotion_for
from lib.bridge.timeline import Turn
from lib.bridge.tools import TRANSFER_PREFIX, run_tool
from lib.bridge.turn_ends import TurnEnds

# Protocol races the brain already handles (a cancel that came too late, a create re-asked).
QUIET_ERRORS: Final = frozenset({"response_cancel_not_active", BUSY_CODE})


class BrainSide(TurnEnds):
    def on_brain_event(self, ev: BrainEvent) -> None:
        now = time.time()
        handler = next(
            (h for kind in type(ev).__mro__ if (h := BRAIN_HANDLERS.get(kind)) is not None), None
        )
        if handler is not None:
            with self._lock:
                handler(self, ev, now)

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

    def _on_speech_started(self, ev: SpeechStarted, now: float) -> None:
        self._barge_in_locked(ev.at, "user started speaking")
        turn = self.timeline.open_turn("voice", self.agent.name, speech_started_at=ev.at)
        self.timeline.set(turn, item_id=ev.item_id)
        self._turn = turn

    def _on_speech_stopped(self, ev: SpeechStopped, now: float) -> None:
        turn = self._voice_turn(ev.item_id, ev.at)
        self.timeline.stamp(turn, "speech_end_at", ev.at)

    def _on_committed(self, ev: Committed, now: float) -> None:
        turn = self._voice_turn(ev.item_id, ev.at)
        self.timeline.stamp(turn, "committed_at", ev.at)

    def _on_transcript(self, ev: TranscriptDone, now: float) -> None:
        turn = self._turn if self._turn and self._turn.item_id == ev.item_id else None
        if turn is None:  # a late transcript for an earlier turn
            turn = next((t for t in self.timeline.snapshot_refs() if t.item_id == ev.item_id), None)
        if turn is not None:
            self.timeline.stamp(turn, "transcript_at", ev.at)
            self.timeline.set(turn, user_text=ev.transcript)

    def _on_response_created(self, ev: ResponseCreated, now: float) -> None:
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

    def _on_audio_delta(self, ev: AudioDelta, now: float) -> None:
        turn = self._live_turn(ev.response_id)
        if turn is None:
            return
        self._set_thinking(False)
        self.timeline.stamp(turn, "first_delta_at", ev.at)
        if self.config.mode != "audio" or self._audio_only or self._audio is None:
            return
        for piece in self._audio.feed(ev.pcm):
            self._send_audio(turn, piece, ev.response_id, end=False)

    def _on_text_done(self, ev: TextDone, now: float) -> None:
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

    def _on_function_call(self, ev: FunctionCall, now: float) -> None:
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

    def _on_response_done(self, ev: ResponseDone, now: float) -> None:
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

    def _on_error(self, ev: ErrorEvent, now: float) -> None:
        turn = self._turn
        if turn is not None and turn.status == "open" and ev.code not in QUIET_ERRORS:
            self.timeline.note(turn, "error", f"{ev.code}: {ev.message}", ev.at)

    def _on_connection_lost(self, ev: ConnectionLost, now: float) -> None:
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
        elif turn.response_id and self._audio is not None and not self._audio_only:
            # Close the avatar's audio buffer: what arrived is played, the next reply is its own.
            rest = self._audio.finish()
            if rest or any(c.kind == "audio" for c in turn.chunks):
                self._send_audio(turn, rest, turn.response_id, end=True)
            self._audio = None
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

    def _set_thinking(self, on: bool) -> None:
        """A tool call is running: the avatar shows it (the page and the video's badge)."""
        if self._thinking != on:
            self._thinking = on
            if self._on_thinking is not None:
                self._on_thinking(on)


# Keyed by event type (a subclass finds its nearest base's handler, as isinstance did).
# Every handler gets `now`, when the event reached the bridge; the text delta stamps its pieces
# with it.
BRAIN_HANDLERS: Final[dict[type[BrainEvent], Callable[[BrainSide, Any, float], None]]] = {
    TextDelta: BrainSide._on_text_delta,
    AudioDelta: BrainSide._on_audio_delta,
    SpeechStarted: BrainSide._on_speech_started,
    SpeechStopped: BrainSide._on_speech_stopped,
    Committed: BrainSide._on_committed,
    TranscriptDone: BrainSide._on_transcript,
    ResponseCreated: BrainSide._on_response_created,
    TextDone: BrainSide._on_text_done,
    FunctionCall: BrainSide._on_function_call,
    ResponseDone: BrainSide._on_response_done,
    ErrorEvent: BrainSide._on_error,
    ConnectionLost: BrainSide._on_connection_lost,
}

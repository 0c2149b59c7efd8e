"""The avatar side (runner loop / transport thread): what became of each piece handed over
(sent, started, ended, dropped, failed), and the avatar's talking state."""

from __future__ import annotations

from lib.avatar.base import AvatarEvent, Disconnected, StartTalking, StopTalking, TalkingMessage
from lib.bridge.ports import TaskNote
from lib.bridge.timeline import Turn
from lib.bridge.turn_ends import TurnEnds


class AvatarSide(TurnEnds):
    def on_avatar(self, note: TaskNote | AvatarEvent) -> None:
        with self._lock:
            if isinstance(note, TaskNote):
                self._on_note(note)
            elif isinstance(note, StartTalking):
                self._set_speaking(True)
                self._on_audio_talking(note.at, started=True)
                self._on_vendor_talking(note.at, started=True)
            elif isinstance(note, StopTalking):
                self._set_speaking(False)
                self._on_audio_talking(note.at, started=False)
                self._on_vendor_talking(note.at, started=False)
            elif isinstance(note, TalkingMessage) and self.config.mode == "connector":
                turn = self._vendor_turn()
                if turn is not None:
                    self.timeline.set(turn, assistant_text=note.text)
            elif isinstance(note, Disconnected) and self._turn is not None:
                self.timeline.note(self._turn, "avatar_disconnected", f"avatar: {note.reason}")

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

    # ---- connector: the vendor's model answers; its room says when the avatar spoke --------
    def _vendor_turn(self) -> Turn | None:
        """The turn the vendor is answering: the open one, or the last one it started on."""
        turn = self._turn
        if turn is not None and turn.status == "open":
            return turn
        started = [t for t in self.timeline.snapshot_refs() if "avatar_start_at" in t.stamps]
        return started[-1] if started and "avatar_stop_at" not in started[-1].stamps else None

    def _on_vendor_talking(self, at: float, *, started: bool) -> None:
        if self.config.mode != "connector":
            return
        turn = self._vendor_turn()
        if started:
            if turn is None:  # the vendor speaks first (its context's opening line)
                turn = self.timeline.open_turn("agent", self.agent.name)
                self._turn = turn
            self.timeline.stamp(turn, "avatar_start_at", at)
            return
        if turn is None or "avatar_start_at" not in turn.stamps:
            return  # an answer cut before this turn began: already closed with its turn
        self.timeline.stamp(turn, "avatar_stop_at", at)
        self.timeline.stamp(turn, "response_done_at", at)
        if turn.status == "open":
            self.timeline.close(turn, "interrupted" if "interrupted_at" in turn.stamps else "done")

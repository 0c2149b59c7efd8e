"""How a turn closes: done once the avatar has spoken it all, cut by a barge-in, or given up."""

from __future__ import annotations

from lib.bridge.state import BridgeState
from lib.bridge.timeline import Turn


class TurnEnds(BridgeState):
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

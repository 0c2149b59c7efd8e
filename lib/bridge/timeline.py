"""The per-turn timeline, persisted as it happens.

Each stage of a turn is stamped once, when it is observed (epoch seconds), and written to the
store at once, so a crash loses nothing already seen. Durations are derived by readers. The
live copy (`snapshot()`) feeds the page's waterfall.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from lib.store.database import Store, new_id

TurnStatus = Literal["open", "done", "interrupted", "error"]
ChunkStatus = Literal["ready", "sent", "speaking", "done", "interrupted", "dropped", "error"]


@dataclass
class Chunk:
    id: str
    seq: int
    kind: Literal["text", "audio"]
    ready_at: float
    text: str = ""
    audio_ms: float = 0.0
    emotion: str | None = None
    sent_at: float | None = None
    accepted_at: float | None = None
    task_id: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    status: ChunkStatus = "ready"
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "interrupted", "dropped", "error")


@dataclass
class Turn:
    id: str
    seq: int
    source: str
    agent: str | None = None
    user_text: str = ""
    assistant_text: str = ""
    item_id: str = ""
    response_id: str = ""
    stamps: dict[str, float] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    usage: dict[str, Any] | None = None
    status: TurnStatus = "open"
    error: str | None = None
    events: list[tuple[float, str]] = field(default_factory=list)  # handoff, tool, barge-in…

    def stage(self, name: str) -> float | None:
        return self.stamps.get(name)


class Timeline:
    """Turns and chunks of one conversation (thread-safe; callers hold no other lock)."""

    def __init__(self, store: Store | None, conversation_id: str, *, keep: int = 50) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self._lock = threading.RLock()
        self._turns: list[Turn] = []
        self._keep = keep
        self._seq = 0

    # ---- turns ----------------------------------------------------------------------------
    def open_turn(self, source: str, agent: str | None, **stamps: float) -> Turn:
        with self._lock:
            self._seq += 1
            turn = Turn(new_id(), self._seq, source, agent, stamps=dict(stamps))
            self._turns.append(turn)
            del self._turns[: -self._keep]
        self._write_insert(
            "turns",
            {
                "id": turn.id,
                "conversation_id": self.conversation_id,
                "seq": turn.seq,
                "agent": agent,
                "source": source,
                "status": "open",
                **stamps,
            },
        )
        return turn

    def stamp(self, turn: Turn, stage: str, at: float, *, latest: bool = False) -> bool:
        """Set a stage once (the first observation wins, or the last with `latest`).
        True if it was set now."""
        with self._lock:
            if stage in turn.stamps and not latest:
                return False
            turn.stamps[stage] = at
        self._write_update("turns", turn.id, {stage: at})
        return True

    def set(self, turn: Turn, **fields: Any) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(turn, key, value)
        row = {k: (json.dumps(v, sort_keys=True) if k == "usage" else v) for k, v in fields.items()}
        self._write_update("turns", turn.id, row)

    def note(
        self,
        turn: Turn | None,
        kind: str,
        text: str,
        at: float | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Something the bridge did besides speaking (handoff, tool call, barge-in…)."""
        at = time.time() if at is None else at
        if turn is not None:
            with self._lock:
                turn.events.append((at, text))
        self._write_insert(
            "conversation_events",
            {
                "conversation_id": self.conversation_id,
                "turn_id": turn.id if turn else None,
                "kind": kind,
                "at": at,
                "payload": json.dumps({"text": text, **(payload or {})}, sort_keys=True),
            },
        )

    def close(self, turn: Turn, status: TurnStatus, error: str | None = None) -> None:
        with self._lock:
            if turn.status != "open" and not (status == "error" and turn.status != "error"):
                return
            turn.status = status
            if error:
                turn.error = error
            n = len(turn.chunks)
        self._write_update(
            "turns", turn.id, {"status": status, "chunks": n, **({"error": error} if error else {})}
        )

    # ---- chunks ---------------------------------------------------------------------------
    def add_chunk(
        self,
        turn: Turn,
        kind: Literal["text", "audio"],
        ready_at: float,
        *,
        text: str = "",
        audio_ms: float = 0.0,
        emotion: str | None = None,
    ) -> Chunk:
        with self._lock:
            chunk = Chunk(new_id(), len(turn.chunks) + 1, kind, ready_at, text, audio_ms, emotion)
            turn.chunks.append(chunk)
        self._write_insert(
            "chunks",
            {
                "id": chunk.id,
                "turn_id": turn.id,
                "seq": chunk.seq,
                "kind": kind,
                "text": text or None,
                "chars": len(text) if kind == "text" else None,
                "audio_ms": audio_ms if kind == "audio" else None,
                "emotion": emotion,
                "ready_at": ready_at,
                "status": "ready",
            },
        )
        return chunk

    def update_chunk(self, chunk: Chunk, **fields: Any) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(chunk, key, value)
        self._write_update("chunks", chunk.id, fields)

    # ---- reading --------------------------------------------------------------------------
    def snapshot(self) -> list[Turn]:
        """Copies of the recent turns (safe to read on the page)."""
        with self._lock:
            return [
                replace(
                    t,
                    stamps=dict(t.stamps),
                    chunks=[replace(c) for c in t.chunks],
                    events=list(t.events),
                )
                for t in self._turns
            ]

    def snapshot_refs(self) -> list[Turn]:
        """The live turn objects (for the bridge, which holds its own lock)."""
        with self._lock:
            return list(self._turns)

    def find(self, chunk_id: str) -> tuple[Turn, Chunk] | None:
        with self._lock:
            for turn in reversed(self._turns):
                for chunk in turn.chunks:
                    if chunk.id == chunk_id:
                        return turn, chunk
        return None

    # ---- store ----------------------------------------------------------------------------
    def _write_insert(self, table: str, row: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.insert(table, row)

    def _write_update(self, table: str, row_id: str, fields: dict[str, Any]) -> None:
        if self.store is not None and fields:
            self.store.update(table, row_id, fields)

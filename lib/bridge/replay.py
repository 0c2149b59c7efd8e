"""Replay a recorded answer through a chunk strategy: which pieces, and when each is ready.

The bridge feeds each text delta to the chunker when it arrives, asks `due()` when a `+wait`
deadline set by a delta passes, and flushes the rest when the text is done
(`brain_side.BrainSide`). This does the same on recorded times, so any strategy can be tried
on answers recorded under another one, without a new session.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from lib.bridge.chunking import Chunker, Strategy


@dataclass(frozen=True)
class RecordedAnswer:
    """An answer's text deltas as received (epoch seconds, text), and when its text was done
    (None: at the last delta)."""

    deltas: tuple[tuple[float, str], ...]
    done_at: float | None = None

    @property
    def first_at(self) -> float:
        return self.deltas[0][0]

    @property
    def end_at(self) -> float:
        last = self.deltas[-1][0]
        return last if self.done_at is None else max(last, self.done_at)


@dataclass(frozen=True)
class Piece:
    ready_at: float
    text: str


def replay(answer: RecordedAnswer, strategy: Strategy | str) -> list[Piece]:
    """The pieces `strategy` would have cut from `answer`, each with when it was ready."""
    if not answer.deltas:
        return []
    chunker = Chunker(strategy)
    pieces: list[Piece] = []
    timers: list[float] = []  # the bridge's call_later wake-ups, by when they fire

    def fire_until(t: float) -> None:
        while timers and timers[0] <= t:
            at = heapq.heappop(timers)
            pieces.extend(Piece(at, p) for p in chunker.due(at))

    for at, delta in sorted(answer.deltas, key=lambda d: d[0]):
        fire_until(at)
        pieces.extend(Piece(at, p) for p in chunker.feed(delta, at))
        deadline = chunker.deadline()
        if deadline is not None:  # as the bridge: one wake-up per delta, never in the past
            heapq.heappush(timers, max(deadline, at))
    end = answer.end_at
    fire_until(end)
    pieces.extend(Piece(end, p) for p in chunker.finish())
    return pieces


def first_piece_delay_ms(answer: RecordedAnswer, pieces: Sequence[Piece]) -> float | None:
    """First delta → first piece ready, in milliseconds (None: nothing to say)."""
    return (pieces[0].ready_at - answer.first_at) * 1000 if pieces else None

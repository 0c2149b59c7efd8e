"""Latency derived from a turn's stamps: the one definition of every stage duration.

A turn stores when each stage was observed (epoch seconds, `STAGES`);
durations are derived here, for the live waterfall, the Latency page and the CLI alike.
`e2e` is user speech end → avatar start talking (as livekit's e2e_latency, Retell's e2e).
The Realtime transcript runs in parallel with the model, so it is not on the critical path.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import pandas as pd

# Stages in the order a healthy turn passes them (the waterfall's rows).
STAGES: Final = (
    "speech_started_at",
    "speech_end_at",
    "committed_at",
    "transcript_at",
    "response_created_at",
    "first_delta_at",
    "first_chunk_at",
    "avatar_start_at",
    "avatar_stop_at",
    "response_done_at",
    "avatar_lost_at",  # not a healthy turn's: an avatar that dropped, then its replacement
    "avatar_back_at",
)


@dataclass(frozen=True)
class Interval:
    name: str
    label: str
    start: tuple[str, ...]  # the first stamp present is the start
    end: str
    critical: bool = True  # on the path from the user's last word to the avatar's first


INTERVALS: Final[tuple[Interval, ...]] = (
    Interval("user_speech", "user speaking", ("speech_started_at",), "speech_end_at", False),
    Interval("endpointing", "end of turn → committed", ("speech_end_at",), "committed_at"),
    Interval("transcription", "transcription", ("speech_end_at",), "transcript_at", False),
    Interval(
        "model_ttft",
        "model: first token",
        ("committed_at", "response_created_at", "speech_end_at"),
        "first_delta_at",
    ),
    Interval("chunking", "chunking: first piece", ("first_delta_at",), "first_chunk_at"),
    Interval("avatar_latency", "avatar: first word", ("first_chunk_at",), "avatar_start_at"),
    Interval("speaking", "avatar speaking", ("avatar_start_at",), "avatar_stop_at", False),
    Interval("streaming", "model streaming", ("first_delta_at",), "response_done_at", False),
    Interval("e2e", "end to end", ("speech_end_at",), "avatar_start_at"),
    Interval("avatar_gap", "avatar replaced (gap)", ("avatar_lost_at",), "avatar_back_at", False),
)
BY_NAME: Final = {i.name: i for i in INTERVALS}


def interval_label(name: str) -> str:
    """How an interval is called on the pages (its name, spaced, if it is not one)."""
    interval = BY_NAME.get(name)
    return interval.label if interval else name.replace("_", " ")


# The stages of the critical path, in order (the waterfall's main rows).
CRITICAL: Final = ("endpointing", "model_ttft", "chunking", "avatar_latency")


def stamp(stamps: Mapping[str, float | None], key: str) -> float | None:
    """A stamp, or None when missing (None, or NaN as read from a table)."""
    value = stamps.get(key)
    return None if value is None or value != value else float(value)


def start_of(interval: Interval, stamps: Mapping[str, float | None]) -> float | None:
    for key in interval.start:
        value = stamp(stamps, key)
        if value is not None:
            return value
    return None


def durations_ms(stamps: Mapping[str, float | None]) -> dict[str, float]:
    """Every interval whose ends are both stamped, in milliseconds."""
    out: dict[str, float] = {}
    for interval in INTERVALS:
        start, end = start_of(interval, stamps), stamp(stamps, interval.end)
        if start is not None and end is not None:
            out[interval.name] = (end - start) * 1000
    return out


def in_order(stamps: Mapping[str, float | None], stages: Sequence[str]) -> bool:
    """Are all `stages` stamped, in non-decreasing time order?"""
    times = [stamp(stamps, s) for s in stages]
    present = [t for t in times if t is not None]
    return len(present) == len(stages) and all(a <= b for a, b in itertools.pairwise(present))


def durations_frame(stamps: pd.DataFrame) -> pd.DataFrame:
    """`durations_ms` for a whole table of turns at once (columns: stage stamps), vectorized:
    the Latency page derives 10,000 turns in milliseconds."""
    out: dict[str, pd.Series] = {}
    for interval in INTERVALS:
        starts = [stamps[k] for k in interval.start if k in stamps]
        if not starts or interval.end not in stamps:
            continue
        start = starts[0]
        for more in starts[1:]:
            start = start.fillna(more)
        out[interval.name] = (stamps[interval.end] - start) * 1000
    return pd.DataFrame(out, index=stamps.index)


@dataclass(frozen=True)
class Bar:
    """One waterfall row: `start_ms`/`end_ms` relative to the turn's origin."""

    row: str
    start_ms: float
    end_ms: float
    kind: str  # "stage", "lane" (parallel) or "chunk"
    open: bool = False  # still running (drawn to `now`)
    detail: str = ""


def origin(stamps: Mapping[str, float | None]) -> float | None:
    """Where a turn's waterfall starts: the end of the user's speech (or the first stamp)."""
    end = stamp(stamps, "speech_end_at")
    if end is not None:
        return end
    present = [v for k in stamps if k.endswith("_at") and (v := stamp(stamps, k)) is not None]
    return min(present) if present else None


@dataclass(frozen=True)
class ChunkTimes:
    seq: int
    label: str
    sent_at: float | None
    started_at: float | None
    ended_at: float | None
    status: str


# The order stages are stamped in; a later one present means an earlier missing one was skipped.
_ORDER: Final = (
    "speech_started_at",
    "speech_end_at",
    "committed_at",
    "response_created_at",
    "first_delta_at",
    "first_chunk_at",
    "avatar_start_at",
    "avatar_stop_at",
)


def _expected(interval: Interval, stamps: Mapping[str, float | None]) -> bool:
    """Is this unfinished interval still to come? Critical stages: nothing later has been
    stamped. The transcript lane: only for heard (voice) turns, whenever it lands."""
    if interval.name == "transcription":
        return stamp(stamps, "speech_started_at") is not None or (
            stamp(stamps, "committed_at") is not None
        )
    if interval.end not in _ORDER:
        return True
    later = _ORDER[_ORDER.index(interval.end) + 1 :]
    return all(stamp(stamps, k) is None for k in later)


def waterfall(
    stamps: Mapping[str, float | None], chunks: Sequence[ChunkTimes] = (), now: float | None = None
) -> list[Bar]:
    """The rows of a turn's waterfall: critical-path stages in order, the parallel lanes,
    then one row per chunk (waiting in the avatar's queue, then spoken). A stage that has
    begun but not ended is drawn up to `now` and marked open."""
    t0 = origin(stamps)
    if t0 is None:
        return []

    def rel(t: float) -> float:
        return (t - t0) * 1000

    bars: list[Bar] = []
    for name in (*CRITICAL, "transcription", "streaming", "speaking", "avatar_gap"):
        interval = BY_NAME[name]
        start, end = start_of(interval, stamps), stamp(stamps, interval.end)
        if start is None or (end is None and now is None):
            continue
        kind = "stage" if interval.critical else "lane"
        if end is None:
            if stamp(stamps, "interrupted_at") is not None or now is None:
                continue
            if not _expected(interval, stamps):
                continue  # a stage this turn skips (a typed turn is never committed)
            bars.append(Bar(interval.label, rel(start), rel(now), kind, open=True))
        else:
            bars.append(Bar(interval.label, rel(start), rel(end), kind))
    for c in chunks:
        row = f"chunk {c.seq}"
        if c.sent_at is not None:
            waited = c.started_at if c.started_at is not None else now
            if waited is not None and waited > c.sent_at:
                bars.append(Bar(row, rel(c.sent_at), rel(waited), "queued", c.started_at is None))
        if c.started_at is not None:
            end = c.ended_at if c.ended_at is not None else now
            if end is not None:
                bars.append(
                    Bar(row, rel(c.started_at), rel(end), "chunk", c.ended_at is None, c.label)
                )
    return bars


def median_of(xs: Sequence[float]) -> float | None:
    """The median, to a tenth (None for no values): how the sweeps and benchmarks quote one."""
    return round(statistics.median(xs), 1) if xs else None


def p90_of(xs: Sequence[float]) -> float | None:
    """The 90th percentile, to a tenth; None under 10 values, too few to quote one."""
    if len(xs) < 10:
        return None
    return round(statistics.quantiles(xs, n=10)[-1], 1)

"""What the soak found, as its JSON: fps per stream after warm-up, memory growth, the voice
turns each conversation recorded against the questions its microphone played (from the app's
store), and the sessions left open after Stop, each set against the targets."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from lib.bench import soak_turns
from lib.bench.soak_sampling import WARMUP_S, Sampled

if TYPE_CHECKING:
    import pandas as pd

TARGETS: Final = {"fps_per_stream": 20, "memory_growth_percent": 10, "sessions_left_open": 0}
MEMORY_WINDOW = 3  # samples (~15 s) taken at each end (median): RSS moves ±50 MB between samples


def memory_summary(steady: list[dict[str, Any]]) -> dict[str, Any]:
    """Memory after warm-up vs at the end, in total and per process: the median of the first
    and of the last MEMORY_WINDOW samples (a single sample at each end made one garbage
    collection look like growth or hide it)."""

    def ends(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"after_warmup": None, "end": None, "growth_percent": None}
        first = statistics.median(values[:MEMORY_WINDOW])
        last = statistics.median(values[-MEMORY_WINDOW:])
        growth = round(100 * (last - first) / first, 1) if first else None
        return {"after_warmup": round(first, 1), "end": round(last, 1), "growth_percent": growth}

    names = sorted({n for s in steady for n in s.get("rss_mb_by_process", {})})
    return {
        "total": ends([float(s["rss_mb"]) for s in steady]),
        "by_process": {
            n: ends(
                [
                    float(s["rss_mb_by_process"][n])
                    for s in steady
                    if n in s.get("rss_mb_by_process", {})
                ]
            )
            for n in names
        },
    }


def fps_per_stream(steady: list[dict[str, Any]], sampled: Sampled) -> list[dict[str, Any]]:
    per_stream: list[dict[str, Any]] = []
    for i in range(len(sampled.reconnects_at)):
        values = [s["fps"][i] for s in steady if s["fps"][i] is not None]
        rx_values = [s["received_fps"][i] for s in steady if s["received_fps"][i] is not None]
        per_stream.append(
            {
                "median": statistics.median(values) if values else None,
                "min": min(values, default=None),
                # What reached the tab: the server's side of the stream (a starved tab
                # receives more than it decodes).
                "received_median": statistics.median(rx_values) if rx_values else None,
                "reconnects": len(sampled.reconnects_at[i]),
                # Sample times (every 5 s) at which each reconnect was first seen.
                "reconnects_at_s": sampled.reconnects_at[i],
                # Each one is a burst on the wire and a step in quality (lib.media.video_rate).
                "keyframes": sampled.keyframes[i],
            }
        )
    return per_stream


@dataclass(frozen=True)
class Recorded:
    """What the app's store holds after the run."""

    open_rows: int  # avatar sessions still starting or live
    e2e_ms: dict[str, Any]
    streams: list[dict[str, Any]]  # per conversation that recorded a voice turn


def recorded(
    db: Path, texts: Sequence[str], nominal_s: float, sampled: Sampled, ended: float
) -> Recorded:
    """Read the store: `texts` are the looped questions, played every `nominal_s` seconds by
    the file; `ended` (time.monotonic()) is when the browser closed."""
    from lib.store.database import Store
    from lib.store.queries import open_avatar_session_count, voice_turns

    store = Store(str(db))
    open_rows = open_avatar_session_count(store)
    turns = voice_turns(store)
    e2e = ((turns["avatar_start_at"] - turns["speech_end_at"]) * 1000).dropna()
    return Recorded(
        open_rows=int(open_rows),
        e2e_ms={
            "p50": round(float(e2e.median()), 1) if len(e2e) else None,
            "p90": round(float(e2e.quantile(0.9)), 1) if len(e2e) >= 10 else None,
            "n": len(e2e),
        },
        streams=_streams(turns, texts, nominal_s, sampled, ended),
    )


def _streams(
    turns: pd.DataFrame, texts: Sequence[str], nominal: float, sampled: Sampled, ended: float
) -> list[dict[str, Any]]:
    streams = []
    convs = list(dict.fromkeys(turns["conv"]))
    for i, conv in enumerate(convs):
        mine = turns[turns["conv"] == conv]
        at = mine["speech_end_at"].fillna(mine["speech_started_at"]).dropna()
        said = [
            (float(a), t if isinstance(t, str) else "")
            for a, t in zip(at, mine["user_text"].loc[at.index], strict=True)
        ]
        seq = soak_turns.heard(said, texts)
        pace = soak_turns.pace_s([a for a, _ in seq], nominal)
        gaps = soak_turns.gaps(seq, len(texts), pace)
        heard = sampled.connected_at[i] if i < len(sampled.connected_at) else None
        spoken = int((ended - heard) / pace) if heard else None
        streams.append(
            {
                "turns_recorded": len(mine),
                # Questions lost between the first and last heard (lib.bench.soak_turns);
                # exact, unlike the estimate below (which counts from the first sample
                # that saw the tab connected, later than it was when tabs load slowly).
                "turns_missed": sum(k for _, k in gaps),
                # Seconds into the soak (after the tabs started) of the turn before each
                # gap, and the questions lost there: to set beside `reconnects_at_s`.
                "missed_after_s": [[round(a - sampled.t0_wall, 1), k] for a, k in gaps],
                "turns_with_words": int((mine["user_text"].fillna("") != "").sum()),
                # Seconds per question as the tab's microphone played them (the file's
                # own pace is `mic_pace_file_s`): a loaded tab plays its file slowly.
                "mic_pace_s": round(pace, 2),
                "turns_spoken_estimate": spoken,
                "statuses": {str(k): int(v) for k, v in mine["status"].value_counts().items()},
            }
        )
    return streams


def report(
    *,
    sessions: int,
    browser_nice: int,
    minutes: float,
    not_started: list[int],
    sampled: Sampled,
    found: Recorded,
    tabs: list[dict[str, Any]],
    left: list[dict[str, Any]],
    nominal_s: float,
) -> dict[str, Any]:
    """The soak's JSON. `not_started`: the numbers of the tabs whose page never loaded;
    `tabs`: what each started tab showed at the end; `left`: the local server's sessions
    still open after Stop."""
    samples = sampled.samples
    sessions_started = len(sampled.reconnects_at)
    steady = [s for s in samples if s["t_s"] >= WARMUP_S] or samples
    per_stream = fps_per_stream(steady, sampled)
    memory = memory_summary(steady)
    streams = found.streams
    return {
        "sessions": sessions,
        "browser_nice": browser_nice,
        "sessions_started": sessions_started,
        "tabs_not_loaded": not_started,
        "minutes": minutes,
        "fps_per_stream": per_stream,
        "e2e_ms": found.e2e_ms,
        # Per avatar session, frames a second after warm-up at each step of the server's side:
        # a stream short of 25 fps in the tab lost its frames where these fall short.
        "server_video_fps": sampled.server_video_fps,
        "memory_mb": memory["total"],
        "memory_growth_percent": memory["total"]["growth_percent"],
        "memory_mb_by_process": memory["by_process"],
        "streams": streams,
        # A conversation that recorded no voice turn at all never heard its microphone.
        "streams_without_voice_turns": sessions_started - len(streams),
        "tabs_at_end": tabs,
        "mic_pace_file_s": round(nominal_s, 2),
        "sessions_left_open": {"local_server": len(left), "store": found.open_rows},
        "samples": len(samples),
        "cpu_percent_of_one_core": sampled.cpu_percent,
        "targets": TARGETS,
        "meets_targets": {
            "fps": not not_started
            and all((s["median"] or 0) >= TARGETS["fps_per_stream"] for s in per_stream),
            "memory": memory["total"]["growth_percent"] is not None
            and memory["total"]["growth_percent"] <= TARGETS["memory_growth_percent"],
            "no_sessions_left": len(left) == 0 and found.open_rows == 0,
            "every_stream_heard": sessions_started > 0 and len(streams) == sessions_started,
            "every_turn_recorded": bool(streams) and all(s["turns_missed"] == 0 for s in streams),
        },
    }

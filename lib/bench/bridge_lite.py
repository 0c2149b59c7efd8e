"""The LITE path of `python -m lib bench bridge`: the model's audio streamed to the embedded
LiveAvatar LITE server in pieces, as LiveAvatar's own clients cut them, and as we do.

Per piece sizes (first / later, ms): ours (the Conversation page's default), LiveAvatar's web
SDK 0.0.18 (it slices the base64 text at 19,200 and 48,000 characters: 300 / 750 ms) and
LiveKit's plugin 1.8.9 (600 / 1,000 ms). For each, over the spoken concierge questions:
* first audio byte from the model → avatar talking (the embedded Realtime server sends each
  audio delta before its transcript, so a turn's first delta is its first audio);
* what the chunking adds: first audio byte → the first piece handed to the socket (waiting
  for it to fill), and the avatar side: that piece → the avatar's `speak_started`;
* audio sent against what the avatar reports: its speaking span ÷ the audio we sent.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any, Final

import pandas as pd

from lib.bridge.config import BridgeConfig
from lib.metrics.latency import median_of, p90_of
from lib.runtime.script import Script
from lib.runtime.sweep import Sweep, SweepPlan
from lib.store.database import Store
from lib.store.queries import audio_turn_timings, experiment_conversation_ids

AVATAR: Final = "local-liveavatar-lite"
PIECES: Final = {
    "ours": (200, 1000),
    "LiveAvatar web SDK": (300, 750),
    "LiveKit plugin": (600, 1000),
}
Progress = Callable[[str], None]


def _spread(xs: list[float]) -> dict[str, float | None]:
    return {"p50": median_of(xs), "p90": p90_of(xs)}


def lite_path(
    store: Store, script: Script, realtime_url: str, repeat: int, progress: Progress
) -> dict[str, Any]:
    bridges = tuple(
        BridgeConfig(mode="audio", audio_first_ms=first, audio_next_ms=later)
        for first, later in PIECES.values()
    )
    plan = SweepPlan(
        brain="local",
        avatar=AVATAR,
        bridges=bridges,
        script=script,
        repeat=repeat,
        local_brain_url=realtime_url,
        name="bench bridge LITE",
    )
    sweep = Sweep(store, plan, lambda p: progress(f"LITE {p.done}/{p.total} · {p.turn or ''}"))
    sweep.run()
    rows = audio_turn_timings(store, experiment_conversation_ids(store, sweep.experiment_id))
    out: dict[str, Any] = {}
    for (name, _), bridge in zip(PIECES.items(), bridges, strict=True):
        turns = [
            r
            for r in rows.to_dict("records")
            if r["chunking"] == bridge.label and pd.notna(r["avatar_start_at"])
        ]
        to_talking = [(r["avatar_start_at"] - r["first_delta_at"]) * 1000 for r in turns]
        filling = [(r["first_sent_at"] - r["first_delta_at"]) * 1000 for r in turns]
        avatar_side = [(r["avatar_start_at"] - r["first_sent_at"]) * 1000 for r in turns]
        ratio = [
            (r["avatar_stop_at"] - r["avatar_start_at"]) * 1000 / r["sent_audio_ms"]
            for r in turns
            if pd.notna(r["avatar_stop_at"]) and r["sent_audio_ms"]
        ]
        out[name] = {
            "pieces_ms": bridge.label.removeprefix("audio:"),
            "turns": len(turns),
            "first_audio_to_avatar_talking_ms": _spread(to_talking),
            "chunking_wait_ms": _spread(filling),
            "avatar_side_ms": _spread(avatar_side),
            "spoken_over_sent_median": round(statistics.median(ratio), 3) if ratio else None,
        }
    return {"avatar": AVATAR, "by_pieces": out, "experiment_id": sweep.experiment_id}

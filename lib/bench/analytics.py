"""`python -m lib bench analytics --json`: the Latency page's data preparation (turns with
every stage derived, percentiles with n, per-configuration medians, cost per session, KPIs)
for a seeded store of 10,000 turns in 500 sessions. Median of several runs (shared machine)."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any, Final

from lib.bench.seed_store import seed
from lib.metrics.analytics import latency_page_data
from lib.metrics.pricing.versions import load_tables
from lib.store.database import Store

TARGET_S: Final = 1.5
SESSIONS: Final = 500
TURNS: Final = 10_000


def run(
    *, seconds: float = 0.0, repeat: int = 5, progress: Callable[[str], None] = print
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"{tmp}/analytics.db")
        progress(f"seeding {SESSIONS} sessions, {TURNS} turns")
        t0 = time.perf_counter()
        counts = seed(store, sessions=SESSIONS, turns=TURNS, days=30)
        seeded_s = time.perf_counter() - t0
        tables = load_tables(store)
        runs = []
        data = None
        for n in range(max(3, repeat)):
            t0 = time.perf_counter()
            data = latency_page_data(store, tables)
            runs.append(time.perf_counter() - t0)
            progress(f"run {n + 1}: {runs[-1]:.3f} s")
        store.close()
    assert data is not None
    median = statistics.median(runs)
    return {
        "rows": counts,
        "seed_s": round(seeded_s, 3),
        "prepare_s_median": round(median, 3),
        "prepare_s_max": round(max(runs), 3),
        "runs": len(runs),
        "turns_prepared": len(data.turns),
        "sessions_costed": len(data.costs),
        "target_s": TARGET_S,
        "meets_target": median <= TARGET_S,
    }

"""`python -m lib bench analytics --json`: the Latency page's data preparation (turns with
every stage derived, percentiles with n, per-configuration medians, cost per session, KPIs)
for a seeded store of 10,000 turns in 500 sessions, and beside it all the page asks of the
store on a rerun (pricing tables, the filter bar's queries, the chosen session's cost per
turn). Median of several runs (shared machine). `bench store` runs it on both backends."""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any, Final

from lib.bench.seed_store import seed
from lib.metrics.analytics import latency_page_data, turn_costs
from lib.metrics.pricing.versions import load_tables
from lib.store.database import Store
from lib.store.queries import (
    Filters,
    conversation_choices,
    conversation_span,
    experiments,
    recorded_nothing,
)

TARGET_S: Final = 1.5
SESSIONS: Final = 500
TURNS: Final = 10_000


def run(
    *, seconds: float = 0.0, repeat: int = 5, progress: Callable[[str], None] = print
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"{tmp}/analytics.db")
        try:
            return measure_page_data(store, repeat=repeat, progress=progress)
        finally:
            store.close()


def latency_page_pass(store: Store) -> tuple[dict[str, float], int, int]:
    """What pages/latency.py asks of the store on a rerun, in its order, with the filter bar at
    its defaults (every recorded date) and the newest session chosen: seconds per step, turns
    prepared and sessions costed."""
    steps: dict[str, float] = {}
    t0 = time.perf_counter()
    tables = load_tables(store)  # store_and_tables_or_stop
    t1 = time.perf_counter()
    steps["pricing_tables"] = t1 - t0
    recorded_nothing(store)  # first_run
    conversation_choices(store)  # filter_bar's options
    experiments(store)
    lo, hi = conversation_span(store)
    today = dt.date.today()
    since = dt.date.fromtimestamp(lo) if lo is not None else today
    until = max(today, dt.date.fromtimestamp(hi)) if hi is not None else today
    filters = Filters(since=since, until=until)
    t2 = time.perf_counter()
    steps["filter_bar"] = t2 - t1
    data = latency_page_data(store, tables, filters)
    t3 = time.perf_counter()
    steps["latency_page_data"] = t3 - t2
    if not data.turns.empty:  # the session picker's first: the newest conversation
        newest = data.turns["conversation_id"].iloc[int(data.turns["conversation_at"].argmax())]
        turn_costs(store, tables, str(newest))
    steps["turn_costs"] = time.perf_counter() - t3
    return steps, len(data.turns), len(data.costs)


def measure_page_data(
    store: Store,
    *,
    sessions: int = SESSIONS,
    turns: int = TURNS,
    repeat: int = 5,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Seed the empty `store`, then time the page's store work (at least 3 runs):
    `prepare_s` is latency_page_data alone (what TARGET_S is for), `page_s` the whole pass."""
    progress(f"seeding {sessions} sessions, {turns} turns")
    t0 = time.perf_counter()
    counts = seed(store, sessions=sessions, turns=turns, days=30)
    seeded_s = time.perf_counter() - t0
    runs: list[dict[str, float]] = []
    prepared = costed = 0
    for n in range(max(3, repeat)):
        steps, prepared, costed = latency_page_pass(store)
        runs.append(steps)
        progress(
            f"run {n + 1}: latency_page_data {steps['latency_page_data']:.3f} s, "
            f"the page's store work {sum(steps.values()):.3f} s"
        )
    prepare = [r["latency_page_data"] for r in runs]
    median = statistics.median(prepare)
    return {
        "rows": counts,
        "seed_s": round(seeded_s, 3),
        "prepare_s_median": round(median, 3),
        "prepare_s_max": round(max(prepare), 3),
        "page_s_median": round(statistics.median(sum(r.values()) for r in runs), 3),
        "page_steps_s_median": {
            step: round(statistics.median(r[step] for r in runs), 3) for step in runs[0]
        },
        "runs": len(runs),
        "turns_prepared": prepared,
        "sessions_costed": costed,
        "target_s": TARGET_S,
        "meets_target": median <= TARGET_S,
    }

"""`python -m lib replay`: what other chunk strategies would have given on a recorded
experiment, replaying its answers' text deltas at their recorded times (no new sessions).
Where the experiment ran a strategy too, its measured figures and the prediction's error are
printed beside it; that prediction uses only the other configurations' turns.

    python -m lib replay --experiment dd769574 --chunking whole,sentence:20,clause:12 --json
"""

from __future__ import annotations

import argparse
import json
from typing import Final

from lib.bridge.chunking import StrategyError, parse_strategies, parse_strategy
from lib.bridge.config import BridgeMode
from lib.cli.fail import fail
from lib.runtime.whatif import (
    METRICS,
    ReplayError,
    WhatIf,
    find_experiment,
    recorded_turns,
    what_if,
)
from lib.store.database import StoreError, open_store

LABELS: Final = {
    "e2e_ms": "e2e ms",
    "first_piece_ms": "first piece ms",
    "chunks_per_turn": "chunks/turn",
    "model_ms": "model side ms",  # speech end → first delta: no strategy's doing
}
LEGEND: Final = (
    "first piece: first delta → first piece ready · model side: speech end → first delta, the "
    "same for any strategy (its run-to-run spread shows in the e2e error)"
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lib replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--experiment", required=True, help="its id (or the id's first characters)")
    parser.add_argument(
        "--chunking",
        help="strategies to try, comma separated (default: the ones the experiment ran)",
    )
    parser.add_argument("--bridge", choices=("text", "listen"), default="text")
    parser.add_argument("--json", action="store_true", help="JSON Lines, one per strategy")
    args = parser.parse_args(argv)
    try:
        strategies = parse_strategies(args.chunking) if args.chunking is not None else None
    except StrategyError as exc:
        return fail(f"--chunking: {exc}", 2)
    try:
        store = open_store()
        experiment = find_experiment(store, args.experiment)
    except (StoreError, ReplayError) as exc:
        return fail(f"replay: {exc}", 2)
    bridge: BridgeMode = args.bridge
    turns = recorded_turns(store, str(experiment["id"]))
    mine = [t for t in turns if t.bridge == bridge]
    if not any(t.answer is not None for t in mine):
        return fail(
            f"replay: experiment {str(experiment['id'])[:8]} ({experiment['name']}) has no "
            f"recorded text deltas of answered turns in {bridge} mode; replay needs a sweep with "
            f"--bridge {bridge} that finished some turns"
        )
    if strategies is None:
        ran = sorted({t.label.removeprefix("listen/") for t in mine})
        strategies = [parse_strategy(name) for name in ran]
    if not args.json:
        print(LEGEND)
    for result in what_if(turns, strategies, bridge):
        print(json.dumps(result.as_json(), sort_keys=True) if args.json else _human(result))
    return 0


def _cell(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _human(r: WhatIf) -> str:
    lines = [f"{r.label}  (predicted from {', '.join(r.sources) or 'no other configuration'})"]
    for metric in METRICS:
        digits = 2 if metric == "chunks_per_turn" else 0
        p = r.predicted.value(metric) if r.predicted else None
        m = r.measured.value(metric) if r.measured else None
        err = r.error(metric)
        said = f"  predicted {_cell(p, digits):>8}"
        if r.measured is not None:
            said += f"  measured {_cell(m, digits):>8}"
            if err is not None:
                rel = f" ({err['rel']:+.1%})" if err["rel"] is not None else ""
                # One more digit than the figures (and no "-0"): small errors are the point.
                said += f"  error {round(err['abs'] or 0.0, digits + 1) + 0.0:+.{digits + 1}f}{rel}"
        lines.append(f"  {LABELS[metric]:<15}{said}")
    n_p = r.predicted.turns if r.predicted else 0
    n_m = r.measured.turns if r.measured else 0
    lines.append(f"  turns: {n_p} replayed" + (f", {n_m} measured" if r.measured else ""))
    return "\n".join(lines)

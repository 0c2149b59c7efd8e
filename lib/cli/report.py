"""`python -m lib report --json [--pricing NAME] [--local-as PROVIDER]`: one summary per
recorded conversation — configuration, turns, minutes, median stages, cost by component."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from lib.cli.fail import fail
from lib.metrics.analytics import COST_COMPONENTS, session_costs, turns_frame
from lib.metrics.pricing.tables import PricingError
from lib.metrics.pricing.versions import load_tables
from lib.store.database import StoreError, open_store


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib report", description=__doc__)
    parser.add_argument("--pricing", help="price every session with this table")
    parser.add_argument(
        "--local-as", default="heygen", choices=("heygen", "liveavatar", "liveavatar_lite")
    )
    parser.add_argument("--json", action="store_true", help="JSON Lines, one per session")
    args = parser.parse_args(argv)
    try:
        store = open_store()
        tables = load_tables(store)
    except (StoreError, PricingError) as exc:
        return fail(f"report failed: {exc}")
    if args.pricing and args.pricing not in tables:
        parser.error(f"--pricing: no table {args.pricing!r}; known: {', '.join(sorted(tables))}")
    turns = turns_frame(store)
    costs = session_costs(store, tables, pricing=args.pricing, local_as=args.local_as, turns=turns)
    medians = (
        turns.groupby("conversation_id")[
            ["e2e_ms", "model_ttft_ms", "chunking_ms", "avatar_latency_ms"]
        ]
        .median()
        .round(1)
        if not turns.empty
        else None
    )
    for row in costs.to_dict("records"):
        cid = row["conversation_id"]
        summary = {
            "conversation_id": cid,
            "started": _clean(row["started"]),  # ISO 8601, UTC
            "config": row["config"],
            "avatar_provider": row["avatar_provider"],
            "brain_provider": row["brain_provider"],
            "experiment_id": _clean(row["experiment_id"]),
            "timing": row["timing"],
            "status": row["status"],
            "turns": row["turns"],
            "minutes": round(row["minutes"], 3),
            "median_ms": {
                k.removesuffix("_ms"): _clean(v)
                for k, v in (
                    medians.loc[cid].items() if medians is not None and cid in medians.index else []
                )
            },
            "cost_usd": {c: round(row[c], 5) for c in COST_COMPONENTS if row[c]},
            "total_usd": round(row["total_usd"], 5),
            "usd_per_min": _clean(round(row["usd_per_min"], 5) if row["usd_per_min"] else None),
            "pricing": row["pricing"],
            "estimated": bool(row["estimated"]),
        }
        if args.json:
            print(json.dumps(summary, sort_keys=True, allow_nan=False))
        else:
            print(
                f"{summary['started'][:16]} {summary['config']:<28} {summary['turns']:>3} turns "
                f"{summary['minutes']:>6.2f} min  ${summary['total_usd']:.4f}"
            )
    return 0

"""`python -m lib cost --pricing NAME --minutes N [--talk-ratio R] --json`: a monthly
projection, the plan that fits and its overage; for the seed's table, where its example's
assumptions do not hold, and the same month at today's list prices."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lib.cli.fail import fail
from lib.metrics.pricing.cost import projection
from lib.metrics.pricing.tables import PricingError, PricingTable, table_in_effect
from lib.metrics.pricing.versions import load_tables
from lib.store.database import StoreError, open_store

REALISTIC_TALK_RATIO = 0.5  # each side speaks about half of each minute in a conversation


def seed_caveats(result: dict[str, Any], table: PricingTable, latest: PricingTable) -> list[str]:
    notes = []
    plan = next((p for p in result["plans"] if p["plan"] == result["plan"]), None)
    if plan is not None and not plan["fits"]:
        notes.append(
            f"{plan['plan']} (${plan['monthly_usd']:g}) includes {plan['included_credits']:g} "
            f"minutes; {result['minutes']:g} minutes fit no listed plan (Enterprise is custom), so "
            f"the avatar line is a lower bound — {plan['note']}."
        )
    if result["talk_ratio"] >= 1 and result["model_output"] == "audio":
        notes.append(
            "Every minute is billed as a full minute of user audio and a full minute of model "
            "audio: two minutes of speech per minute. In a turn-taking conversation each side "
            f"speaks about {REALISTIC_TALK_RATIO:.0%} of the time."
        )
    if table.per_minute is not None:
        rt = latest.realtime.get("gpt-realtime")
        if rt is not None:
            now_in = 600 * rt.audio_in / 1e6
            now_out = 1200 * rt.audio_out / 1e6
            notes.append(
                f"${table.per_minute.audio_in:g}/${table.per_minute.audio_out:g} per minute are "
                "launch-era audio prices ($100/$200 per 1M tokens); "
                f"{latest.name} has ${rt.audio_in:g}/${rt.audio_out:g} per 1M, i.e. "
                f"${now_in:.4f}/${now_out:.4f} per minute."
            )
    if result["model_output"] == "audio":
        notes.append(
            "The seed recommends text → avatar: the avatar speaks, so model audio output is not "
            "billed at all (text output is, about 200 tokens per spoken minute)."
        )
    notes.append(
        "Not counted: the conversation re-sent to the model on every response (billed as "
        "cached input), instructions, and input transcription."
    )
    return notes


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib cost", description=__doc__)
    parser.add_argument("--pricing", help="a table name (default: the list table in effect)")
    parser.add_argument("--minutes", type=float, required=True, help="session minutes a month")
    parser.add_argument("--talk-ratio", type=float, help="share of each minute with speech")
    parser.add_argument("--avatar", choices=("heygen", "liveavatar", "liveavatar_lite"))
    parser.add_argument("--model", default="gpt-realtime")
    parser.add_argument("--output", choices=("text", "audio"), help="model answers in …")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        tables = load_tables(open_store())  # the saved versions live in the store
    except PricingError as exc:
        return fail(f"a pricing table is malformed: {exc}", 2)
    except StoreError as exc:
        return fail(f"cost failed: {exc}")
    if args.pricing and args.pricing not in tables:
        parser.error(f"--pricing: no table {args.pricing!r}; known: {', '.join(sorted(tables))}")
    table = tables[args.pricing] if args.pricing else table_in_effect(tables)
    if args.minutes < 0 or args.minutes > 10_000_000:
        parser.error("--minutes must be between 0 and 10,000,000")
    example = table.example
    talk = args.talk_ratio or (example.talk_ratio if example else REALISTIC_TALK_RATIO)
    if not 0 < talk <= 1:
        parser.error("--talk-ratio must be more than 0 and at most 1")
    output = args.output or (example.model_output if example else "text")
    avatar = args.avatar or (example.avatar if example else "heygen")
    try:
        result = projection(
            table, args.minutes, talk_ratio=talk, avatar=avatar, model=args.model, output=output
        )
    except ValueError as exc:
        parser.error(str(exc))
    if table.kind == "seed":
        latest = table_in_effect(tables)
        result["caveats"] = seed_caveats(result, table, latest)
        result["at_list_prices"] = projection(
            latest, args.minutes, talk_ratio=REALISTIC_TALK_RATIO, avatar="heygen", output="text"
        )
    result["sources"] = sorted(
        {e.source for e in (*table.realtime.values(), *table.avatar.values(), *table.plans)}
        | ({table.per_minute.source} if table.per_minute else set())
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['minutes']:g} min/month on {table.name}: ${result['total_usd']:.2f} "
            f"(avatar ${result['avatar_usd']:.2f} on {result['plan']}, model "
            f"${result['model_total_usd']:.2f}) · ${result['usd_per_minute']}/min"
        )
        for note in result.get("caveats", []):
            print(f"  - {note}")
    return 0

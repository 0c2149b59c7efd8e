"""`python -m lib reap [--json]`: stop the paid avatar sessions a crashed app left running
(from the provider's own session list, only sessions this store started), and mark the turns
and conversations it left open as interrupted."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from lib.cli.fail import fail
from lib.runtime.avatar_providers import default_factory
from lib.runtime.reaper import reap, reap_providers
from lib.store.database import StoreError, open_store


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib reap", description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        store = open_store()
    except StoreError as exc:
        return fail(f"reap failed: {exc}")
    providers = reap_providers()
    result = reap(store, default_factory, providers)
    out = {"providers": providers, **asdict(result)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        where = ", ".join(providers) or "no provider"
        print(
            f"stopped {len(result.sessions_stopped)} session(s) on {where}; "
            f"{result.sessions_gone} already gone; {result.turns_interrupted} turn(s) and "
            f"{result.conversations_ended} conversation(s) and {result.experiments_interrupted} "
            "sweep(s) marked interrupted"
        )
        for p in result.problems:
            print(f"  - {p}", file=sys.stderr)
    return 0

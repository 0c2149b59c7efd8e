"""`python -m lib bench <name> [--json]`: benchmarks print one JSON object."""

from __future__ import annotations

import argparse
import json
import sys

from lib.bench.pg_server import NoPostgres
from lib.cli.fail import fail
from lib.store.engine import StoreError

BENCHES = {
    "analytics": "lib.bench.analytics",
    "avatar": "lib.bench.avatar",
    "bridge": "lib.bench.bridge",
    "realtime": "lib.bench.realtime",
    "soak": "lib.bench.soak",
    "store": "lib.bench.store",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib bench")
    parser.add_argument("name", choices=sorted(BENCHES))
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--seconds", type=float, default=10.0, help="steady-state window")
    parser.add_argument("--repeat", type=int, default=5, help="samples or runs, where counted")
    parser.add_argument("--sessions", type=int, help="soak: concurrent browser sessions (4)")
    parser.add_argument("--minutes", type=float, help="soak: how long (10)")
    parser.add_argument(
        "--db-url",
        metavar="URL",
        help="store: a PostgreSQL server (postgresql://user:pass@host:port/db) to create its "
        "throwaway databases on (and drop after), instead of starting a local one",
    )
    parser.add_argument(
        "--browser-nice",
        type=int,
        help="soak: niceness of the browser tabs' scheduling group (5): the simulated users "
        "stand behind the servers under test on the machine they share; 0 puts them level",
    )
    args = parser.parse_args(argv)
    import importlib
    import inspect

    module = importlib.import_module(BENCHES[args.name])
    given = (
        ("sessions", args.sessions),
        ("minutes", args.minutes),
        ("browser_nice", args.browser_nice),
        ("db_url", args.db_url),
    )
    extra = {k: v for k, v in given if v is not None}
    unknown = set(extra) - set(inspect.signature(module.run).parameters)
    if unknown:
        flags = sorted(name.replace("_", "-") for name in unknown)
        parser.error(f"{args.name} takes no --{', --'.join(flags)}")
    try:
        result = module.run(
            seconds=args.seconds,
            repeat=args.repeat,
            progress=lambda msg: print(msg, file=sys.stderr, flush=True),
            **extra,
        )
    except (StoreError, NoPostgres) as exc:  # a database it cannot use: say which and why
        return fail(f"bench {args.name} failed: {exc}")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0

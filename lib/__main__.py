"""`python -m lib <command>`: serve, emulator, bench, sweep, replay, cost, report, reap, db."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "serve": "lib.cli.serve",
        "emulator": "lib.emulators.cli",
        "bench": "lib.cli.bench",
        "sweep": "lib.cli.sweep",
        "replay": "lib.cli.replay",
        "cost": "lib.cli.cost",
        "report": "lib.cli.report",
        "reap": "lib.cli.reap",
        "db": "lib.cli.db",
    }
    if not args or args[0] in {"-h", "--help"} or args[0] not in commands:
        print("usage: python -m lib {" + ",".join(commands) + "} ...", file=sys.stderr)
        return 0 if args and args[0] in {"-h", "--help"} else 2
    import importlib

    module = importlib.import_module(commands[args[0]])
    result: int = module.main(args[1:])
    return result


if __name__ == "__main__":
    sys.exit(main())

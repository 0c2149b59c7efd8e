"""`python -m lib sweep`: scripted conversations through the full pipeline, one JSON object per
configuration (JSON Lines with --json), a progress bar on stderr, everything in the store.

    python -m lib sweep --brain local --avatar local --bridge text \\
        --chunking whole,chars:50,sentence:20 --repeat 3 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, cast

from lib.bridge.chunking import StrategyError, parse_strategies
from lib.bridge.config import BRIDGE_MODES, BridgeMode
from lib.cli.fail import fail
from lib.core import config
from lib.runtime.instance import InstanceLease
from lib.runtime.script import DEMO_SCRIPT, ScriptError, load_script
from lib.runtime.sweep import Progress, Sweep, SweepPlan, configurations
from lib.store.database import StoreError, open_store

BAR = 28


def progress_bar(p: Progress) -> None:
    filled = BAR * p.done // max(1, p.total)
    line = (
        f"[{'#' * filled}{'.' * (BAR - filled)}] {p.done}/{p.total} turns · {p.config} "
        f"· run {p.repeat}"
        + (f" · {p.turn}" if p.turn else "")
        + (f" · {p.message}" if p.message else "")
    )
    end = "\r" if sys.stderr.isatty() else "\n"
    print(line[:160].ljust(160) if end == "\r" else line, end=end, file=sys.stderr, flush=True)


def _modes(text: str) -> list[BridgeMode] | None:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    if not modes or any(m not in BRIDGE_MODES for m in modes):
        return None
    return [cast(BridgeMode, m) for m in modes]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib sweep", description=__doc__)
    parser.add_argument("--brain", choices=("local", "openai"), default="local")
    parser.add_argument("--avatar", choices=tuple(config.PROVIDERS), default="local")
    parser.add_argument(
        "--bridge",
        default="text",
        help="text, audio, listen (the avatar hears), connector (LiveAvatar runs the voice "
        "model), or a list",
    )
    parser.add_argument("--chunking", default="whole,chars:50,sentence:20")
    parser.add_argument("--audio-first-ms", type=int, default=200)
    parser.add_argument("--audio-next-ms", type=int, default=1000)
    parser.add_argument("--script", help="a .toml or .txt script (default: the built-in demo)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--name", default="sweep", help="the experiment's name in the store")
    parser.add_argument(
        "--ttft-ms", type=float, help="embedded model: simulated time to first token"
    )
    parser.add_argument("--tokens-per-s", type=float, help="embedded model: simulated speed")
    parser.add_argument("--json", action="store_true", help="JSON Lines, one per configuration")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.repeat > 100:
        parser.error("--repeat must be between 1 and 100")
    try:
        strategies = parse_strategies(args.chunking)
        script = load_script(args.script) if args.script else DEMO_SCRIPT
    except (StrategyError, ScriptError) as exc:
        parser.error(str(exc))
    modes = _modes(args.bridge)
    if modes is None:
        parser.error(
            f"--bridge: use text, audio, listen, connector or a list like text,audio "
            f"(got {args.bridge!r})"
        )
    if not 40 <= args.audio_first_ms <= 4000 or not 100 <= args.audio_next_ms <= 4000:
        parser.error("--audio-first-ms must be 40–4000 and --audio-next-ms 100–4000")
    status = config.provider_status(args.avatar)
    if not status.usable:
        parser.error(f"--avatar {args.avatar}: {status.reason}")
    for mode in modes:
        try:
            config.check_bridge(args.avatar, mode)
        except config.ConfigError as exc:
            parser.error(f"--bridge {mode}: {exc}")
    if args.brain == "openai" and not config.resolve("OPENAI_API_KEY"):
        parser.error("--brain openai needs OPENAI_API_KEY (or use --brain local)")

    emulator = None
    if args.brain == "local" and (args.ttft_ms is not None or args.tokens_per_s is not None):
        from lib.emulators.launcher import start_emulator

        timing = []
        if args.ttft_ms is not None:
            timing += ["--ttft-ms", str(args.ttft_ms)]
        if args.tokens_per_s is not None:
            timing += ["--tokens-per-s", str(args.tokens_per_s)]
        emulator = start_emulator("realtime", *timing)
    try:
        store = open_store()
        plan = SweepPlan(
            brain=args.brain,
            avatar=args.avatar,
            bridges=configurations(
                modes,
                strategies,
                audio_first_ms=args.audio_first_ms,
                audio_next_ms=args.audio_next_ms,
            ),
            script=script,
            repeat=args.repeat,
            local_brain_url=emulator.base_url if emulator else None,
            name=args.name,
        )
        lease = InstanceLease(store).start()  # its jobs are reclaimed if this process dies
        try:
            results = Sweep(store, plan, progress_bar).run()
        finally:
            lease.stop()
    except (StoreError, config.ConfigError, RuntimeError, TimeoutError) as exc:
        return fail(f"\nsweep failed: {exc}")
    except KeyboardInterrupt:
        return fail("\nsweep interrupted; what ran so far is in the store", 130)
    finally:
        if emulator is not None:
            emulator.stop()
    print(file=sys.stderr)
    for result in results:
        print(json.dumps(result, sort_keys=True) if args.json else _human(result))
    return 0


def _human(r: dict[str, Any]) -> str:
    stages = r["stages"]

    def med(name: str) -> str:
        s = stages.get(name)
        return f"{s['median_ms']:.0f} ms (n={s['n']})" if s else "—"

    return (
        f"{r['config']:<22} turns {r['n_turns']:>3} · e2e {med('e2e')} · first piece "
        f"{med('chunking')} · ttft {med('model_ttft')} · chunks/turn {r['chunks_per_turn']}"
    )

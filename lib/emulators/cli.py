"""`python -m lib emulator heygen [options]`: serve the HeyGen v1 + LiveAvatar emulator.
`python -m lib emulator realtime [options]`: serve the local OpenAI Realtime (GA) API.

Prints exactly one stdout line, `AVATARLAB_EMULATOR_READY port=<port>`, once it accepts
connections (with `--port 0` the OS picks a free port and that line reports it). It exits by
itself when its parent process goes away, so a crashed app never leaves an orphan server.

With `--api-key K` or AVATARLAB_EMULATOR_KEY=K in its environment (how the app passes a key:
other local users can read a command line, not an environment) it accepts only K, on every
route and on `/_control/*`; without one it accepts any non-empty key.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn

from lib.emulators import faults
from lib.emulators.avatar_app import create_app
from lib.emulators.launcher import KEY_ENV
from lib.emulators.rooms.sessions import EmulatorConfig

READY_PREFIX = "AVATARLAB_EMULATOR_READY"
# The real services close audio sockets over 1 MB (agent.speak packets); clients of the room
# send only small JSON, so one limit fits every websocket here.
WS_MAX_MESSAGE = 1_000_000
PARENT_POLL_S = 0.5
# Realtime `input_audio_buffer.append` events may carry up to 15 MiB of base64 audio.
REALTIME_WS_MAX_MESSAGE = 16 * 1024 * 1024
# Each server's own numeric options: flag, type, default, help.
AVATAR_SERVER_NUMBERS: tuple[tuple[str, type, float | None, str], ...] = (
    (
        "--concurrency-limit",
        int,
        3,
        "open sessions per API before 'Concurrent limit reached' (default 3, HeyGen trial)",
    ),
    (
        "--idle-timeout",
        float,
        None,
        "idle timeout in seconds for sessions that do not set one "
        "(default: HeyGen 120, LiveAvatar 300); small values like 2 are allowed for tests",
    ),
    (
        "--session-duration-limit",
        float,
        600.0,
        "hard cap on a session's length in seconds (default 600)",
    ),
    (
        "--sandbox-duration",
        float,
        60.0,
        "LiveAvatar is_sandbox session length in seconds (default 60)",
    ),
)
REALTIME_NUMBERS: tuple[tuple[str, type, float | None, str], ...] = (
    ("--ttft-ms", float, 300.0, "simulated time to first token in ms (default 300)"),
    (
        "--tokens-per-s",
        float,
        30.0,
        "simulated output speed in tokens per second; 0 = no pacing (default 30)",
    ),
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lib emulator", description="Local emulators of avatar services."
    )
    sub = parser.add_subparsers(dest="service", required=True)
    hg = sub.add_parser(
        "heygen",
        help="HeyGen Interactive Avatar v1 + LiveAvatar API with a local media room",
    )
    _add_listen_args(hg, 8710)
    _add_numbers(hg, AVATAR_SERVER_NUMBERS)
    hg.add_argument(
        "--openai-base-url",
        default=None,
        help="where LiveAvatar's OpenAI Realtime connector sessions open their voice model "
        "(e.g. the embedded Realtime server's URL; default: the connector is refused)",
    )
    _add_process_args(hg)
    _add_realtime_parser(sub)
    return parser


def _add_realtime_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rt = sub.add_parser("realtime", help="OpenAI Realtime (GA) WebSocket API at /v1/realtime")
    _add_listen_args(rt, 8720)
    _add_numbers(rt, REALTIME_NUMBERS)
    rt.add_argument(
        "--stt-engine",
        choices=("auto", "whisper", "pocketsphinx"),
        default="auto",
        help="speech-to-text engine (default auto: Whisper, else pocketsphinx)",
    )
    _add_process_args(rt)


def _add_numbers(
    service: argparse.ArgumentParser, numbers: tuple[tuple[str, type, float | None, str], ...]
) -> None:
    for flag, kind, default, help_text in numbers:
        service.add_argument(flag, type=kind, default=default, help=help_text)


def _add_listen_args(service: argparse.ArgumentParser, default_port: int) -> None:
    """Where each emulator listens and which key it accepts (its first options)."""
    service.add_argument(
        "--port",
        type=int,
        default=default_port,
        help=f"0 picks a free port (default {default_port})",
    )
    service.add_argument(
        "--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)"
    )
    service.add_argument(
        "--api-key",
        default=None,
        help=f"accept only this key (default: ${KEY_ENV}, else any non-empty key)",
    )


def _add_process_args(service: argparse.ArgumentParser) -> None:
    """How each emulator runs as a child process (its last options)."""
    service.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="exit when this process ends (default: when the parent process ends)",
    )
    service.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault: KIND[:VALUE][@PATH][*TIMES] (repeatable; lib/emulators/faults.py; "
        "also POST /_control/faults)",
    )
    service.add_argument(
        "--log-level", default="warning", help="uvicorn log level (default warning)"
    )


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise SystemExit(
        f"--host {host!r} is not a loopback address: the emulator accepts any key and must "
        "not be reachable from other machines (use 127.0.0.1)"
    )


def _url_host(host: str) -> str:
    """The host as it stands in a URL (an IPv6 address in brackets)."""
    return host if ":" not in host else f"[{host}]"


def _key_note(args: argparse.Namespace) -> str:
    return "only its key" if args.api_key else "any non-empty key"


def _take_key(args: argparse.Namespace) -> None:
    """`--api-key`, else the key the launcher put in our environment; taken out of the
    environment so that nothing we start inherits it."""
    from_env = os.environ.pop(KEY_ENV, "")
    args.api_key = args.api_key or from_env or None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _parent_gone(original_ppid: int, parent_pid: int | None) -> bool:
    if os.getppid() != original_ppid:
        return True  # re-parented: whoever started us has died
    if parent_pid is None:
        return False
    try:
        os.kill(parent_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, just not ours to signal
    return False


async def _watch_parent(server: uvicorn.Server, original_ppid: int, parent_pid: int | None) -> None:
    while not server.should_exit:
        if _parent_gone(original_ppid, parent_pid):
            server.should_exit = True
            # Our output pipe may have died with the parent: telling must not stop the exit.
            with contextlib.suppress(OSError):
                print("emulator: parent process ended; shutting down", file=sys.stderr)
            return
        await asyncio.sleep(PARENT_POLL_S)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


async def _return_freed_memory(server: uvicorn.Server) -> None:
    """glibc keeps the memory of large transient buffers (1 MB websocket messages, video
    frames) in its heaps once freed, so a flood of big messages left the process ~50 MB larger
    for good; handing free pages back every few seconds (~1 ms, off the loop) keeps it as it
    was. Nothing is freed that is in use."""
    trim = _malloc_trim()
    if trim is None:
        return
    while not server.should_exit:
        await asyncio.sleep(TRIM_INTERVAL_S)
        await asyncio.to_thread(trim, 0)


def _server(app: Any, log_level: str, ws_max_size: int) -> uvicorn.Server:
    """Both local servers: loopback, no access log, no websocket compression (raw media
    frames don't deflate, and the openai SDK turns compression off anyway)."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            log_level=log_level,
            access_log=False,
            lifespan="on",
            ws_max_size=ws_max_size,
            ws_per_message_deflate=False,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
    )


def _run(
    server: uvicorn.Server, sock: socket.socket, original_ppid: int, parent_pid: int | None
) -> int:
    try:
        return asyncio.run(_serve(server, sock, original_ppid, parent_pid))
    except KeyboardInterrupt:
        return 130  # Ctrl-C: uvicorn shut down cleanly, then re-raised the signal


async def _serve(
    server: uvicorn.Server, sock: socket.socket, original_ppid: int, parent_pid: int | None
) -> int:
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()  # re-raise a startup failure
            return 1
        await asyncio.sleep(0.02)
    port = sock.getsockname()[1]
    print(f"{READY_PREFIX} port={port}", flush=True)
    watchdog = asyncio.create_task(_watch_parent(server, original_ppid, parent_pid))
    trimmer = asyncio.create_task(_return_freed_memory(server))
    try:
        await serving
    finally:
        watchdog.cancel()
        trimmer.cancel()
    return 0


def _install_faults(specs: list[str]) -> None:
    for spec in specs:
        try:
            fault = faults.parse_fault(spec)
        except faults.FaultError as exc:
            raise SystemExit(f"--fault {exc}") from None
        if fault.kind == "idle_expiry":
            raise SystemExit("--fault idle_expiry is an action: POST it to /_control/faults")
        faults.FAULTS.add(fault)


GIL_SWITCH_INTERVAL_S = 0.001
TRIM_INTERVAL_S = 2.0  # how often freed heap memory goes back to the system
# Idle keep-alive connections stay open this long, like the real APIs' front ends (≥ 60 s).
# uvicorn's default (5 s) equals httpx's pool expiry, so a request sent on a connection 5 s
# idle raced the server's close and failed with ReadError. Longer than the client's expiry, the
# client closes first.
KEEP_ALIVE_S = 75


def main(argv: list[str] | None = None) -> int:
    # Taken first thing: a parent that dies right after reading READY must still be noticed.
    original_ppid = os.getppid()
    args = _parser().parse_args(argv)
    _take_key(args)
    # A task's speech starts once synthesis is done, and synthesis hands the GIL back and forth
    # with the media loop and the frame renderer (every eSpeak call and callback): at Python's
    # 5 ms default each handoff may wait that long.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    host = _loopback(args.host)
    _install_faults(args.fault)
    if args.service == "realtime":
        return _main_realtime(args, host, original_ppid)
    if args.concurrency_limit < 1:
        raise SystemExit("--concurrency-limit must be at least 1")
    if args.idle_timeout is not None and args.idle_timeout <= 0:
        raise SystemExit("--idle-timeout must be positive")
    sock = _bind(host, args.port)
    port = sock.getsockname()[1]
    config = EmulatorConfig(
        host=_url_host(host),
        port=port,
        api_key=args.api_key,
        concurrency_limit=args.concurrency_limit,
        idle_timeout_s=args.idle_timeout,
        session_duration_limit_s=args.session_duration_limit,
        sandbox_duration_s=args.sandbox_duration,
        openai_base_url=args.openai_base_url,
    )
    server = _server(create_app(config), args.log_level, WS_MAX_MESSAGE)
    print(
        f"emulator: HeyGen v1 + LiveAvatar on {config.http_base} (accepts {_key_note(args)})",
        file=sys.stderr,
    )
    return _run(server, sock, original_ppid, args.parent_pid)


def _main_realtime(args: argparse.Namespace, host: str, original_ppid: int) -> int:
    from lib.emulators.realtime.app import RealtimeServerConfig
    from lib.emulators.realtime.app import create_app as realtime_app
    from lib.emulators.realtime.model import ModelTiming

    if args.ttft_ms < 0 or args.tokens_per_s < 0:
        raise SystemExit("--ttft-ms and --tokens-per-s must not be negative")
    sock = _bind(host, args.port)
    config = RealtimeServerConfig(
        api_key=args.api_key,
        timing=ModelTiming(ttft_ms=args.ttft_ms, tokens_per_s=args.tokens_per_s),
        stt_engine=args.stt_engine,
    )
    app = realtime_app(config)
    faults.lock_control(app, args.api_key)  # the avatar app locks its own in create_app
    server = _server(app, args.log_level, REALTIME_WS_MAX_MESSAGE)
    print(
        f"emulator: OpenAI Realtime (GA) on ws://{_url_host(host)}:{sock.getsockname()[1]}"
        f"/v1/realtime (accepts {_key_note(args)}; simulated ttft {args.ttft_ms:g} ms, "
        f"{args.tokens_per_s:g} tokens/s)",
        file=sys.stderr,
    )
    return _run(server, sock, original_ppid, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())

"""Start a local server the way a user would (`python -m lib emulator …`) on a free loopback
port, and stop it when this process exits. The server also exits if we die (--parent-pid).

The app's own servers are locked with a fresh key that only this process knows. It reaches the
child through its environment, never its argv (other local users can read any process's
command line in /proc; its environment only its owner can)."""

from __future__ import annotations

import atexit
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

READY_PREFIX = "AVATARLAB_EMULATOR_READY"
KEY_ENV = "AVATARLAB_EMULATOR_KEY"  # the only key a server accepts (`--api-key` by hand)
# A server the app did not start (AVATARLAB_LOCAL_HEYGEN_URL / _REALTIME_URL) is called with
# this variable's key, or with the default below (a server started without a key takes any).
LOCAL_KEY_ENV = "AVATARLAB_LOCAL_KEY"
DEFAULT_LOCAL_KEY = "local-embedded"


class EmulatorError(RuntimeError):
    pass


@dataclass
class EmulatorProcess:
    kind: str
    port: int
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    api_key: str | None = field(default=None, repr=False)  # None: the server takes any key

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


def start_emulator(
    kind: str, *extra: str, timeout: float = 60.0, api_key: str | None = None
) -> EmulatorProcess:
    """`api_key`: the only key the server accepts (None: any non-empty key)."""
    cmd = [
        sys.executable,
        "-m",
        "lib",
        "emulator",
        kind,
        "--port",
        "0",
        "--parent-pid",
        str(os.getpid()),
        *extra,
    ]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}  # never a key meant for another
    if api_key:
        env[KEY_ENV] = api_key
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line.rstrip())
            del output[:-200]  # keep the tail for error messages only
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name=f"emulator-{kind}-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            proc.kill()
            raise EmulatorError(f"the local {kind} server did not start within {timeout:.0f} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            tail = "\n".join(output[-10:])
            raise EmulatorError(f"the local {kind} server exited while starting:\n{tail}")
        if line.startswith(READY_PREFIX):
            port = int(line.split("port=")[1].split()[0])
            emu = EmulatorProcess(kind, port, proc, output, api_key or None)
            atexit.register(emu.stop)
            return emu


_shared: dict[str, EmulatorProcess] = {}
_lock = threading.Lock()


def shared_emulator(kind: str) -> EmulatorProcess:
    """One server of each kind per app process, restarted if it died, locked with a fresh key
    (any other local process or web page that finds its port still cannot use it)."""
    extra: tuple[str, ...] = ()
    if kind == "heygen":
        # LiveAvatar's OpenAI Realtime connector sessions talk to the embedded Realtime server
        # (resolved before taking the lock: it may start that server).
        realtime_url, _ = local_server("realtime", os.environ.get("AVATARLAB_LOCAL_REALTIME_URL"))
        extra = ("--openai-base-url", realtime_url)
    with _lock:
        emu = _shared.get(kind)
        if emu is None or not emu.alive():
            emu = start_emulator(kind, *extra, api_key=secrets.token_urlsafe(32))
            _shared[kind] = emu
        return emu


def local_server(kind: str, base_url: str | None) -> tuple[str, str]:
    """(base URL, key) of the local `kind` server the app should call: the one at `base_url`
    (key from AVATARLAB_LOCAL_KEY, else the default), or else the app's own shared one."""
    if base_url:
        return base_url, os.environ.get(LOCAL_KEY_ENV) or DEFAULT_LOCAL_KEY
    emu = shared_emulator(kind)
    assert emu.api_key is not None  # shared servers are always started with a key
    return emu.base_url, emu.api_key

"""Start a local server the way a user would (`python -m lib emulator …`) on a free loopback
port, and stop it when this process exits. The server also exits if we die (--parent-pid)."""

from __future__ import annotations

import atexit
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

READY_PREFIX = "AVATARLAB_EMULATOR_READY"


class EmulatorError(RuntimeError):
    pass


@dataclass
class EmulatorProcess:
    kind: str
    port: int
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

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


def start_emulator(kind: str, *extra: str, timeout: float = 60.0) -> EmulatorProcess:
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
    proc = subprocess.Popen(
        cmd,
        cwd=root,
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
            emu = EmulatorProcess(kind, port, proc, output)
            atexit.register(emu.stop)
            return emu


_shared: dict[str, EmulatorProcess] = {}
_lock = threading.Lock()


def shared_emulator(kind: str) -> EmulatorProcess:
    """One server of each kind per app process, restarted if it died."""
    with _lock:
        emu = _shared.get(kind)
        if emu is None or not emu.alive():
            emu = start_emulator(kind)
            _shared[kind] = emu
        return emu

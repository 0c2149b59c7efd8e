"""Real Streamlit app + Debian's Chromium driven by Playwright (no browser download).
Used by the browser tests and the benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]  # the repository
CHROMIUM = "/usr/bin/chromium"


def user_chromium(tmp: Path, nice: int = 0) -> str:
    """The Chromium to launch for a benchmark's simulated users: one that runs as an ordinary
    user's browser does, optionally behind the servers under test (`nice` > 0).

    Run as root (as CI and this sandbox do), Chromium raises its own threads' priority: nice
    -8 for the compositor, media and WebRTC threads, real-time scheduling for audio. A user's
    browser lacks that privilege, and on a shared machine the boost made four tabs outrank
    the servers under test six to one. Without CAP_SYS_NICE (dropped by util-linux's setpriv)
    those calls fail and every thread stays at nice 0.

    `nice` stands the tabs back for a machine that hosts both the simulated users and the
    servers, which on a deployment run on different machines. Playwright starts Chromium in
    a session of its own, and with the kernel's autogroup scheduling (on by default) a
    session is one scheduling group: at nice 0 the browser got half of a 2-core machine
    however many threads the servers ran, and the nice of its own threads changed nothing
    (`--browser-nice` 10 on them did not help). So the wrapper sets the nice of that group,
    if it leads its own session, and of the browser's threads (what counts where autogroup
    is off)."""
    setpriv = shutil.which("setpriv")
    root = os.geteuid() == 0 and setpriv is not None
    if not root and nice <= 0:
        return CHROMIUM
    lines = ["#!/bin/sh"]
    if nice > 0:
        lines += [
            # Field 6 of stat is the session: only a session leader's group is the browser's.
            f'[ "$(cut -d" " -f6 /proc/$$/stat)" = "$$" ] && [ -w /proc/self/autogroup ] '
            f"&& echo {nice} > /proc/self/autogroup",
        ]
    drop_nice = f"{setpriv} --inh-caps=-sys_nice --bounding-set=-sys_nice " if root else ""
    lines.append(f'exec nice -n {max(0, nice)} {drop_nice}{CHROMIUM} "$@"')
    wrapper = tmp / "chromium-as-user"
    wrapper.write_text("\n".join(lines) + "\n")
    wrapper.chmod(0o755)
    return str(wrapper)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
]
# Keep every RTCPeerConnection reachable so tests can read getStats().
PC_SPY = """
(() => {
  const Orig = window.RTCPeerConnection;
  if (!Orig || Orig.__spied) return;
  window.__pcs = [];
  function Spy(...args) { const pc = new Orig(...args); window.__pcs.push(pc); return pc; }
  Spy.prototype = Orig.prototype; Spy.__spied = true;
  Object.setPrototypeOf(Spy, Orig);
  window.RTCPeerConnection = Spy;
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def end_process(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace_s`."""
    proc.terminate()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@dataclass
class App:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def streamlit_app(
    tmp: Path, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[App]:
    """The app on 127.0.0.1, started as `make run` starts it, its store in `tmp`. `env` adds to
    the environment (e.g. STREAMLIT_SECRETS_FILES for secrets of its own); `port` when the
    caller must know it beforehand (e.g. for a sign-in redirect URI), else a free one."""
    port = port or free_port()
    log_path = tmp / "streamlit.log"
    full_env = {**os.environ, "AVATARLAB_DB": str(tmp / "avatarlab.db"), **(env or {})}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lib",
                "serve",  # as `make run` starts it
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    app = App(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited:\n{app.log()[-3000:]}")
            try:
                if httpx.get(f"{app.url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("streamlit did not become healthy in 60 s")
            time.sleep(0.2)
        yield app
    finally:
        end_process(proc, 15)

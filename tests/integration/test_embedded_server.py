"""The app starts the embedded server itself, locked with a key only it knows, and the server
never outlives the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from lib.bench.harness import ROOT

pytestmark = pytest.mark.integration

SPAWN = """
import asyncio, time
from lib.avatar.providers import build_provider
provider = build_provider("local")
print(provider.api.base_url, flush=True)
print(len(asyncio.run(provider.api.list_avatars())), flush=True)  # the app's own key works
time.sleep(120)
"""


def test_local_provider_starts_its_server_and_a_killed_app_leaves_no_orphan():
    env = {k: v for k, v in os.environ.items() if k != "AVATARLAB_LOCAL_HEYGEN_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SPAWN], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert int(proc.stdout.readline()) > 0
        # Anyone else who finds the port is refused, whatever key they guess.
        for guess in ("k", "local-embedded"):
            listed = httpx.get(f"{base_url}/v1/streaming/avatar.list", headers={"x-api-key": guess})
            assert listed.status_code == 401
        proc.send_signal(signal.SIGKILL)  # no atexit, no cleanup: the server must notice
        proc.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base_url}/v1/streaming.list", timeout=0.5)
            except httpx.TransportError:
                return
            time.sleep(0.2)
        pytest.fail("the embedded server outlived the app that started it")
    finally:
        if proc.poll() is None:
            proc.kill()

"""LiveAvatar's published web SDK (`@heygen/liveavatar-web-sdk`, pinned in
tests/clients/liveavatar-web-sdk) against the embedded LiveAvatar server, driven by node."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lib.emulators.launcher import EmulatorProcess
from tests.integration.test_liveavatar_server import LiveAvatar

CLIENT = Path(__file__).resolve().parents[1] / "clients" / "liveavatar-web-sdk"


@pytest.fixture(scope="module")
def sdk_run(keyed_emulator: EmulatorProcess) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is needed for LiveAvatar's web SDK test (make test installs it)"
    assert (CLIENT / "node_modules" / "@heygen" / "liveavatar-web-sdk").is_dir(), (
        "run `make test` (it runs `npm ci` in tests/clients/liveavatar-web-sdk)"
    )
    api = LiveAvatar(keyed_emulator.base_url, "test-key")
    try:
        lite = api.token(mode="LITE")["session_token"]
        full = api.token(mode="FULL")["session_token"]
        head, body, _ = lite.split(".")
        env = {
            **os.environ,
            "LA_API_URL": keyed_emulator.base_url,
            "LA_LITE_TOKEN": lite,
            "LA_FULL_TOKEN": full,
            "LA_BAD_TOKEN": f"{head}.{body}.forged-signature",
        }
        done = subprocess.run(
            [node, "drive.mjs"], cwd=CLIENT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["active_after"] = {
            s["id"]
            for s in api.http.get("/v1/sessions", params={"type": "active"}).json()["data"][
                "results"
            ]
        }
        return result
    finally:
        api.cleanup()


def test_the_sdk_reads_each_sessions_mode_from_its_token(sdk_run: dict[str, Any]) -> None:
    assert sdk_run["modes"]["lite"]["mode"] == "LITE"
    assert sdk_run["modes"]["full"] == {"mode": "FULL", "agentType": "FULL"}


def test_a_lite_session_starts_keeps_alive_and_stops(sdk_run: dict[str, Any]) -> None:
    lite = sdk_run["lite"]
    assert lite["state_after_start"] == "CONNECTED"
    keep_alive = {"path": "/v1/sessions/keep-alive", "method": "POST", "status": 200}
    assert lite["keep_alive"] == keep_alive
    assert lite["state_after_stop"] == "DISCONNECTED"
    assert lite["stop"] == {"path": "/v1/sessions/stop", "method": "POST", "status": 200}
    assert lite["session_id"] not in sdk_run["active_after"]


def test_a_reply_is_one_speaking_span_as_long_as_its_audio(sdk_run: dict[str, Any]) -> None:
    """The SDK sends 1.5 s as three chunks (300 ms, 750 ms, 450 ms), each with a fresh id."""
    reply = sdk_run["lite"]["reply"]
    assert reply["events"] == ["started", "ended"]
    assert reply["started_after_ms"] < 500
    assert 1300 < reply["spoken_ms"] < 2200


def test_interrupt_ends_the_speaking_span_within_half_a_second(sdk_run: dict[str, Any]) -> None:
    interrupt = sdk_run["lite"]["interrupt"]
    assert interrupt["events"] == ["started", "ended"]
    assert interrupt["ended_after_ms"] < 500


def test_a_full_session_starts_and_stops(sdk_run: dict[str, Any]) -> None:
    assert sdk_run["full"]["state_after_start"] == "CONNECTED"
    assert sdk_run["full"]["stop"]["status"] == 200
    assert sdk_run["full"]["session_id"] not in sdk_run["active_after"]


def test_a_refused_call_raises_the_sdks_own_error(sdk_run: dict[str, Any]) -> None:
    refused = sdk_run["refused"]
    assert refused["class"] == "SessionApiError"
    assert (refused["status"], refused["errorCode"]) == (401, 401)
    assert refused["message"].startswith("Unauthorized")
    assert refused["state"] == "DISCONNECTED"
    # Nothing else went wrong: the only unhandled refusal is that start's own clean-up stop.
    assert [u["status"] for u in sdk_run["unhandled"]] == [401]

"""LiveKit's LiveAvatar plugin (`livekit-plugins-liveavatar`, pinned in
tests/clients/liveavatar-plugin, in a venv of its own) against the embedded LiveAvatar server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lib.emulators.launcher import EmulatorProcess
from tests.integration.conftest import TEST_KEY
from tests.integration.test_heygen_server import AVATAR
from tests.integration.test_liveavatar_server import LiveAvatar

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "tests" / "clients" / "liveavatar-plugin"
PYTHON = ROOT / ".venv-liveavatar-plugin" / "bin" / "python"


@pytest.fixture(scope="module")
def plugin_run(keyed_emulator: EmulatorProcess) -> dict[str, Any]:
    assert PYTHON.exists(), "run `make test` (it builds .venv-liveavatar-plugin)"
    env = {
        **os.environ,
        "LA_API_URL": keyed_emulator.base_url,
        "LA_API_KEY": TEST_KEY,
        "LA_AVATAR_ID": AVATAR,
    }
    done = subprocess.run(
        [str(PYTHON), "drive.py"], cwd=CLIENT, env=env, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    api = LiveAvatar(keyed_emulator.base_url, TEST_KEY)
    try:
        historic = api.http.get("/v1/sessions", params={"type": "historic"}).json()["data"]
        result["ended"] = {s["id"]: s for s in historic["results"]}
    finally:
        api.cleanup()
    return result


def test_a_reply_streamed_in_fresh_id_chunks_plays_out_as_one(plugin_run: dict[str, Any]) -> None:
    """The plugin sends 0.6 s then 0.9 s, each chunk and the speak_end under a new id: the
    avatar reports one reply, and the plugin's playout ends when all of it has played."""
    reply = plugin_run["reply"]
    assert reply["interrupted"] is False and reply["position_s"] == pytest.approx(1.5)
    assert reply["started_at"] - reply["sent_at"] < 500
    assert 1300 < reply["finished_at"] - reply["started_at"] < 2200
    kinds = [kind for _, kind in plugin_run["heard"]]
    first_reply = kinds[: kinds.index("agent.speak_ended") + 1]
    assert first_reply.count("agent.speak_started") == 1
    assert first_reply.count("agent.audio_buffer_appended") == 2
    assert first_reply.count("agent.audio_buffer_committed") == 1
    assert "error" not in kinds and "warning" not in kinds  # keep-alives and listening taken


def test_a_barge_in_stops_the_avatar_within_half_a_second(plugin_run: dict[str, Any]) -> None:
    cut = plugin_run["interrupt"]
    assert cut["interrupted"] is True
    after = [(at, kind) for at, kind in plugin_run["heard"] if at >= cut["cut_at"]]
    for kind in ("agent.speak_interrupted", "agent.audio_buffer_cleared"):
        first = next(at for at, k in after if k == kind)  # the server's answer to this cut
        assert 0 <= first - cut["cut_at"] < 500, (kind, first - cut["cut_at"])


def test_closing_the_agent_stops_the_session(plugin_run: dict[str, Any]) -> None:
    ended = plugin_run["ended"][plugin_run["session_id"]]
    assert (ended["status"], ended["end_reason"]) == ("CLOSED", "USER_DISCONNECTED")


def test_a_refused_key_raises_the_plugins_own_error(plugin_run: dict[str, Any]) -> None:
    assert plugin_run["refused"] == {"class": "APIStatusError", "status": 401}

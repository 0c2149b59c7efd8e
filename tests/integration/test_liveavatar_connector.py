"""LiveAvatar's OpenAI Realtime connector on the embedded server, for real: a secret and a
context stored through their endpoints, a LITE token with `openai_realtime_config`, and the
server running its own Realtime session against the embedded Realtime server. A question
spoken into the room is heard, answered and lip-synced; the room gets the events."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lib.emulators.launcher import EmulatorProcess
from lib.wire import localroom
from tests.integration.conftest import TEST_KEY
from tests.integration.test_heygen_server import Viewer, async_test, peak
from tests.integration.test_liveavatar_server import LiveAvatar, jwt_payload

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
WEB_SDK = Path(__file__).resolve().parents[1] / "clients" / "liveavatar-web-sdk"


@pytest.fixture
def api(local_heygen: EmulatorProcess) -> Iterator[LiveAvatar]:
    """The run's embedded avatar server, its connector pointed at the run's Realtime server
    (tests/conftest.py)."""
    client = LiveAvatar(local_heygen.base_url, TEST_KEY)
    yield client
    client.cleanup()


def connector_token(api: LiveAvatar, **config: Any) -> dict[str, Any]:
    secret = api.http.post(
        "/v1/secrets",
        json={"secret_type": "OPENAI_API_KEY", "secret_name": "voice", "secret_value": "sk-x"},
    ).json()["data"]
    context = api.http.post(
        "/v1/contexts",
        json={
            "name": "concierge",
            "prompt": "persona:concierge You answer questions about the service.",
            "opening_text": "Hello!",
        },
    ).json()["data"]
    cfg = {"secret_id": secret["id"], "context_id": context["id"], "voice": "marin", **config}
    return api.token(mode="LITE", openai_realtime_config=cfg)


def test_secrets_never_show_their_value_and_bad_configs_are_refused(api: LiveAvatar) -> None:
    made = api.http.post(
        "/v1/secrets",
        json={"secret_type": "OPENAI_API_KEY", "secret_name": "k", "secret_value": "sk-marker"},
    )
    assert made.status_code == 200 and made.json()["code"] == 1000
    listed = api.http.get("/v1/secrets")
    assert "sk-marker" not in made.text + listed.text
    assert made.json()["data"]["id"] in {s["id"] for s in listed.json()["data"]["results"]}
    refusals = [
        ({"secret_id": "nope"}, 404, "Secret nope not found"),
        ({"secret_id": made.json()["data"]["id"], "context_id": "nope"}, 404, "Context nope"),
        ({"secret_id": made.json()["data"]["id"], "temperature": 2}, 422, ""),
        ({"secret_id": made.json()["data"]["id"], "voice": "robot"}, 422, ""),
    ]
    for cfg, status, says in refusals:
        resp = api.http.post(
            "/v1/sessions/token",
            json={"mode": "LITE", "avatar_id": api_avatar(api), "openai_realtime_config": cfg},
        )
        assert resp.status_code == status and says in resp.text, resp.text
    full = api.http.post(
        "/v1/sessions/token",
        json={
            "mode": "FULL",
            "avatar_id": api_avatar(api),
            "openai_realtime_config": {"secret_id": made.json()["data"]["id"]},
        },
    )
    assert full.status_code == 400 and "LITE" in full.json()["message"]
    gone = api.http.delete(f"/v1/secrets/{made.json()['data']['id']}")
    assert gone.json()["code"] == 1000
    assert api.http.delete(f"/v1/secrets/{made.json()['data']['id']}").status_code == 404


def api_avatar(api: LiveAvatar) -> str:
    return str(api.http.get("/v1/avatars/public").json()["data"]["results"][0]["id"])


def test_the_web_sdk_reads_a_connector_token_as_openai_realtime(api: LiveAvatar) -> None:
    token = connector_token(api)["session_token"]
    assert jwt_payload(token)["start_session_data"]["openai_realtime_config"]["voice"] == "marin"
    node = shutil.which("node")
    assert node and (WEB_SDK / "node_modules").is_dir(), "run `make test` (npm ci)"
    script = (
        "import('@heygen/liveavatar-web-sdk').then(m => "
        "console.log(m.parseAgentTypeFromToken(process.argv[1])))"
    )
    done = subprocess.run(
        [node, "-e", script, token], cwd=WEB_SDK, capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip().splitlines()[-1] == "OPENAI_REALTIME", done.stderr


def question_frames() -> list[tuple[np.ndarray, int]]:
    """The hours question then a second of quiet, as 20 ms microphone frames."""
    with wave.open(str(FIXTURES / "piper_hours.wav")) as src:
        rate = src.getframerate()
        pcm = np.frombuffer(src.readframes(src.getnframes()), np.int16)
    pcm = np.concatenate([pcm, np.zeros(rate * 2, np.int16)])
    step = rate // 50
    return [(pcm[i : i + step], rate) for i in range(0, len(pcm) - step + 1, step)]


@async_test
async def test_a_spoken_question_is_answered_and_lip_synced_by_the_connector(
    api: LiveAvatar,
) -> None:
    token = connector_token(api)["session_token"]
    data = api.start(token).json()["data"]
    assert data["ws_url"] is None  # LiveAvatar runs the voice model: no audio socket
    room = f"{data['livekit_url']}/{data['session_id']}?token={data['livekit_client_token']}"
    async with Viewer(room) as viewer:
        # The context's opening line is spoken first.
        await viewer.wait_for(lambda r: r.first("event_type", "avatar.speak_ended") is not None, 30)
        assert viewer.ws is not None
        began = time.monotonic()
        for seq, (frame, rate) in enumerate(question_frames()):
            await viewer.ws.send(localroom.pack_audio(seq, time.time(), frame, rate))
            await asyncio.sleep(max(0.0, began + (seq + 1) * 0.02 - time.monotonic()))

        def answered(r: Any) -> bool:
            ended = [t for t, d in r.data if d.get("event_type") == "avatar.speak_ended"]
            return len(ended) >= 2

        await viewer.wait_for(answered, 60)
        kinds = [d.get("event_type") for _, d in viewer.rec.data if "event_type" in d]
        heard = [d for _, d in viewer.rec.data if d.get("event_type") == "user.transcription"]
        assert heard and "opening hours" in heard[0]["text"].lower(), heard
        said = [d for _, d in viewer.rec.data if d.get("event_type") == "avatar.transcription"]
        assert len(said) >= 2 and said[-1]["text"]
        order = [
            "user.speak_started",
            "user.speak_ended",
            "user.transcription",
            "avatar.speak_started",
        ]
        after_opening = kinds[kinds.index("avatar.speak_ended") + 1 :]
        assert [k for k in after_opening if k in order][:4] == order, after_opening
        spoke_at = viewer.rec.first("event_type", "user.speak_ended")
        answer_at = [t for t, d in viewer.rec.data if d.get("event_type") == "avatar.speak_started"]
        assert spoke_at is not None and answer_at[-1] - spoke_at < 5.0
        api.http.post("/v1/sessions/stop", json={"session_id": data["session_id"]})
        await viewer.closed(10)
    assert peak(viewer.rec.audio) > 3000
    stopped = [d for _, d in viewer.rec.data if d.get("event_type") == "session.stopped"]
    assert stopped and stopped[0]["stop_reason"] == "UNKNOWN"

"""The embedded LiveAvatar API as its clients see it: REST envelopes and signed session tokens,
FULL commands on the room, and the LITE audio socket."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from lib.emulators.engines.looks import AVATARS
from lib.emulators.engines.tts import VOICES
from lib.emulators.launcher import EmulatorProcess
from tests.integration.conftest import TEST_KEY
from tests.integration.test_heygen_server import (
    AVATAR,
    Viewer,
    async_test,
    peak,
    sine_24k,
)


def jwt_payload(token: str) -> dict[str, Any]:
    """A JWT's claims read the way LiveAvatar's web SDK reads them (no signature check)."""
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


class LiveAvatar:
    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"X-API-KEY": key}, timeout=30)
        self.tokens: list[str] = []

    def token(self, **body: Any) -> dict[str, Any]:
        resp = self.http.post("/v1/sessions/token", json={"avatar_id": AVATAR, **body})
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()["data"]
        self.tokens.append(data["session_token"])
        return data

    def start(self, token: str) -> httpx.Response:
        return self.http.post(
            "/v1/sessions/start", headers={"Authorization": f"Bearer {token}", "X-API-KEY": ""}
        )

    def cleanup(self) -> None:
        for sess in self.http.get("/v1/sessions", params={"type": "active"}).json()["data"][
            "results"
        ]:
            self.http.post("/v1/sessions/stop", json={"session_id": sess["id"]})
        self.http.close()


@pytest.fixture
def live_avatar(keyed_emulator: EmulatorProcess) -> Iterator[LiveAvatar]:
    api = LiveAvatar(keyed_emulator.base_url, TEST_KEY)
    yield api
    api.cleanup()


def test_liveavatar_session_lifecycle(
    live_avatar: LiveAvatar, keyed_emulator: EmulatorProcess
) -> None:
    avatars = live_avatar.http.get("/v1/avatars/public").json()
    assert avatars["code"] == 1000 and avatars["data"]["count"] == len(AVATARS)
    avatar = avatars["data"]["results"][0]
    assert {"id", "name", "preview_url", "status", "default_voice"} <= set(avatar)
    voices = live_avatar.http.get("/v1/voices").json()["data"]["results"]
    assert len(voices) == sum(v.support_realtime for v in VOICES)

    resp = live_avatar.http.post(
        "/v1/sessions/token",
        json={
            "mode": "FULL",
            "avatar_id": avatar["id"],
            "video_settings": {"quality": "medium", "encoding": "VP8"},
            "avatar_persona": {
                "voice_id": voices[0]["id"],
                "language": "en",
                "voice_settings": {"speed": 1.1},
            },
            "is_sandbox": False,
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 1000 and set(body["data"]) == {"session_id", "session_token"}
    token, sid = body["data"]["session_token"], body["data"]["session_id"]
    # Read as LiveAvatar's web SDK reads it: the JWT's payload, unverified.
    claims = jwt_payload(token)
    assert claims["session_id"] == sid and claims["start_session_data"]["mode"] == "FULL"
    assert claims["start_session_data"]["avatar_id"] == avatar["id"]

    started = live_avatar.start(token)
    assert started.status_code == 201
    data = started.json()["data"]
    assert set(data) == {
        "session_id", "livekit_url", "livekit_client_token", "livekit_agent_token",
        "max_session_duration", "ws_url",
    }  # fmt: skip
    assert data["session_id"] == sid and data["ws_url"] is None  # FULL mode
    assert data["livekit_url"] == f"ws://127.0.0.1:{keyed_emulator.port}/v1/local-room"
    assert live_avatar.start(token).status_code == 400  # only once

    bearer = {"Authorization": f"Bearer {token}", "X-API-KEY": ""}
    assert (
        live_avatar.http.post("/v1/sessions/keep-alive", json={}, headers=bearer).json()["code"]
        == 1000
    )
    active = live_avatar.http.get("/v1/sessions", params={"type": "active"}).json()
    assert sid in {s["id"] for s in active["data"]["results"]}

    stop = {"session_id": sid, "reason": "USER_CLOSED"}
    assert live_avatar.http.post("/v1/sessions/stop", json=stop, headers=bearer).status_code == 200
    again = live_avatar.http.post("/v1/sessions/stop", json=stop)
    assert again.status_code == 400 and "closed" in again.json()["message"]
    historic = live_avatar.http.get("/v1/sessions", params={"type": "historic"}).json()
    ended = next(s for s in historic["data"]["results"] if s["id"] == sid)
    assert ended["end_reason"] == "USER_CLOSED"


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"mode": "HALF", "avatar_id": AVATAR}, ["body", "mode"], "literal_error"),
        ({"mode": "FULL"}, ["body", "avatar_id"], "missing"),
        (
            {"mode": "LITE", "avatar_id": AVATAR, "video_settings": {"quality": "4k"}},
            ["body", "video_settings", "quality"],
            "literal_error",
        ),
        (
            {
                "mode": "FULL",
                "avatar_id": AVATAR,
                "avatar_persona": {"voice_settings": {"speed": 3}},
            },
            ["body", "avatar_persona", "voice_settings", "speed"],
            "less_than_equal",
        ),
        (
            {"mode": "FULL", "avatar_id": AVATAR, "is_sandbox": "maybe"},
            ["body", "is_sandbox"],
            "bool_parsing",
        ),
    ],
)
def test_liveavatar_schema_errors_are_fastapi_422(
    live_avatar: LiveAvatar, body: dict[str, Any], loc: list[str], kind: str
) -> None:
    resp = live_avatar.http.post("/v1/sessions/token", json=body)
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert detail[0]["loc"] == loc and detail[0]["type"] == kind and detail[0]["msg"]


def test_liveavatar_auth_and_other_refusals(live_avatar: LiveAvatar) -> None:
    url = "/v1/sessions/token"
    no_key = live_avatar.http.post(
        url, json={"mode": "FULL", "avatar_id": AVATAR}, headers={"X-API-KEY": "bad"}
    )
    assert no_key.status_code == 401
    raw = live_avatar.http.post(url, content=b"mode=FULL")  # not JSON: the body counts as absent
    assert raw.status_code == 422 and raw.json()["detail"][0]["loc"] == ["body"]
    assert live_avatar.start("not-a-token").status_code == 401
    no_type = live_avatar.http.get("/v1/sessions")
    assert no_type.status_code == 422 and no_type.json()["detail"][0]["loc"] == ["query", "type"]
    unknown = live_avatar.http.post(
        url, json={"mode": "FULL", "avatar_id": "00000000-0000-0000-0000-000000000000"}
    )
    assert unknown.status_code == 404 and "/v1/avatars/public" in unknown.json()["message"]


@async_test
async def test_full_mode_commands_and_events_on_the_room(live_avatar: LiveAvatar) -> None:
    token = live_avatar.token(mode="FULL")["session_token"]
    data = live_avatar.start(token).json()["data"]
    url = f"{data['livekit_url']}/{data['session_id']}?token={data['livekit_client_token']}"
    async with Viewer(url) as viewer:
        await viewer.send(
            {"event_type": "avatar.speak_text", "event_id": "c1", "text": "Hi from full mode."}
        )
        await viewer.wait_for(lambda r: r.first("event_type", "avatar.speak_ended") is not None)
        await viewer.send(
            {"event_type": "avatar.speak_text", "event_id": "c2", "text": "A long one. " * 10}
        )
        await viewer.wait_for(
            lambda r: any(d.get("source_event_id") == "c2" for d in r.events("event_type"))
        )
        await viewer.send({"event_type": "avatar.interrupt", "event_id": "c3"})
        await viewer.wait_for(
            lambda r: (
                len([d for d in r.events("event_type") if d["event_type"] == "avatar.speak_ended"])
                == 2
            )
        )
        live_avatar.http.post(
            "/v1/sessions/stop", json={"session_id": data["session_id"], "reason": "USER_CLOSED"}
        )
        await viewer.closed()
    events = viewer.rec.events("event_type")
    first = [e for e in events if e.get("source_event_id") == "c1"]
    assert [e["event_type"] for e in first][:2] == ["avatar.speak_started", "avatar.transcription"]
    assert first[1]["text"] == "Hi from full mode."
    assert first[-1]["event_type"] == "avatar.speak_ended" and first[-1]["duration_ms"] > 300
    assert all(e["session_id"] == data["session_id"] and e["event_id"] for e in events)
    cut = [e for e in events if e.get("source_event_id") == "c2"][-1]
    assert cut["event_type"] == "avatar.speak_ended" and cut["interrupted"] is True
    assert (
        events[-1]["event_type"] == "session.stopped" and events[-1]["end_reason"] == "USER_CLOSED"
    )
    assert viewer.rec.close_code == 4005


async def lite_session(live_avatar: LiveAvatar) -> tuple[dict[str, Any], str]:
    token = live_avatar.token(mode="LITE")["session_token"]
    data: dict[str, Any] = live_avatar.start(token).json()["data"]
    room = f"{data['livekit_url']}/{data['session_id']}?token={data['livekit_client_token']}"
    return data, room


class Heard:
    """What an audio socket client received, each with its arrival time."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.events: list[tuple[float, dict[str, Any]]] = []

    async def until(self, kind: str, timeout: float = 10) -> float:
        """Read until a `kind` event arrives; its arrival time."""
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            self.events.append((time.monotonic(), msg))
            if msg["type"] == kind:
                return self.events[-1][0]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, m in self.events if m["type"] == kind]

    def states(self) -> list[str]:
        return [m["new_state"] for m in self.of("agent.state_updated")]


async def speak(ws: ClientConnection, seconds: float, event_id: str | None = None) -> None:
    audio = base64.b64encode(sine_24k(seconds)).decode()
    msg = {"type": "agent.speak", "event_id": event_id or uuid.uuid4().hex, "audio": audio}
    await ws.send(json.dumps(msg))


@async_test
async def test_lite_socket_refuses_a_wrong_token(live_avatar: LiveAvatar) -> None:
    data, _ = await lite_session(live_avatar)
    assert data["ws_url"].startswith("ws://127.0.0.1:") and "token=" in data["ws_url"]
    bad = data["ws_url"].split("?")[0] + "?token=nope"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(bad)
    assert refused.value.response.status_code == 403


@async_test
async def test_lite_reply_is_one_utterance_whatever_its_chunk_ids(
    live_avatar: LiveAvatar,
) -> None:
    """LiveKit's plugin streams a reply as chunks with fresh ids (0.6 s, then ~1 s), then
    `speak_end` with another: one speak_started, one speak_ended after all of it has played."""
    data, room = await lite_session(live_avatar)
    async with Viewer(room) as viewer, websockets.connect(data["ws_url"]) as agent:
        heard = Heard(agent)
        await heard.until("session.state_updated")
        await speak(agent, 0.6)
        began = time.monotonic()
        await asyncio.sleep(0.3)  # the next chunk arrives while the first plays
        await speak(agent, 0.9)
        await agent.send(json.dumps({"type": "agent.speak_end", "event_id": uuid.uuid4().hex}))
        ended = await heard.until("agent.speak_ended")
        await heard.until("agent.state_updated")  # back from talking
        started = heard.of("agent.speak_started")
        assert len(started) == 1 and heard.of("agent.speak_interrupted") == []
        assert started[0]["event_id"] == heard.of("agent.speak_ended")[0]["event_id"]
        assert 1.3 < ended - began < 2.3, ended - began  # 1.5 s of audio, played in full
        assert len(heard.of("agent.audio_buffer_appended")) == 2
        assert len(heard.of("agent.audio_buffer_committed")) == 1
        assert heard.states() == ["talking", "idle"]
        live_avatar.http.post("/v1/sessions/stop", json={"session_id": data["session_id"]})
        await heard.until("session.state_updated")
        assert heard.of("session.state_updated")[-1]["state"] == "closed"
    assert peak(viewer.rec.audio) > 5000


@async_test
async def test_lite_interrupt_stops_the_reply_within_half_a_second(
    live_avatar: LiveAvatar,
) -> None:
    data, _ = await lite_session(live_avatar)
    async with websockets.connect(data["ws_url"]) as agent:
        heard = Heard(agent)
        await heard.until("session.state_updated")
        await agent.send(json.dumps({"type": "agent.start_listening", "event_id": "l1"}))
        await heard.until("agent.state_updated")
        await speak(agent, 3.0)
        await heard.until("agent.speak_started")
        await asyncio.sleep(0.3)
        sent = time.monotonic()
        await agent.send(json.dumps({"type": "agent.interrupt", "event_id": "i1"}))
        stopped = await heard.until("agent.speak_interrupted")
        await heard.until("agent.audio_buffer_cleared")
        assert stopped - sent < 0.5
        assert 200 < heard.of("agent.speak_interrupted")[0]["duration_ms"] < 1500
        # Interrupted, then ended (all LiveAvatar's web SDK knows), then the state: LiveKit's
        # plugin latches the first, so neither of the others counts as a reply played out.
        kinds = [m["type"] for _, m in heard.events]
        at = kinds.index("agent.speak_interrupted")
        assert kinds[at + 1 : at + 3] == ["agent.speak_ended", "agent.state_updated"]
        assert heard.of("agent.speak_ended")[0]["interrupted"] is True
        assert heard.states() == ["listening", "talking", "listening"]
        # The socket takes the next reply as a new utterance.
        await speak(agent, 0.3)
        await agent.send(json.dumps({"type": "agent.speak_end", "event_id": "e2"}))
        await heard.until("agent.speak_ended")
        assert len(heard.of("agent.speak_started")) == 2


def test_session_tokens_are_verified_on_every_call(live_avatar: LiveAvatar) -> None:
    """Only tokens this server signed, unexpired and unaltered, open a session's calls."""
    token = live_avatar.token(mode="LITE")["session_token"]
    claims = jwt_payload(token)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "HS256" and claims["exp"] > time.time()
    now = int(time.time())
    forged = jwt.encode(
        {**claims, "iat": now}, "not-the-servers-key-but-as-long-as-one", algorithm="HS256"
    )
    # The payload changed (mode FULL) under the original signature.
    altered = {**claims, "start_session_data": {**claims["start_session_data"], "mode": "FULL"}}
    body = base64.urlsafe_b64encode(json.dumps(altered).encode()).rstrip(b"=").decode()
    head, _, sig = token.split(".")
    tampered = f"{head}.{body}.{sig}"
    unsigned = f"{head}.{body}."
    for bad in (forged, tampered, unsigned, "opaque-token", token + "x"):
        for path in ("/v1/sessions/start", "/v1/sessions/keep-alive", "/v1/sessions/stop"):
            resp = live_avatar.http.post(
                path, json={}, headers={"Authorization": f"Bearer {bad}", "X-API-KEY": ""}
            )
            assert resp.status_code == 401, (path, resp.text)
            assert resp.json()["message"].startswith("Unauthorized")
    assert live_avatar.start(token).status_code == 201  # the genuine one still works


@async_test
async def test_sandbox_session_ends_at_max_duration(fast_emulator: EmulatorProcess) -> None:
    api = LiveAvatar(fast_emulator.base_url, "any-key")
    try:
        token = api.token(mode="FULL", is_sandbox=True)["session_token"]
        data = api.start(token).json()["data"]
        assert data["max_session_duration"] == 3
        url = f"{data['livekit_url']}/{data['session_id']}?token={data['livekit_client_token']}"
        began = time.monotonic()
        async with Viewer(url) as viewer:
            for _ in range(3):  # stay active: this server's idle timeout is 2 s
                await asyncio.sleep(0.8)
                api.http.post("/v1/sessions/keep-alive", json={"session_id": data["session_id"]})
            await viewer.closed(timeout=6)
        assert 2.5 < time.monotonic() - began < 4.5
        stopped = viewer.rec.events("event_type")[-1]
        assert stopped["event_type"] == "session.stopped"
        assert stopped["end_reason"] == "MAX_DURATION_REACHED"
        assert viewer.rec.close_code == 4005
    finally:
        api.cleanup()

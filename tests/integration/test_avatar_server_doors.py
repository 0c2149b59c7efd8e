"""The avatar server's doors, attacked as a local process or a web page the user has open
would (issue 24, findings 1 and 2): each attack refused with a clear error in the API's own
shape, the legitimate path (the URLs and tokens the server hands out, the app's own key)
still working. Against a real server started as the app starts its own (key in the
environment)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from lib.emulators.launcher import EmulatorProcess, start_emulator
from lib.emulators.rooms.bounds import MAX_ECHO_CHARS, MAX_PENDING_SPEAKS
from tests.integration.conftest import _stop_and_check
from tests.integration.test_heygen_server import (
    AVATAR,
    CLOSED,
    SUCCESS,
    HeyGen,
    agent_events,
    async_test,
    room_url,
    sine_24k,
)
from tests.integration.test_liveavatar_server import LiveAvatar

pytestmark = pytest.mark.integration
KEY = "doors-key-5e1f"
OK = {"x-api-key": KEY}
EVIL = "http://evil.example"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorProcess]:
    emu = start_emulator("heygen", "--concurrency-limit", "3", api_key=KEY)
    yield emu
    _stop_and_check(emu)


@pytest.fixture
def heygen(server: EmulatorProcess) -> Iterator[HeyGen]:
    api = HeyGen(server.base_url, OK)
    yield api
    api.cleanup()


@pytest.fixture
def live_avatar(server: EmulatorProcess) -> Iterator[LiveAvatar]:
    api = LiveAvatar(server.base_url, KEY)
    yield api
    api.cleanup()


def control(server: EmulatorProcess, path: str = "faults") -> str:
    return f"{server.base_url}/_control/{path}"


# ---- the key ---------------------------------------------------------------------------------


def test_the_key_reaches_the_server_by_environment_and_locks_it(server: EmulatorProcess) -> None:
    assert server.api_key == KEY and KEY not in repr(server)
    argv = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
    assert KEY.encode() not in argv  # other local users can read a command line
    url = f"{server.base_url}/v1/streaming/avatar.list"
    for guess in ({"x-api-key": "local-embedded"}, {"Authorization": "Bearer x"}, {}):
        assert httpx.get(url, headers=guess).status_code == 401
    assert httpx.get(url, headers=OK).status_code == 200
    assert httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


# ---- finding 1: the HeyGen audio socket and the stats that listed its ids ----------------------


@async_test
async def test_audio_socket_takes_only_the_token_in_its_own_url(heygen: HeyGen) -> None:
    data = heygen.started()
    other = heygen.started()
    endpoint = data["realtime_endpoint"]
    bare = endpoint.split("?")[0]
    wrong = [
        bare,  # the session id alone (what the stats used to list) is not enough
        f"{bare}?token=guess",
        f"{bare}?token={other['livekit_agent_token']}",  # another session's token
        f"{bare}?token={data['access_token']}",  # the room's token is for the room
        f"{bare}?token=%C3%A9t%C3%A9",  # not ASCII: refused, not a server error
    ]
    for url in wrong:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url)
        assert refused.value.response.status_code == 403
    async with websockets.connect(endpoint) as agent:  # the URL as streaming.new gave it
        assert json.loads(await agent.recv())["state"] == "connected"
        audio = base64.b64encode(sine_24k(0.3)).decode()
        await agent.send(json.dumps({"type": "agent.speak", "event_id": "e1", "audio": audio}))
        await agent.send(json.dumps({"type": "agent.speak_end", "event_id": "e1"}))
        assert (await agent_events(agent, "agent.speak_ended"))[-1]["event_id"] == "e1"


def test_stats_need_the_key(server: EmulatorProcess, heygen: HeyGen) -> None:
    sid = heygen.started()["session_id"]
    for guess in ({}, {"x-api-key": "guess"}, {"Authorization": "Bearer guess"}):
        refused = httpx.get(control(server, "stats"), headers=guess)
        assert refused.status_code == 401 and "key" in refused.json()["error"]
        assert sid not in refused.text
    assert sid in httpx.get(control(server, "stats"), headers=OK).json()["sessions"]


# ---- finding 2: /_control/faults from a web page, a rebound name, bad values -------------------


def test_control_refuses_web_pages_foreign_hosts_and_missing_keys(
    server: EmulatorProcess, heygen: HeyGen
) -> None:
    sid = heygen.started()["session_id"]
    expire = json.dumps({"kind": "idle_expiry"})
    attacks = [
        # What a page the user has open can send without a preflight: text/plain, its Origin.
        ({"content-type": "text/plain", "origin": EVIL}, 403, "web pages"),
        ({**OK, "content-type": "application/json", "origin": EVIL}, 403, "web pages"),
        ({**OK, "content-type": "application/json", "origin": "null"}, 403, "web pages"),
        ({**OK, "content-type": "application/json", "origin": "http://[::1"}, 403, "web pages"),
        # DNS rebinding: a name of the attacker's that resolves to 127.0.0.1.
        ({**OK, "content-type": "application/json", "host": "evil.example"}, 403, "addressed"),
        ({**OK, "content-type": "application/json", "host": "127.0.0.1:1"}, 403, "addressed"),
        ({"content-type": "application/json"}, 401, "key"),
        ({"x-api-key": "guess", "content-type": "application/json"}, 401, "key"),
        ({**OK, "content-type": "text/plain"}, 415, "application/json"),
    ]
    for headers, status, needle in attacks:
        resp = httpx.post(control(server), headers=headers, content=expire)
        assert resp.status_code == status and needle in resp.json()["error"], (headers, resp.text)
    for method in ("GET", "DELETE"):
        assert httpx.request(method, control(server)).status_code == 401
    assert heygen.live()[sid] == "connecting"  # no attack ended the session
    # The same request from a local tool with the key, own origin or none: done.
    own = f"http://127.0.0.1:{server.port}"
    for extra in ({}, {"origin": own}):
        ok = httpx.get(control(server), headers={**OK, **extra})
        assert ok.status_code == 200
    done = httpx.post(control(server), headers={**OK, "content-type": "application/json"},
                      content=expire)  # fmt: skip
    assert done.json()["done"] == "idle_expiry"
    assert heygen.call("keep_alive", sid).json() == CLOSED


def test_control_refuses_non_finite_and_absurd_faults_and_big_bodies(
    server: EmulatorProcess, heygen: HeyGen
) -> None:
    post = {**OK, "content-type": "application/json"}
    bad = [
        '{"kind": "latency", "value": NaN}',
        '{"kind": "latency", "value": Infinity, "path": "/v1/streaming.list"}',
        '{"kind": "latency", "value": 1e999}',
        '{"kind": "latency", "value": 1e12}',
        '{"kind": "media_slow", "value": 1e-300}',
        '{"kind": "ws_close", "value": 2.5}',
        '{"kind": "latency", "value": 5, "times": -1}',
        '{"kind": "latency", "value": 5, "path": {"a": 1}}',
        '{"kind": "latency", "value": true}',
        "[" * 3_000,  # deeper than the parser recurses, under the size limit
    ]
    for body in bad:
        resp = httpx.post(control(server), headers=post, content=body)
        assert resp.status_code == 400 and resp.json()["error"], (body, resp.text)
    assert httpx.get(control(server), headers=OK).json() == {"faults": []}
    # Matching requests answer at once: nothing was stored to hang them.
    assert heygen.http.get("/v1/streaming.list", timeout=5).status_code == 200
    big = httpx.post(control(server), headers=post, content=b" " * 300_000)
    assert big.status_code == 413 and "bytes" in big.json()["error"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: read until the limit, no further
        for _ in range(50):
            yield b" " * 10_000

    assert httpx.post(control(server), headers=post, content=chunked()).status_code == 413
    # A sensible fault is still taken.
    resp = httpx.post(control(server), headers=OK, json={"kind": "latency", "value": 5})
    assert resp.status_code == 200 and resp.json()["faults"][0]["value"] == 5
    httpx.delete(control(server), headers=OK)


# ---- bounded input on the REST routes and sockets ----------------------------------------------


def test_rest_bodies_are_bounded_and_deep_json_answered_in_each_apis_shape(
    heygen: HeyGen, live_avatar: LiveAvatar
) -> None:
    big = b" " * (1024 * 1024 + 1)
    resp = heygen.http.post("/v1/streaming.new", content=big,
                            headers={"content-type": "application/json"})  # fmt: skip
    assert resp.status_code == 413 and resp.json()["code"] == 413000
    resp = live_avatar.http.post("/v1/sessions/token", content=big,
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert resp.status_code == 413 and resp.json()["data"] is None
    assert "1 MiB" in resp.json()["message"]
    deep = b"[" * 5_000 + b"]" * 5_000
    resp = heygen.http.post("/v1/streaming.new", content=deep,
                            headers={"content-type": "application/json"})  # fmt: skip
    assert resp.status_code == 400 and "nested" in resp.json()["detail"]
    resp = live_avatar.http.post("/v1/sessions/token", content=deep,
                                 headers={"content-type": "application/json"})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["detail"][0]["type"] == "json_invalid"
    # Echoed input is clipped.
    resp = heygen.http.post("/v1/streaming.new", json={"avatar_id": "x" * 100_000})
    assert resp.status_code == 400 and len(resp.text) < 2 * MAX_ECHO_CHARS + 400
    for body in ({"x": "y" * 100_000}, {"avatar_id": AVATAR, "mode": "z" * 100_000}):
        resp = live_avatar.http.post("/v1/sessions/token", json=body)
        assert resp.status_code == 422 and len(resp.text) < 1_000
    # The legitimate bodies still work.
    assert heygen.started()["session_id"]


@async_test
async def test_every_socket_closes_on_messages_over_1_mb(
    heygen: HeyGen, live_avatar: LiveAvatar
) -> None:
    data = heygen.started()
    token = live_avatar.token(mode="LITE")["session_token"]
    lite = live_avatar.start(token).json()["data"]
    oversized = "x" * 1_100_000
    for url in (room_url(data), data["realtime_endpoint"], lite["ws_url"]):
        async with websockets.connect(url, max_size=2**25) as ws:
            await ws.send(oversized)
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1009, url


@async_test
async def test_audio_socket_clips_echoes_answers_deep_json_and_stays_open(heygen: HeyGen) -> None:
    data = heygen.started()
    async with websockets.connect(data["realtime_endpoint"]) as agent:
        await agent.recv()
        await agent.send(json.dumps({"type": "t" * 900_000}))
        error = json.loads(await asyncio.wait_for(agent.recv(), 5))
        assert error["type"] == "error" and len(error["message"]) < 2 * MAX_ECHO_CHARS
        await agent.send("[" * 100_000)
        error = json.loads(await asyncio.wait_for(agent.recv(), 5))
        assert "JSON" in error["message"]
        await agent.send(json.dumps({"type": "agent.speak", "event_id": "e" * 5_000}))
        error = json.loads(await asyncio.wait_for(agent.recv(), 5))
        assert "event_id" in error["message"] and len(error["event_id"]) < 2 * MAX_ECHO_CHARS
        audio = base64.b64encode(sine_24k(0.2)).decode()
        await agent.send(json.dumps({"type": "agent.speak", "event_id": "ok", "audio": audio}))
        await agent.send(json.dumps({"type": "agent.speak_end", "event_id": "ok"}))
        assert (await agent_events(agent, "agent.speak_ended"))[-1]["event_id"] == "ok"


@async_test
async def test_speech_waiting_to_play_is_bounded_per_session(heygen: HeyGen) -> None:
    """Audio streamed much faster than it plays: past 120 s waiting, chunks are refused with
    an error (and dropped); a text task gets a 429; after an interrupt all works again."""
    data = heygen.started()
    chunk = base64.b64encode(sine_24k(15.0)).decode()  # ~1 MB: the largest message taken
    async with websockets.connect(data["realtime_endpoint"]) as agent:
        await agent.recv()
        for _ in range(12):  # 180 s of audio in a moment
            await agent.send(json.dumps({"type": "agent.speak", "event_id": "a", "audio": chunk}))
        error = (await agent_events(agent, "error"))[-1]
        assert "Too much speech queued" in error["message"] and error["event_id"] == "a"
        task = heygen.call("task", data["session_id"], text="Hello.", task_mode="async")
        assert task.status_code == 429 and "interrupt" in task.json()["message"]
        await agent.send(json.dumps({"type": "agent.interrupt"}))
        await agent_events(agent, "agent.speak_interrupted")
    task = heygen.call("task", data["session_id"], text="Hello.", task_mode="async")
    assert task.json()["code"] == SUCCESS["code"]


@async_test
async def test_speak_commands_waiting_for_their_voice_are_bounded(live_avatar: LiveAvatar) -> None:
    token = live_avatar.token(mode="FULL", video_settings={"quality": "low"})["session_token"]
    data = live_avatar.start(token).json()["data"]
    room = f"{data['livekit_url']}/{data['session_id']}?token={data['livekit_client_token']}"
    # max_queue=None: the client keeps reading media while it closes (no 10 s close wait).
    async with websockets.connect(room, max_size=2**25, max_queue=None) as viewer:
        for i in range(3 * MAX_PENDING_SPEAKS):
            command = {"event_type": "avatar.speak_text", "event_id": f"s{i}", "text": "Hi."}
            await viewer.send(json.dumps(command))
        refused = 0
        while refused == 0:
            msg = await asyncio.wait_for(viewer.recv(), 10)
            if isinstance(msg, str) and json.loads(msg).get("event_type") == "error":
                assert "speak requests" in json.loads(msg)["message"]
                refused += 1
        await viewer.send(json.dumps({"event_type": "avatar.interrupt"}))


def test_the_realtime_servers_control_is_locked_with_its_own_key() -> None:
    """Both servers mount the same /_control/faults; the Realtime one takes its own key."""
    emu = start_emulator("realtime", "--ttft-ms", "0", api_key="rt-key-93c1")
    try:
        url = f"{emu.base_url}/_control/faults"
        assert httpx.get(url, headers={"x-api-key": KEY}).status_code == 401
        page = {"authorization": "Bearer rt-key-93c1", "origin": EVIL}
        assert httpx.post(url, headers=page, json={"kind": "ttft", "value": 5}).status_code == 403
        nan = httpx.post(
            url,
            headers={"authorization": "Bearer rt-key-93c1", "content-type": "application/json"},
            content='{"kind": "ttft", "value": NaN}',
        )
        assert nan.status_code == 400
        ok = httpx.get(url, headers={"authorization": "Bearer rt-key-93c1"})
        assert ok.json() == {"faults": []}
    finally:
        _stop_and_check(emu)

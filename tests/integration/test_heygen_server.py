"""The local HeyGen v1 + LiveAvatar server, driven over loopback with raw httpx and websockets:
status codes and bodies of every endpoint and error, the media room's pacing and content,
speech events and lip-sync, idle expiry, the audio sockets, and sandbox sessions."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

import httpx
import numpy as np
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from lib.emulators.engines.face import FaceRenderer
from lib.emulators.engines.looks import AVATARS
from lib.emulators.engines.tts import VOICES
from lib.emulators.launcher import EmulatorProcess
from lib.wire import localroom
from tests.integration.conftest import TEST_KEY

pytestmark = pytest.mark.integration

KEY = {"x-api-key": TEST_KEY}
AVATAR = AVATARS[0].avatar_id
REALTIME_VOICE = next(v.voice_id for v in VOICES if v.support_realtime)
STUDIO_VOICE = next(v.voice_id for v in VOICES if not v.support_realtime)
NEURAL_VOICE = next(v.voice_id for v in VOICES if v.neural)
UNAUTHORIZED = {"code": 400112, "message": "Unauthorized"}
CLOSED = {"code": 10005, "message": "session state wrong: closed"}
SUCCESS = {"code": 100, "message": "success"}
SIZES = {"low": (640, 360), "medium": (854, 480), "high": (1280, 720)}


def async_test(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(fn(*args, **kwargs))

    return run


# ---- HTTP helpers ---------------------------------------------------------------------------


class HeyGen:
    """Raw HeyGen v1 calls; stops whatever it created when the test ends."""

    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        self.created: list[str] = []

    def new(self, **body: Any) -> dict[str, Any]:
        payload = {"avatar_id": AVATAR, "version": "v2", "quality": "low", **body}
        resp = self.http.post("/v1/streaming.new", json=payload)
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()["data"]
        self.created.append(data["session_id"])
        return data

    def call(self, action: str, session_id: str, **body: Any) -> httpx.Response:
        return self.http.post(f"/v1/streaming.{action}", json={"session_id": session_id, **body})

    def started(self, **body: Any) -> dict[str, Any]:
        data = self.new(**body)
        assert self.call("start", data["session_id"]).json() == SUCCESS
        return data

    def live(self) -> dict[str, str]:
        sessions = self.http.get("/v1/streaming.list").json()["data"]["sessions"]
        return {s["session_id"]: s["status"] for s in sessions}

    def cleanup(self) -> None:
        live = self.live()
        for sid in self.created:
            if sid in live:
                self.call("stop", sid)
        self.http.close()


@pytest.fixture
def heygen(keyed_emulator: EmulatorProcess) -> Iterator[HeyGen]:
    api = HeyGen(keyed_emulator.base_url, KEY)
    yield api
    api.cleanup()


@pytest.fixture
def fast(fast_emulator: EmulatorProcess) -> Iterator[HeyGen]:
    api = HeyGen(fast_emulator.base_url, {"x-api-key": "any-key"})
    yield api
    api.cleanup()


# ---- room helpers ---------------------------------------------------------------------------


@dataclass
class Recording:
    """Everything a room viewer received, with monotonic arrival times."""

    video: list[tuple[float, localroom.MediaMessage]] = field(default_factory=list)
    audio: list[tuple[float, localroom.MediaMessage]] = field(default_factory=list)
    data: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""

    def events(self, key: str = "type") -> list[dict[str, Any]]:
        return [d for _, d in self.data if key in d]

    def first(self, key: str, value: str) -> float | None:
        return next((t for t, d in self.data if d.get(key) == value), None)


class Viewer:
    def __init__(self, url: str) -> None:
        self.url = url
        self.rec = Recording()
        self.ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Viewer:
        self.ws = await websockets.connect(self.url, max_size=2**25)
        self._task = asyncio.create_task(self._read(self.ws))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, 5)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now = time.monotonic()
                if isinstance(message, str):
                    self.rec.data.append((now, json.loads(message)))
                    continue
                media = localroom.unpack(message)
                (self.rec.video if media.kind == localroom.KIND_VIDEO else self.rec.audio).append(
                    (now, media)
                )
        except websockets.ConnectionClosed:
            pass
        self.rec.close_code = ws.close_code
        self.rec.close_reason = ws.close_reason or ""

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def wait_for(self, pred: Callable[[Recording], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not pred(self.rec):
            assert time.monotonic() < deadline, f"timed out; data: {self.rec.data[-6:]}"
            await asyncio.sleep(0.02)

    async def closed(self, timeout: float = 10) -> None:
        assert self._task is not None
        await asyncio.wait_for(asyncio.shield(self._task), timeout)


def room_url(data: dict[str, Any]) -> str:
    return f"{data['url']}/{data['session_id']}?token={data['access_token']}"


def mouth_region(quality: str) -> tuple[slice, slice]:
    w, h = SIZES[quality]
    x0, y0, x1, y1 = FaceRenderer(AVATAR, w, h).mouth_box
    return slice(y0, y1), slice(x0, x1)


def mouth_opening(frame: localroom.MediaMessage, quality: str) -> int:
    """Pixels in the mouth box much darker than the box's median: the inside of an open
    mouth. Head sway and breathing barely change it; opening the mouth does."""
    assert frame.video is not None
    ys, xs = mouth_region(quality)
    luma = frame.video[ys, xs].astype(np.float32).mean(axis=2)
    return int((luma < 0.5 * np.median(luma)).sum())


def mouth_spread(frames: list[localroom.MediaMessage], quality: str) -> int:
    openings = [mouth_opening(f, quality) for f in frames]
    return max(openings) - min(openings) if openings else 0


def peak(chunks: list[tuple[float, localroom.MediaMessage]]) -> int:
    return max(
        (int(np.abs(m.audio.astype(np.int32)).max()) for _, m in chunks if m.audio is not None),
        default=0,
    )


def sine_24k(seconds: float, hz: float = 220.0) -> bytes:
    t = np.arange(int(24000 * seconds)) / 24000.0
    # Amplitude-modulated like syllables, so the mouth (driven by loudness) visibly moves.
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (np.sin(2 * np.pi * hz * t) * envelope * 12000).astype("<i2").tobytes()


# ---- create_token, auth ----------------------------------------------------------------------


def test_create_token_needs_a_key_and_a_json_body(keyed_emulator: EmulatorProcess) -> None:
    url = f"{keyed_emulator.base_url}/v1/streaming.create_token"
    for headers in ({}, {"x-api-key": "wrong"}, {"Authorization": "Bearer wrong"}):
        resp = httpx.post(url, headers=headers, json={})
        assert (resp.status_code, resp.json()) == (401, UNAUTHORIZED)
    resp = httpx.post(url, headers=KEY)  # no Content-Type: application/json
    assert resp.status_code == 415
    assert resp.json() == {
        "detail": "Unsupported media type '' in request. 'application/json' is required."
    }
    resp = httpx.post(url, headers=KEY, json={})
    assert resp.status_code == 200
    body = resp.json()
    assert body["error"] is None and isinstance(body["data"]["token"], str)
    resp = httpx.post(url, headers={"Authorization": f"Bearer {TEST_KEY}"}, json={})
    assert resp.status_code == 200  # the key also works as a bearer


def test_session_token_is_single_use(heygen: HeyGen) -> None:
    token = heygen.http.post("/v1/streaming.create_token", json={}).json()["data"]["token"]
    bearer = {"Authorization": f"Bearer {token}", "x-api-key": ""}
    body = {"avatar_id": AVATAR, "version": "v2"}
    first = heygen.http.post("/v1/streaming.new", json=body, headers=bearer)
    assert first.status_code == 200
    sid = first.json()["data"]["session_id"]
    heygen.created.append(sid)
    again = heygen.http.post("/v1/streaming.new", json=body, headers=bearer)
    assert (again.status_code, again.json()) == (401, UNAUTHORIZED)
    # The token still authenticates calls on the session it created.
    start = heygen.http.post("/v1/streaming.start", json={"session_id": sid}, headers=bearer)
    assert start.json() == SUCCESS


def test_any_key_is_accepted_without_api_key_flag(fast_emulator: EmulatorProcess) -> None:
    url = f"{fast_emulator.base_url}/v1/streaming/avatar.list"
    assert httpx.get(url, headers={"x-api-key": "whatever"}).status_code == 200
    resp = httpx.get(url)
    assert (resp.status_code, resp.json()) == (401, UNAUTHORIZED)


def test_idle_keep_alive_connections_outlive_the_clients_pool_expiry(
    fast_emulator: EmulatorProcess,
) -> None:
    """httpx drops a pooled connection after 5 s idle; the server must not close it first, or a
    request sent on it at that moment fails with ReadError (the soak's "could not start")."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(fast_emulator.base_url)
    request = (
        f"GET /v1/streaming/avatar.list HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "x-api-key: local\r\n\r\n"
    ).encode()

    def exchange(sock: socket.socket) -> bytes:
        sock.sendall(request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                return head  # closed by the server
            head += chunk
        header, _, body = head.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in header.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
        return header

    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        assert exchange(sock).startswith(b"HTTP/1.1 200")
        time.sleep(httpx.Limits().keepalive_expiry + 1)  # the client's pool would retire it now
        assert exchange(sock).startswith(b"HTTP/1.1 200")  # ...and the server still serves it


# ---- streaming.new ---------------------------------------------------------------------------


def test_new_session_answers_like_heygen(heygen: HeyGen, keyed_emulator: EmulatorProcess) -> None:
    resp = heygen.http.post(
        "/v1/streaming.new",
        json={
            "avatar_name": AVATAR,
            "quality": "medium",
            "voice": {"voice_id": REALTIME_VOICE, "rate": 1.2, "emotion": "friendly"},
            "language": "en",
            "version": "v2",
            "video_encoding": "H264",
            "activity_idle_timeout": 60,
            "knowledge_base": "ignored",
            "stt_settings": {"provider": "deepgram"},
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    data = body["data"]
    heygen.created.append(data["session_id"])
    assert (body["code"], body["message"]) == (100, "success")
    assert set(data) == {
        "session_id", "access_token", "url", "realtime_endpoint", "livekit_agent_token",
        "is_paid", "session_duration_limit", "sdp", "ice_servers", "ice_servers2",
    }  # fmt: skip
    ws = f"ws://127.0.0.1:{keyed_emulator.port}"
    assert data["url"] == f"{ws}/v1/local-room"
    # The audio socket's URL carries its token (the session's agent token).
    endpoint = f"{ws}/v1/realtime/{data['session_id']}?token={data['livekit_agent_token']}"
    assert data["realtime_endpoint"] == endpoint
    assert data["is_paid"] is False and data["session_duration_limit"] == 600
    assert data["sdp"] is None and data["ice_servers"] is None and data["ice_servers2"] is None
    assert data["access_token"] and data["livekit_agent_token"]


@pytest.mark.parametrize(
    ("patch", "code", "needle"),
    [
        ({"quality": "ultra"}, 400175, "quality"),
        ({"voice": {"rate": 2.0}}, 400175, "voice.rate"),
        ({"voice": {"emotion": "Excited"}}, 400175, "voice.emotion"),
        ({"activity_idle_timeout": 10}, 400175, "activity_idle_timeout"),
        ({"video_encoding": "AV1"}, 400175, "video_encoding"),
        ({"version": "v1"}, 400175, "version"),
        ({"language": "xx"}, 400175, "language"),
        ({"avatar_id": "nobody_here"}, 400175, "/v1/streaming/avatar.list"),
        ({"voice": {"voice_id": "no-such-voice"}}, 400175, "/v1/voice.list"),
        ({"voice": {"voice_id": STUDIO_VOICE}}, 400175, "support_realtime"),
        ({"avatar_id": None}, 40001, "avatar_id"),
    ],
)
def test_new_session_refuses_bad_input_naming_the_field(
    heygen: HeyGen, patch: dict[str, Any], code: int, needle: str
) -> None:
    body = {"avatar_id": AVATAR, "version": "v2", **patch}
    resp = heygen.http.post("/v1/streaming.new", json={k: v for k, v in body.items() if v})
    assert resp.status_code == 400
    err = resp.json()
    assert err["code"] == code
    prefix = "Invalid parameter" if code == 400175 else "Missing required input parameters"
    assert err["message"].startswith(prefix)
    assert needle in err["message"]
    assert heygen.live() == {}


def test_concurrency_limit_counts_sessions_not_yet_stopped(heygen: HeyGen) -> None:
    sessions = [heygen.new()["session_id"] for _ in range(3)]
    resp = heygen.http.post("/v1/streaming.new", json={"avatar_id": AVATAR, "version": "v2"})
    assert resp.status_code == 400
    assert resp.json()["message"].startswith(
        "Concurrent limit reached, please make sure you have closed other testing sessions "
        "under the same account"
    )
    assert heygen.call("stop", sessions[0]).json() == {"status": "success"}
    heygen.new()  # a slot is free again


# ---- session calls ---------------------------------------------------------------------------


def test_task_and_session_calls(heygen: HeyGen) -> None:
    sid = heygen.new()["session_id"]
    early = heygen.call("task", sid, text="Too early.")
    assert early.status_code == 400 and early.json()["code"] == 400006
    assert heygen.call("start", sid).json() == SUCCESS

    empty = heygen.call("task", sid, text="   ")
    assert empty.status_code == 400
    assert empty.json()["message"].startswith("Invalid parameter: text")
    bad_type = heygen.call("task", sid, text="Hi", task_type="sing")
    assert bad_type.status_code == 400 and "task_type" in bad_type.json()["message"]

    began = time.monotonic()
    sync = heygen.call("task", sid, text="Hello there.", task_type="repeat", task_mode="sync")
    took_ms = (time.monotonic() - began) * 1000
    body = sync.json()
    assert (body["code"], body["message"]) == (100, "success")
    duration = body["data"]["duration_ms"]
    assert 300 < duration < 5000 and body["data"]["task_id"]
    assert took_ms >= duration * 0.95  # sync replies only after the avatar has said it

    began = time.monotonic()
    talk = heygen.call("task", sid, text="How are you?", task_type="talk", task_mode="async")
    assert talk.status_code == 200
    assert (time.monotonic() - began) * 1000 < talk.json()["data"]["duration_ms"]

    for action in ("interrupt", "keep_alive", "start_listening", "stop_listening"):
        assert heygen.call(action, sid).json() == SUCCESS, action

    missing = heygen.call("keep_alive", "no-such-session")
    assert missing.status_code == 400 and "session not found" in missing.json()["message"]

    assert heygen.call("stop", sid).json() == {"status": "success"}
    for action, extra in (("stop", {}), ("task", {"text": "Hi"}), ("keep_alive", {})):
        resp = heygen.call(action, sid, **extra)
        assert (resp.status_code, resp.json()) == (400, CLOSED), action


@async_test
async def test_list_reflects_live_sessions(heygen: HeyGen) -> None:
    data = heygen.new()
    sid = data["session_id"]
    listed = heygen.http.get("/v1/streaming.list").json()
    assert listed["code"] == 100
    entry = next(s for s in listed["data"]["sessions"] if s["session_id"] == sid)
    assert entry["status"] == "new" and abs(entry["created_at"] - time.time()) < 60
    heygen.call("start", sid)
    assert heygen.live()[sid] == "connecting"
    async with Viewer(room_url(data)):
        await asyncio.sleep(0.1)
        assert heygen.live()[sid] == "connected"
    heygen.call("stop", sid)
    assert sid not in heygen.live()


def test_avatar_and_voice_lists(heygen: HeyGen) -> None:
    avatars = heygen.http.get("/v1/streaming/avatar.list").json()
    assert (avatars["code"], avatars["message"]) == (100, "Success")
    assert [a["avatar_id"] for a in avatars["data"]] == [a.avatar_id for a in AVATARS]
    first = avatars["data"][0]
    assert set(first) == {
        "avatar_id", "created_at", "default_voice", "is_public", "normal_preview", "pose_name",
        "status",
    }  # fmt: skip
    assert first["status"] == "ACTIVE"
    png = httpx.get(first["normal_preview"])
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"

    v1 = heygen.http.get("/v1/voice.list").json()
    v2 = heygen.http.get("/v2/voices").json()
    assert v1["code"] == 100 and v2["error"] is None
    for voices in (v1["data"]["voices"], v2["data"]["voices"]):
        flags = {v["voice_id"]: v["support_realtime"] for v in voices}
        assert flags == {v.voice_id: v.support_realtime for v in VOICES}
        assert flags[STUDIO_VOICE] is False
    assert httpx.get(f"{heygen.http.base_url}/v1/voice.list").status_code == 401


# ---- the media room -------------------------------------------------------------------------


@async_test
async def test_room_refuses_a_wrong_token_and_unknown_rooms(heygen: HeyGen) -> None:
    data = heygen.started()
    for url in (
        f"{data['url']}/{data['session_id']}?token=wrong",
        f"{data['url']}/{data['session_id']}",
        f"{data['url']}/no-such-room?token={data['access_token']}",
    ):
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(url)
        assert refused.value.response.status_code == 403


@pytest.mark.media  # a frame rate: measured alone
@async_test
async def test_room_streams_25fps_video_and_50_audio_messages_per_second(heygen: HeyGen) -> None:
    data = heygen.started(quality="medium")
    async with Viewer(room_url(data)) as a, Viewer(room_url(data)) as b:
        await asyncio.sleep(0.5)  # settle
        a_v, a_a = len(a.rec.video), len(a.rec.audio)
        await asyncio.sleep(3.0)
        fps = (len(a.rec.video) - a_v) / 3.0
        audio_rate = (len(a.rec.audio) - a_a) / 3.0
    assert 21 <= fps <= 27, fps
    assert 47 <= audio_rate <= 53, audio_rate
    frame = a.rec.video[-1][1]
    assert frame.video is not None and frame.video.shape == (480, 854, 3)
    chunk = a.rec.audio[-1][1]
    assert chunk.sample_rate == 48000 and chunk.audio is not None and chunk.audio.size == 960
    assert peak(a.rec.audio) == 0  # idle: silence, still sent
    seqs = [m.seq for _, m in a.rec.audio]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    stamps = [m.captured_at for _, m in a.rec.audio]
    assert all(abs(y - x - 0.02) < 1e-6 for x, y in itertools.pairwise(stamps))
    # Two viewers get the same frames, rendered once.
    b_frames = {m.seq: m for _, m in b.rec.video}
    common = [m for _, m in a.rec.video if m.seq in b_frames]
    assert len(common) > 50
    for mine in common[-5:]:
        theirs = b_frames[mine.seq].video
        assert mine.video is not None and theirs is not None
        assert np.array_equal(mine.video, theirs)


@pytest.mark.media  # lip-sync timing: measured alone
@pytest.mark.parametrize("voice", [REALTIME_VOICE, NEURAL_VOICE])
@async_test
async def test_task_events_in_order_with_lip_sync(heygen: HeyGen, voice: str) -> None:
    data = heygen.started(quality="low", voice={"voice_id": voice})
    # Two sentences: the neural voice makes the second while the first plays.
    text = "Hello, this is a lip sync test. Two sentences."
    async with Viewer(room_url(data)) as viewer, httpx.AsyncClient(headers=KEY) as http:
        # The neural voice's model loads when a session picks it (~1.3 s of CPU, more on a busy
        # machine) and the frames wait for it: the idle window is the first 0.8 s in which the
        # stream flows (over 10 frames), before speaking.
        idle_frames: list[Any] = []
        deadline = time.monotonic() + 20
        while len(idle_frames) <= 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            quiet_from = time.monotonic() - 0.8
            idle_frames = [m for t, m in viewer.rec.video if t >= quiet_from]
        resp = await http.post(
            f"{heygen.http.base_url}/v1/streaming.task",
            json={"session_id": data["session_id"], "text": text, "task_mode": "async"},
        )
        task = resp.json()["data"]
        await viewer.wait_for(lambda r: r.first("type", "avatar_stop_talking") is not None)
    events = viewer.rec.events()
    kinds = [e["type"] for e in events]
    assert kinds[0] == "avatar_start_talking"
    assert kinds[-2:] == ["avatar_end_message", "avatar_stop_talking"]
    assert set(kinds[1:-2]) == {"avatar_talking_message"} and len(kinds) > 5
    assert {e["task_id"] for e in events} == {task["task_id"]}
    assert "".join(e["message"] for e in events[1:-2]) == text
    assert abs(events[-1]["duration_ms"] - task["duration_ms"]) < 25

    started = viewer.rec.first("type", "avatar_start_talking")
    stopped = viewer.rec.first("type", "avatar_stop_talking")
    assert started is not None and stopped is not None
    assert abs((stopped - started) * 1000 - task["duration_ms"]) < 200
    talking_audio = [(t, m) for t, m in viewer.rec.audio if started <= t <= stopped]
    before = [(t, m) for t, m in viewer.rec.audio if t < started - 0.1]
    assert peak(talking_audio) > 3000 and peak(before) == 0
    talking_frames = [m for t, m in viewer.rec.video if started + 0.1 <= t <= stopped - 0.1]
    assert len(idle_frames) > 10 and mouth_spread(idle_frames, "low") <= 3
    assert mouth_spread(talking_frames, "low") > 30


@async_test
async def test_interrupt_stops_talking_early(heygen: HeyGen) -> None:
    data = heygen.started()
    sid = data["session_id"]
    long_text = "This sentence is long enough that it will certainly be cut off early. " * 3
    base = heygen.http.base_url
    async with Viewer(room_url(data)) as viewer, httpx.AsyncClient(headers=KEY, timeout=60) as h:
        sync = asyncio.create_task(
            h.post(f"{base}/v1/streaming.task", json={"session_id": sid, "text": long_text})
        )
        await viewer.wait_for(lambda r: r.first("type", "avatar_start_talking") is not None)
        queued = await h.post(
            f"{base}/v1/streaming.task",
            json={"session_id": sid, "text": "Never said.", "task_mode": "async"},
        )
        await asyncio.sleep(0.6)
        cut = time.monotonic()
        assert (
            await h.post(f"{base}/v1/streaming.interrupt", json={"session_id": sid})
        ).json() == SUCCESS
        reply = await sync
        replied_after = time.monotonic() - cut
        await viewer.wait_for(lambda r: r.first("type", "avatar_stop_talking") is not None)
        await asyncio.sleep(0.3)
    full = reply.json()["data"]["duration_ms"]
    stop = next(e for e in viewer.rec.events() if e["type"] == "avatar_stop_talking")
    assert 400 < stop["duration_ms"] < 1500 < full  # what was actually said
    assert replied_after < 0.5  # the sync task answers once interrupted
    queued_id = queued.json()["data"]["task_id"]
    assert all(e.get("task_id") != queued_id for e in viewer.rec.events())  # dropped


@async_test
async def test_idle_session_expires_and_room_is_deleted(fast: HeyGen) -> None:
    idle = fast.started()
    kept = fast.started()
    async with Viewer(room_url(idle)) as viewer:
        began = time.monotonic()
        for _ in range(3):
            await asyncio.sleep(0.9)
            assert fast.call("keep_alive", kept["session_id"]).json() == SUCCESS
        await viewer.closed(timeout=5)
        expired_after = time.monotonic() - began
    assert viewer.rec.close_code == 4005 and viewer.rec.close_reason == "ROOM_DELETED"
    assert 1.5 < expired_after < 3.5
    resp = fast.call("task", idle["session_id"], text="Hello?")
    assert (resp.status_code, resp.json()) == (400, CLOSED)
    live = fast.live()
    assert idle["session_id"] not in live and kept["session_id"] in live  # keep_alive worked


@async_test
async def test_slow_viewer_loses_video_not_the_others(heygen: HeyGen) -> None:
    data = heygen.started(quality="medium")
    async with Viewer(room_url(data)) as fast_viewer:
        slow = await websockets.connect(room_url(data), max_size=2**25, max_queue=1)
        try:
            await asyncio.sleep(0.3)
            before = len(fast_viewer.rec.video)
            await asyncio.sleep(2.5)  # the slow viewer reads nothing meanwhile
            assert (len(fast_viewer.rec.video) - before) / 2.5 >= 21
            seqs = []
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                msg = await asyncio.wait_for(slow.recv(), 2)
                if isinstance(msg, bytes):
                    media = localroom.unpack(msg)
                    if media.kind == localroom.KIND_VIDEO:
                        seqs.append(media.seq)
            # The control endpoint counts where frames went: all drawn on schedule, and the
            # slow viewer's skips are its own.
            stats = heygen.http.get("/_control/stats").json()
            video = stats["sessions"][data["session_id"]]
        finally:
            await slow.close()
    gaps = [b - a for a, b in itertools.pairwise(seqs)]
    assert max(gaps) > 1  # frames were skipped for the slow viewer, not queued
    assert video["rendered"] >= 0.8 * video["due"] > 0
    assert video["rendered"] < video["offered"] <= 2 * video["rendered"]  # two viewers
    fast, slow_one = sorted(video["viewers"], key=lambda v: v["skipped"])
    assert fast["skipped"] <= 2 and fast["sent"] >= 0.9 * video["rendered"]
    assert slow_one["skipped"] > 10 and slow_one["sent"] < fast["sent"]


# ---- audio sockets ---------------------------------------------------------------------------


async def agent_events(
    ws: ClientConnection, until: str, timeout: float = 10
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while not events or events[-1]["type"] != until:
        events.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    return events


@async_test
async def test_realtime_endpoint_lip_syncs_streamed_audio(heygen: HeyGen) -> None:
    data = heygen.started(quality="low")
    async with (
        Viewer(room_url(data)) as viewer,
        websockets.connect(data["realtime_endpoint"]) as agent,
    ):
        hello = json.loads(await agent.recv())
        assert (hello["type"], hello["state"]) == ("session.state_updated", "connected")
        audio = sine_24k(1.2)
        for part in (audio[: len(audio) // 2], audio[len(audio) // 2 :]):
            chunk = base64.b64encode(part).decode()
            await agent.send(json.dumps({"type": "agent.speak", "event_id": "u1", "audio": chunk}))
        await agent.send(json.dumps({"type": "agent.speak_end", "event_id": "u1"}))
        events = await agent_events(agent, "agent.speak_ended")
        started, ended = events[0], events[-1]
        assert started["type"] == "agent.speak_started" and started["event_id"] == "u1"
        assert ended["event_id"] == "u1" and ended["task"]["id"] == started["task"]["id"]
        assert abs(ended["duration_ms"] - 1200) < 25
        await viewer.wait_for(lambda r: r.first("type", "avatar_stop_talking") is not None)

        # A second utterance interrupted half-way.
        long = base64.b64encode(sine_24k(3.0)).decode()
        await agent.send(json.dumps({"type": "agent.speak", "event_id": "u2", "audio": long}))
        assert (await agent_events(agent, "agent.speak_started"))[-1]["event_id"] == "u2"
        await asyncio.sleep(0.5)
        await agent.send(json.dumps({"type": "agent.interrupt", "event_id": "i1"}))
        cut = (await agent_events(agent, "agent.speak_interrupted"))[-1]
        assert cut["event_id"] == "u2" and cut["duration_ms"] < 1500
    t0 = viewer.rec.first("type", "avatar_start_talking")
    t1 = viewer.rec.first("type", "avatar_stop_talking")
    assert t0 is not None and t1 is not None
    assert peak([(t, m) for t, m in viewer.rec.audio if t0 <= t <= t1]) > 5000
    frames = [m for t, m in viewer.rec.video if t0 + 0.1 <= t <= t1 - 0.1]
    assert mouth_spread(frames, "low") > 20


@async_test
async def test_oversized_audio_packet_closes_the_socket(heygen: HeyGen) -> None:
    data = heygen.started()
    async with websockets.connect(data["realtime_endpoint"], max_size=2**22) as agent:
        await agent.recv()
        blob = base64.b64encode(bytes(800_000)).decode()  # > 1 MB once base64-encoded
        await agent.send(json.dumps({"type": "agent.speak", "event_id": "big", "audio": blob}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(agent.recv(), 5)
        assert agent.close_code == 1009


# ---- process hygiene -------------------------------------------------------------------------


def test_server_exits_when_its_parent_dies() -> None:
    """A parent that starts the server and dies must not leave it running."""
    script = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-m', 'lib', 'emulator', 'heygen', '--port', '0'],"
        " stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)\n"
        "print(p.stdout.readline().strip(), p.pid, flush=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    ).stdout.split()
    assert out[0] == "AVATARLAB_EMULATOR_READY"
    port = int(out[1].split("=")[1])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/streaming.list", timeout=0.5)
        except httpx.ConnectError:
            return  # gone
        time.sleep(0.2)
    os.kill(int(out[2]), signal.SIGTERM)  # don't leave it behind for the next test run
    pytest.fail(f"the orphaned server (pid {out[2]}) was still serving after 5 s")

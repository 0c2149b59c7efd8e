"""The httpx clients (HeyGen v1, LiveAvatar) and the local room transport against the running
local server: the same client code that talks to the real services."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lib.avatar.base import (
    AvatarError,
    AvatarEvent,
    Disconnected,
    EndMessage,
    FirstFrame,
    MediaSink,
    SessionOptions,
    StartTalking,
    StopTalking,
    TalkingMessage,
    UserStarted,
    UserStopped,
    UserTranscript,
)
from lib.avatar.heygen import HeyGenApi, HeyGenProvider
from lib.avatar.liveavatar import LiveAvatarApi, LiveAvatarProvider
from lib.avatar.local_transport import LocalRoomTransport
from lib.core.config import Secret
from lib.emulators.engines.looks import AVATARS
from lib.emulators.engines.tts import VOICES
from lib.emulators.launcher import start_emulator
from lib.wire.picture import picture_size
from tests.conftest import live_sessions

pytestmark = pytest.mark.integration
AVATAR = AVATARS[0].avatar_id
VOICE = next(v.voice_id for v in VOICES if v.support_realtime)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


class RecordingSink(MediaSink):
    def __init__(self) -> None:
        self.frames = 0
        self.sizes: set[tuple[int, int]] = set()
        self.audio_peak = 0
        self.audio_samples = 0
        self.events: list[AvatarEvent] = []
        self._cond = threading.Condition()

    def on_video(self, picture):
        with self._cond:
            self.frames += 1
            self.sizes.add(picture_size(picture))
            self._cond.notify_all()

    def on_audio(self, pcm, sample_rate):
        with self._cond:
            self.audio_samples += pcm.size
            self.audio_peak = max(self.audio_peak, int(np.abs(pcm.astype(np.int32)).max(initial=0)))

    def on_event(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; events: {self.events[-10:]}")
            await asyncio.sleep(0.02)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def local_provider(base_url: str, key: str = "local") -> HeyGenProvider:
    return HeyGenProvider(HeyGenApi(Secret(key), base_url, provider="local"), LocalRoomTransport)


def run(coro):
    return asyncio.run(coro)


def test_catalog_lists_active_avatars_and_only_realtime_voices(local_heygen):
    async def go():
        p = local_provider(local_heygen.base_url)
        try:
            return await p.list_avatars(), await p.list_voices()
        finally:
            await p.aclose()

    avatars, voices = run(go())
    assert {a.avatar_id for a in avatars} >= {a.avatar_id for a in AVATARS}
    assert all(a.default_voice for a in avatars)
    realtime = {v.voice_id for v in VOICES if v.support_realtime}
    assert {v.voice_id for v in voices} == realtime
    assert len(realtime) >= 6


def test_session_speaks_with_typed_events_and_real_duration(local_heygen):
    async def go():
        p = local_provider(local_heygen.base_url)
        sink = RecordingSink()
        session = await p.start(SessionOptions(AVATAR, VOICE, quality="low"), sink)
        try:
            await sink.wait(lambda: bool(sink.of(FirstFrame)) and sink.frames > 10)
            assert sink.sizes == {(640, 360)}  # low quality: 360p
            assert any(s.session_id == session.session_id for s in await p.list_sessions())

            result = await session.speak("Hello from the integration test.", "async")
            assert result.duration_ms and result.duration_ms > 500
            assert result.answered_at - result.requested_at < 1.0  # async answers at once
            await sink.wait(lambda: any(e.task_id == result.task_id for e in sink.of(StopTalking)))
            kinds = [type(e) for e in sink.events if getattr(e, "task_id", None) == result.task_id]
            assert kinds[0] is StartTalking and kinds[-1] is StopTalking
            assert TalkingMessage in kinds and EndMessage in kinds
            said = " ".join(e.text for e in sink.of(TalkingMessage) if e.task_id == result.task_id)
            assert "integration" in said.lower()
            start = next(e for e in sink.of(StartTalking) if e.task_id == result.task_id)
            stop = next(e for e in sink.of(StopTalking) if e.task_id == result.task_id)
            assert stop.duration_ms == pytest.approx(result.duration_ms, rel=0.1)
            assert (stop.at - start.at) * 1000 == pytest.approx(result.duration_ms, rel=0.25)
            assert sink.audio_peak > 1000  # speech, not silence

            sync = await session.speak("Sync mode waits.", "sync")
            assert (sync.answered_at - sync.requested_at) * 1000 >= 0.8 * (sync.duration_ms or 0)
        finally:
            await session.stop()
            await p.aclose()
        await sink.wait(lambda: bool(sink.of(Disconnected)))
        assert all(s.session_id != session.session_id for s in live_sessions(local_heygen.base_url))

    run(go())


def test_interrupt_stops_talking_early(local_heygen):
    async def go():
        p = local_provider(local_heygen.base_url)
        sink = RecordingSink()
        session = await p.start(SessionOptions(AVATAR, VOICE, quality="low"), sink)
        try:
            long = await session.speak("This is a long sentence that keeps going. " * 6)
            await sink.wait(lambda: any(e.task_id == long.task_id for e in sink.of(StartTalking)))
            await asyncio.sleep(0.5)
            t_interrupt = time.time()
            await session.interrupt()
            await sink.wait(
                lambda: any(e.task_id == long.task_id for e in sink.of(StopTalking)), timeout=3
            )
            stop = next(e for e in sink.of(StopTalking) if e.task_id == long.task_id)
            assert stop.at - t_interrupt < 0.5
            assert stop.duration_ms is not None and stop.duration_ms < (long.duration_ms or 0) / 2
        finally:
            await session.stop()
            await p.aclose()

    run(go())


def test_speaking_on_a_stopped_session_says_start_a_new_one(local_heygen):
    async def go():
        p = local_provider(local_heygen.base_url)
        session = await p.start(SessionOptions(AVATAR, VOICE, quality="low"), RecordingSink())
        await p.stop_session(session.session_id)  # stopped behind the session's back
        with pytest.raises(AvatarError) as err:
            await session.speak("anyone there?")
        await session.stop()  # idempotent on an already-closed session
        await p.aclose()
        return err.value

    err = run(go())
    assert "session state wrong: closed" in err.message
    assert "start a new session" in err.hint


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (SessionOptions("Nobody_public", VOICE), "avatar"),
        (SessionOptions(AVATAR, "no-such-voice"), "voice"),
    ],
)
def test_unknown_avatar_or_voice_is_refused_with_the_field_named(local_heygen, options, field):
    async def go():
        p = local_provider(local_heygen.base_url)
        try:
            await p.start(options, RecordingSink())
        finally:
            await p.aclose()

    with pytest.raises(AvatarError) as err:
        run(go())
    assert err.value.status == 400 and "Invalid parameter" in err.value.message
    assert field in err.value.message and err.value.hint


def test_wrong_key_and_concurrency_limit():
    emu = start_emulator("heygen", "--api-key", "right-key", "--concurrency-limit", "1")
    try:

        async def go():
            bad = local_provider(emu.base_url, key="wrong-key")
            with pytest.raises(AvatarError) as wrong:
                await bad.list_avatars()
            await bad.aclose()
            good = local_provider(emu.base_url, key="right-key")
            first = await good.start(SessionOptions(AVATAR, VOICE, quality="low"), RecordingSink())
            with pytest.raises(AvatarError) as limit:
                await good.start(SessionOptions(AVATAR, VOICE, quality="low"), RecordingSink())
            await first.stop()
            again = await good.start(SessionOptions(AVATAR, VOICE, quality="low"), RecordingSink())
            await again.stop()
            await good.aclose()
            return wrong.value, limit.value

        wrong, limit = run(go())
        assert wrong.status == 401 and wrong.message == "Unauthorized"
        assert "Concurrent limit reached" in limit.message and "stop your other" in limit.hint
        assert live_sessions_with_key(emu.base_url, "right-key") == []
    finally:
        emu.stop()


def live_sessions_with_key(base_url: str, key: str) -> list:
    import httpx

    r = httpx.get(f"{base_url}/v1/streaming.list", headers={"x-api-key": key}, timeout=10)
    return list(r.json()["data"]["sessions"])


def test_liveavatar_full_speaks_text_over_the_room(local_heygen):
    async def go():
        api = LiveAvatarApi(Secret("local"), local_heygen.base_url, provider="liveavatar")
        p = LiveAvatarProvider(api, LocalRoomTransport, mode="FULL")
        avatars = await p.list_avatars()
        voices = await p.list_voices()
        assert avatars and voices
        sink = RecordingSink()
        session = await p.start(
            SessionOptions(avatars[0].avatar_id, voices[0].voice_id, quality="low"), sink
        )
        try:
            await sink.wait(lambda: sink.frames > 5)
            said = await session.speak("LiveAvatar full mode speaking.")
            await sink.wait(lambda: bool(sink.of(StartTalking)) and bool(sink.of(StopTalking)))
            assert sink.of(StartTalking)[0].task_id == said.task_id
            assert any(s.session_id == session.session_id for s in await p.list_sessions())
        finally:
            await session.stop()
            await p.aclose()

    run(go())


def test_liveavatar_lite_lipsyncs_audio_we_send(local_heygen):
    async def go():
        api = LiveAvatarApi(Secret("local"), local_heygen.base_url, provider="liveavatar")
        p = LiveAvatarProvider(api, LocalRoomTransport, mode="LITE")
        avatars = await p.list_avatars()
        sink = RecordingSink()
        session = await p.start(SessionOptions(avatars[0].avatar_id, quality="low"), sink)
        try:
            with pytest.raises(AvatarError, match="LITE"):
                await session.speak("text is not for LITE")
            await sink.wait(lambda: sink.frames > 5)
            peak_before = sink.audio_peak
            t = np.arange(24000) / 24000  # 1 s of a 220 Hz tone, PCM16 24 kHz
            tone = (8000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()
            await session.speak_audio(tone, event_id="evt-1", end=True)
            await sink.wait(lambda: bool(sink.of(StartTalking)) and bool(sink.of(StopTalking)))
            assert sink.audio_peak > max(peak_before, 3000)
        finally:
            await session.stop()
            await p.aclose()

    run(go())


def _spoken_question() -> bytes:
    from lib.runtime.script import read_turn_audio

    pcm = read_turn_audio(FIXTURES / "piper_hours.wav")
    return np.concatenate([pcm, np.zeros(24_000, np.int16)]).astype("<i2").tobytes()


async def _say(session, pcm: bytes) -> None:
    """Like a microphone: 100 ms packets in real time."""
    step = 24_000 * 2 // 10
    for i in range(0, len(pcm), step):
        await session.send_user_audio(pcm[i : i + step])
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("api", ["heygen", "liveavatar"])
def test_the_avatar_hears_the_user_and_reports_what_was_said(local_heygen, api):
    """HeyGen voice chat / LiveAvatar FULL: the user's audio into the room → the avatar's own
    speech recognition → user start, stop and transcript events."""

    async def go():
        if api == "heygen":
            p = local_provider(local_heygen.base_url)
        else:
            la = LiveAvatarApi(Secret("local"), local_heygen.base_url, provider="local")
            p = LiveAvatarProvider(la, LocalRoomTransport, mode="FULL")
        sink = RecordingSink()
        session = await p.start(SessionOptions(AVATAR, VOICE, quality="low"), sink)
        try:
            await sink.wait(lambda: bool(sink.of(FirstFrame)))
            if api == "heygen":
                await _say(session, _spoken_question()[:24_000])  # not listening: ignored
                await asyncio.sleep(1.0)
                assert not sink.of(UserStarted)
            await session.listen(True)
            await _say(session, _spoken_question())
            await sink.wait(lambda: bool(sink.of(UserTranscript)), timeout=30)
            kinds = [
                type(e)
                for e in sink.events
                if type(e) in (UserStarted, UserStopped, UserTranscript)
            ]
            assert kinds == [UserStarted, UserStopped, UserTranscript]
            heard = sink.of(UserTranscript)[0]
            assert "opening hours" in heard.text.lower()
            assert sink.of(UserStopped)[0].at <= heard.at
        finally:
            await session.stop()
            await p.aclose()

    run(go())

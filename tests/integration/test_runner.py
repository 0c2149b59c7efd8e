"""AvatarRunner (the page's session owner) against the local server: records, cleanup."""

from __future__ import annotations

import time

import pytest

from lib.avatar.base import AvatarError, SessionOptions
from lib.avatar.providers import build_provider
from lib.emulators.engines.looks import AVATARS
from lib.emulators.engines.tts import VOICES
from lib.runtime.avatar_runner import AvatarRunner
from lib.store.database import Store
from tests.conftest import live_sessions

pytestmark = pytest.mark.integration
OPTIONS = SessionOptions(
    AVATARS[1].avatar_id, next(v.voice_id for v in VOICES if v.support_realtime), quality="low"
)


def make_runner(tmp_path, base_url: str) -> AvatarRunner:
    store = Store(str(tmp_path / "lab.db"))
    return AvatarRunner(
        store, provider_factory=lambda name: build_provider(name, local_base_url=base_url)
    )


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_runner_records_session_task_and_events_then_shutdown_stops_it(tmp_path, local_heygen):
    runner = make_runner(tmp_path, local_heygen.base_url)
    try:
        avatars, voices = runner.catalog("local")
        assert avatars and voices
        runner.start("local", OPTIONS)
        snap = runner.wait_started()
        assert snap.state == "live", snap.problem
        wait_for(lambda: runner.snapshot().first_frame_at is not None)
        result = runner.speak("Recording this task.", "sync")
        wait_for(lambda: not runner.snapshot().speaking)
        assert any("Recording" in line for line in runner.snapshot().transcript)
        row = runner.store.get("avatar_sessions", snap.record_id)
        assert row["status"] == "live" and row["remote_session_id"] == snap.session_id
        assert row["requested_at"] <= row["started_at"] <= row["first_frame_at"]
        task = runner.store.tasks(snap.record_id).iloc[0]
        assert task["task_id"] == result.task_id and task["status"] == "done"
        assert task["requested_at"] <= task["started_at"] <= task["stopped_at"]
    finally:
        runner.shutdown()
    assert not runner.alive
    assert runner.media.closed  # its tracks end, so the WebRTC relay stops reading them
    assert all(s["session_id"] != snap.session_id for s in live_sessions(local_heygen.base_url))
    row = runner.store.get("avatar_sessions", snap.record_id)
    assert row["status"] == "stopped" and row["stop_reason"] == "PAGE_CLOSED"


def test_provider_side_end_is_shown_and_recorded(tmp_path, local_heygen):
    runner = make_runner(tmp_path, local_heygen.base_url)
    try:
        runner.start("local", OPTIONS)
        snap = runner.wait_started()
        import httpx

        httpx.post(
            f"{local_heygen.base_url}/v1/streaming.stop",
            headers={"x-api-key": "k"},
            json={"session_id": snap.session_id},
            timeout=10,
        ).raise_for_status()
        wait_for(lambda: runner.snapshot().state == "ended")
        assert runner.snapshot().ended_reason == "ROOM_DELETED"
        with pytest.raises(AvatarError) as err:
            runner.speak("hello?")
        assert "Start" in err.value.hint
        row = runner.store.get("avatar_sessions", snap.record_id)
        assert row["status"] == "stopped" and row["stop_reason"] == "ROOM_DELETED"
    finally:
        runner.shutdown()


def test_start_failure_is_shown_with_what_to_do(tmp_path, local_heygen):
    runner = make_runner(tmp_path, local_heygen.base_url)
    try:
        runner.start("local", SessionOptions("Nobody_public", OPTIONS.voice_id))
        snap = runner.wait_started()
        assert snap.state == "error" and snap.problem is not None
        assert "Invalid parameter" in snap.problem.message and snap.problem.hint
        row = runner.store.sessions().iloc[0]
        assert row["status"] == "error" and "Invalid parameter" in row["error"]
    finally:
        runner.shutdown()


@pytest.mark.parametrize("keepalive_s", [0.5, 1000.0])
def test_keep_alive_holds_a_quiet_session_and_idle_expiry_is_shown(
    tmp_path, fast_emulator, keepalive_s
):
    """The fast server ends LiveAvatar sessions after 2 s without activity."""
    from lib.avatar.liveavatar import LiveAvatarApi, LiveAvatarProvider
    from lib.avatar.local_transport import LocalRoomTransport
    from lib.core.config import Secret

    def liveavatar(name: str) -> LiveAvatarProvider:
        api = LiveAvatarApi(Secret("k"), fast_emulator.base_url, provider="local")
        return LiveAvatarProvider(api, LocalRoomTransport, mode="FULL")

    store = Store(str(tmp_path / "lab.db"))
    runner = AvatarRunner(
        store,
        provider_factory=liveavatar,
        heartbeat_timeout_s=None,
        keepalive_s=keepalive_s,
    )
    try:
        runner.start("local", OPTIONS)
        assert runner.wait_started().state == "live"
        time.sleep(4.0)
        snap = runner.snapshot()
        kinds = set(store.events(snap.record_id)["kind"])
        if keepalive_s < 1:
            assert snap.state == "live", snap.ended_reason
            assert "keep_alive" in kinds
        else:
            assert snap.state == "ended" and snap.ended_reason == "IDLE_TIMEOUT"
            row = store.get("avatar_sessions", snap.record_id)
            assert row["status"] == "stopped" and row["stop_reason"] == "IDLE_TIMEOUT"
    finally:
        runner.shutdown()


def test_a_connected_tab_that_stops_polling_keeps_its_session_until_it_disconnects(
    tmp_path, local_heygen
):
    """No heartbeat only means the page is gone if its tab is gone too: a starved or busy
    page that is still connected keeps its session; once the tab disconnects, it is stopped."""
    connected = [True]
    runner = AvatarRunner(
        Store(str(tmp_path / "lab.db")),
        provider_factory=lambda name: build_provider(name, local_base_url=local_heygen.base_url),
        heartbeat_timeout_s=1.0,
        tab_open=lambda: connected[0],
    )
    try:
        runner.start("local", OPTIONS)
        snap = runner.wait_started()
        assert snap.state == "live", snap.problem
        time.sleep(5.0)  # no heartbeat for 5x the limit, over two watchdog periods
        assert runner.snapshot().state == "live"
        assert any(s["session_id"] == snap.session_id for s in live_sessions(local_heygen.base_url))
        connected[0] = False
        wait_for(lambda: runner.snapshot().state == "ended", timeout=10)
        assert runner.snapshot().ended_reason == "PAGE_GONE"
        assert all(s["session_id"] != snap.session_id for s in live_sessions(local_heygen.base_url))
    finally:
        runner.shutdown()


def test_a_session_is_renewed_before_the_providers_cap_without_cutting_speech(tmp_path, caplog):
    """The provider ends a session at its duration cap; a conversation's runner starts a fresh
    one first, once what it handed over has been spoken, so the avatar is never cut off."""
    from lib.bridge.ports import TaskNote
    from lib.emulators.launcher import start_emulator
    from lib.runtime.avatar_outbox import Switching
    from lib.runtime.avatar_watch import RENEW_BEFORE_S

    caplog.set_level("INFO", logger="lib.runtime.avatar_watch")
    cap_s = RENEW_BEFORE_S + 3  # renewal is due 3 s after the start
    emu = start_emulator("heygen", "--session-duration-limit", str(cap_s))
    store = Store(str(tmp_path / "lab.db"))
    runner = AvatarRunner(
        store,
        provider_factory=lambda name: build_provider(name, local_base_url=emu.base_url),
        heartbeat_timeout_s=None,
        renew_before_cap=True,
    )
    notes: list[object] = []
    runner.subscribe(notes.append)
    try:
        runner.start("local", OPTIONS)
        first = runner.wait_started()
        assert first.state == "live", first.problem
        # About 7 s of speech from the start: it spans the moment the renewal falls due and
        # the watchdog's next round (every 2 s) that queues it.
        runner.speak_soon(
            "This sentence is still being spoken when the renewal falls due, so the new "
            "session waits for it to finish before it takes over.",
            "t1",
        )
        wait_for(lambda: runner.snapshot().session_id not in (None, first.session_id), 40)
        wait_for(lambda: runner.snapshot().state == "live", 20)
        t1 = [n for n in notes if isinstance(n, TaskNote) and n.token == "t1"]
        started = next(n for n in t1 if n.what == "started")
        ended = next(n for n in t1 if n.what == "ended")
        switch_at = next(i for i, n in enumerate(notes) if isinstance(n, Switching))
        assert not ended.interrupted and notes.index(ended) < switch_at  # spoken in full first
        # The renewal was queued while the sentence was being spoken.
        renewing = [r for r in caplog.records if "renewing it" in r.getMessage()]
        assert len(renewing) == 1 and started.at < renewing[0].created < ended.at
        old = store.get("avatar_sessions", first.record_id)
        assert old["status"] == "stopped" and old["stop_reason"] == "RENEWED_BEFORE_CAP"
        live = [s["session_id"] for s in live_sessions(emu.base_url)]
        assert live == [runner.snapshot().session_id]  # the old one is gone, not left running
        runner.speak_soon("And the new one speaks.", "t2")
        wait_for(
            lambda: any(
                isinstance(n, TaskNote) and n.token == "t2" and n.what == "ended" for n in notes
            )
        )
    finally:
        runner.shutdown()
        emu.stop()

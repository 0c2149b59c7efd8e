"""Every injected fault, through the real clients and the bridge: a clear message where the
page shows it, the turn stored with its status, and the session recovering or ending cleanly.
Faults are set on the running servers through their control endpoint, as a tester would."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from lib.avatar.base import SessionOptions
from lib.avatar.providers import build_provider
from lib.bridge.config import BridgeConfig
from lib.emulators.engines.looks import AVATARS
from lib.emulators.faults import FaultError, parse_fault
from lib.emulators.launcher import EmulatorProcess, start_emulator
from lib.runtime.avatar_runner import AvatarRunner
from lib.store.database import Store
from tests.integration.bridge_conftest import conversation, finished_turn, paced_realtime, wait_for
from tests.integration.conftest import CONTROL, _stop_and_check, clear_faults, fault

pytestmark = pytest.mark.integration
__all__ = ["conversation", "paced_realtime"]  # fixtures used below
PRICES = "How much does it cost?"
# Questions with short answers (about 3 s spoken each), where what is said does not matter.
HELLO = "Hello!"
THANKS = "Thank you!"


@pytest.fixture(scope="module")
def faulty_heygen() -> Iterator[EmulatorProcess]:
    emu = start_emulator("heygen")
    yield emu
    _stop_and_check(emu)


@pytest.fixture(scope="module")
def faulty_realtime() -> Iterator[EmulatorProcess]:
    emu = start_emulator("realtime", "--ttft-ms", "0", "--tokens-per-s", "40")
    yield emu
    _stop_and_check(emu)


def runner_on(emu: EmulatorProcess, store: Store) -> AvatarRunner:
    """An avatar runner whose `local` provider is the given server."""
    return AvatarRunner(
        store,
        provider_factory=lambda n: build_provider(n, local_base_url=emu.base_url),
        heartbeat_timeout_s=None,
    )


@pytest.fixture(autouse=True)
def _clear(request) -> Iterator[None]:
    yield
    for name in ("faulty_heygen", "faulty_realtime"):
        if name in request.fixturenames:
            emu = request.getfixturevalue(name)
            clear_faults(emu)


@pytest.fixture
def conv_on(conversation, faulty_heygen, faulty_realtime, monkeypatch):
    """A conversation on the faulty servers (the fixture's runner points at the local one)."""
    from tests.integration import bridge_conftest

    monkeypatch.setattr(
        bridge_conftest,
        "runner_for",
        lambda url, store: runner_on(faulty_heygen, store),
    )
    return lambda **config: conversation(realtime=faulty_realtime, **config)


def test_specs_parse_and_bad_ones_say_the_form():
    f = parse_fault("latency:800@/v1/streaming.task*2")
    assert (f.kind, f.value, f.path, f.times) == ("latency", 800, "/v1/streaming.task", 2)
    with pytest.raises(FaultError, match="unknown fault"):
        parse_fault("meteor")
    with pytest.raises(FaultError, match="needs a value"):
        parse_fault("latency")
    with pytest.raises(FaultError, match="KIND"):
        parse_fault("latency:fast")


def test_control_endpoint_lists_adds_refuses_and_clears(faulty_heygen):
    base = f"{faulty_heygen.base_url}/_control/faults"
    assert httpx.get(base, headers=CONTROL).json() == {"faults": []}
    fault(faulty_heygen, "latency", value=5, path="/v1/streaming.list")
    assert [f["kind"] for f in httpx.get(base, headers=CONTROL).json()["faults"]] == ["latency"]
    bad = httpx.post(base, json={"kind": "meteor"}, headers=CONTROL)
    assert bad.status_code == 400 and "kind" in bad.json()["error"]
    httpx.delete(base, headers=CONTROL)
    assert httpx.get(base, headers=CONTROL).json() == {"faults": []}


def test_added_latency_shows_in_the_avatar_stage(conv_on, faulty_heygen):
    conv = conv_on(bridge=BridgeConfig(chunking="whole"))
    fault(faulty_heygen, "latency", value=800, path="/v1/streaming.task")
    conv.send_text(THANKS)
    turn = finished_turn(conv, 1)
    assert turn.status == "done"
    piece = turn.chunks[0]
    assert piece.accepted_at - piece.sent_at >= 0.8  # the task request took the added time


def test_a_5xx_at_start_falls_back_to_voice_and_is_stored(conv_on, faulty_heygen):
    fault(faulty_heygen, "http_503", path="/v1/streaming.new", times=1)
    conv = conv_on(bridge=BridgeConfig())
    snap = conv.snapshot()
    assert snap.state == "audio_only"
    assert "unavailable" in (snap.banner or "").lower()
    row = conv.store.frame("SELECT status, error FROM avatar_sessions").iloc[-1]
    assert row["status"] == "error" and "unavailable" in row["error"].lower()
    conv.send_text(PRICES)  # the conversation goes on in the model's voice
    assert finished_turn(conv, 1).status == "done"


def test_a_401_mid_conversation_fails_the_piece_and_the_turn(conv_on, faulty_heygen):
    conv = conv_on(bridge=BridgeConfig(chunking="whole"))
    fault(faulty_heygen, "unauthorized", path="/v1/streaming.task", times=1)
    conv.send_text(PRICES)
    turn = finished_turn(conv, 1)
    assert turn.status == "error" and "Unauthorized" in (turn.error or "")
    assert turn.chunks[0].status == "error"
    stored = conv.store.get("turns", turn.id)
    assert stored["status"] == "error" and "Unauthorized" in stored["error"]
    conv.send_text("Where can I park my car?")  # the next task goes through
    assert finished_turn(conv, 2).status == "done"


def test_concurrency_limit_is_shown_with_what_to_do(tmp_path, faulty_heygen):
    fault(faulty_heygen, "concurrency_limit", times=1)
    runner = runner_on(faulty_heygen, Store(str(tmp_path / "lab.db")))
    try:
        runner.start("local", SessionOptions(AVATARS[0].avatar_id, quality="low"))
        snap = runner.wait_started()
        assert snap.state == "error"
        assert snap.problem is not None and "Concurrent limit reached" in snap.problem.message
        assert snap.problem.hint  # what to do
        runner.start("local", SessionOptions(AVATARS[0].avatar_id, quality="low"))
        assert runner.wait_started().state == "live"  # it recovers once the limit clears
    finally:
        runner.shutdown()


def test_the_model_socket_closing_mid_answer_fails_the_turn_and_reconnects(
    conv_on, faulty_realtime
):
    conv = conv_on(bridge=BridgeConfig())
    fault(faulty_realtime, "ws_close", value=3, times=1)
    conv.send_text(PRICES)
    turn = finished_turn(conv, 1)
    assert turn.status == "error" and "connection dropped" in (turn.error or "")
    wait_for(lambda: conv.brain.snapshot().connected and conv.brain.snapshot().reconnects, 20)
    assert conv.brain.snapshot().problem is None  # the reconnect cleared the banner
    conv.send_text("Where can I park my car?")
    assert finished_turn(conv, 2).status == "done"


def test_an_avatar_the_provider_ends_is_replaced_and_speaks_the_next_answer(conv_on, faulty_heygen):
    conv = conv_on(bridge=BridgeConfig(chunking="whole"))
    conv.send_text(HELLO)
    assert finished_turn(conv, 1).status == "done"
    first = conv.runner.snapshot().session_id
    fault(faulty_heygen, "idle_expiry")  # the provider ends every live session now
    wait_for(lambda: conv.snapshot().replacing, 10)
    snap = wait_for(lambda: (s := conv.snapshot()).gaps_ms and s, 15)
    assert snap.state == "live" and not snap.replacing and snap.banner is None
    print(f"avatar ended by the provider → replacement's first frame: {snap.gaps_ms[0]:.0f} ms")
    assert 0 < snap.gaps_ms[0] < 5000  # replaced within a few seconds
    second = conv.runner.snapshot().session_id
    assert second and second != first
    # The gap is the turn's own stage, and the conversation's events say what happened.
    turn = conv.store.get("turns", finished_turn(conv, 1).id)
    gap_ms = (turn["avatar_back_at"] - turn["avatar_lost_at"]) * 1000
    assert gap_ms == pytest.approx(snap.gaps_ms[0], abs=1)
    kinds = list(conv.store.frame("SELECT kind FROM conversation_events ORDER BY at")["kind"])
    assert "avatar_lost" in kinds and kinds.index("avatar_lost") < kinds.index("avatar_replaced")
    rows = conv.store.frame(
        "SELECT id, remote_session_id, status, stop_reason, conversation_id FROM avatar_sessions "
        "ORDER BY requested_at"
    )
    assert list(rows["remote_session_id"]) == [first, second]
    assert rows["conversation_id"].nunique() == 1
    assert rows["status"].iloc[0] == "stopped" and rows["stop_reason"].iloc[0] == "ROOM_DELETED"
    # The next answer is spoken by the new session.
    conv.send_text(THANKS)
    turn2 = finished_turn(conv, 2)
    assert turn2.status == "done"
    spoken_by = conv.store.frame(
        "SELECT DISTINCT session_id FROM avatar_tasks WHERE text != '' AND requested_at > ?",
        (turn["avatar_back_at"],),
    )
    assert list(spoken_by["session_id"]) == [rows["id"].iloc[1]]


def test_a_stalled_avatar_is_replaced(conv_on, faulty_heygen, monkeypatch):
    from lib.runtime import avatar_recovery

    monkeypatch.setattr(avatar_recovery, "STALL_REPLACE_S", 1.5)
    conv = conv_on(bridge=BridgeConfig())
    first = conv.runner.snapshot().session_id
    fault(faulty_heygen, "media_stall", value=5_000)  # the session lives on, frozen
    snap = wait_for(lambda: (s := conv.snapshot()).gaps_ms and s, 20)
    assert snap.state == "live" and conv.runner.snapshot().session_id != first
    reason = conv.store.frame("SELECT stop_reason FROM avatar_sessions ORDER BY requested_at")
    assert reason["stop_reason"].iloc[0] == "REPLACED"  # we stopped the frozen one: not billed on


def test_stalled_and_slow_video_are_noticed_and_recover(tmp_path, faulty_heygen):
    runner = runner_on(faulty_heygen, Store(str(tmp_path / "lab.db")))
    try:
        runner.start("local", SessionOptions(AVATARS[0].avatar_id, quality="low"))
        assert runner.wait_started().state == "live"
        wait_for(lambda: runner.snapshot().video_fps > 20, 10)
        time.sleep(1.5)
        assert runner.snapshot().video_problem is None
        fault(faulty_heygen, "media_stall", value=3000)
        problem = wait_for(lambda: "stalled" in (runner.snapshot().video_problem or ""), 5)
        assert problem
        wait_for(lambda: runner.snapshot().video_problem is None, 10)  # resumes by itself
        fault(faulty_heygen, "media_slow", value=5)
        wait_for(lambda: runner.snapshot().video_fps <= 7, 8)
        snap = runner.snapshot()
        assert "slow" in (snap.video_problem or "") and snap.video_fps >= 3
    finally:
        runner.shutdown()


def test_a_slow_model_shows_the_waiting_state(conv_on, faulty_realtime):
    conv = conv_on(bridge=BridgeConfig())
    fault(faulty_realtime, "ttft", value=4000, times=None)
    conv.send_text(THANKS)
    wait_for(lambda: conv.snapshot().waiting_for_model, 8)
    turn = finished_turn(conv, 1, timeout=40)
    assert turn.status == "done" and not conv.snapshot().waiting_for_model

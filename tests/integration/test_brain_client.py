"""The Realtime client (the real openai SDK underneath) against the embedded server."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from lib.brain.realtime import RealtimeClient
from lib.brain.settings import RealtimeSettings, TurnDetection
from lib.core.config import Secret
from lib.emulators.launcher import start_emulator
from lib.store.database import Store

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


@pytest.fixture(scope="module")
def realtime():
    emu = start_emulator("realtime", "--ttft-ms", "0")
    yield emu
    emu.stop()


def ws(emu) -> str:
    return emu.base_url.replace("http://", "ws://") + "/v1"


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def has_final(s: RealtimeClient, role: str = "assistant") -> bool:
    """A finished transcript line of `role` is on show."""
    return any(ln.role == role and ln.final for ln in s.snapshot().lines)


def session(emu, tmp_path, key="k") -> RealtimeClient:
    return RealtimeClient(
        api_key=Secret(key),
        websocket_base_url=ws(emu),
        provider="local",
        store=Store(str(tmp_path / "lab.db")),
    )


def test_a_message_typed_before_the_connection_is_up_is_answered(realtime, tmp_path):
    s = session(realtime, tmp_path)
    try:
        s.start(RealtimeSettings(turn=TurnDetection(kind="push_to_talk")))
        s.send_text("Where can I park my car?")  # at once: the socket is not open yet
        assert not s.snapshot().connected
        wait_for(lambda: has_final(s))
        answer = next(ln for ln in s.snapshot().lines if ln.role == "assistant")
        assert "park" in answer.text.lower()
    finally:
        s.shutdown()


def test_text_turn_is_answered_and_recorded(realtime, tmp_path):
    s = session(realtime, tmp_path)
    try:
        s.start(RealtimeSettings(turn=TurnDetection(kind="push_to_talk")))
        assert s.wait_connected().connected
        s.send_text("What are your opening hours?")
        wait_for(lambda: has_final(s))
        snap = s.snapshot()
        answer = next(ln for ln in snap.lines if ln.role == "assistant")
        assert "9" in answer.text and answer.status == "completed"
        assert snap.session.get("type") == "realtime"  # the effective GA session echoed back
    finally:
        s.shutdown()
    events = s._store.frame(  # type: ignore[union-attr]
        "SELECT kind, at, payload FROM brain_events WHERE session_id = ? ORDER BY at",
        (s.record_id,),
    )
    kinds = list(events["kind"])
    assert (
        kinds.index("response.created")
        < kinds.index("response.output_text.delta")
        < kinds.index("response.done")
    )
    done = events[events["kind"] == "response.done"].iloc[0]
    assert '"input_tokens"' in done["payload"] and list(events["at"]) == sorted(events["at"])


def test_spoken_question_is_transcribed_and_answered(realtime, tmp_path):
    with wave.open(str(FIXTURES / "piper_hours.wav")) as w:
        pcm = w.readframes(w.getnframes())
    s = session(realtime, tmp_path)
    states = set()
    s.subscribe(lambda ev: states.add(s.snapshot().state))
    try:
        s.start(RealtimeSettings())
        assert s.wait_connected().connected
        silence = np.zeros(24000, dtype=np.int16).tobytes()
        for chunk_start in range(0, len(pcm + silence), 4800):  # 100 ms chunks
            s.append_audio((pcm + silence)[chunk_start : chunk_start + 4800])
            time.sleep(0.02)
        wait_for(lambda: has_final(s))
        wait_for(lambda: has_final(s, "user"))
        lines = s.snapshot().lines
        user = next(ln for ln in lines if ln.role == "user")
        assert "opening hours" in user.text.lower()
        assert "user_speaking" in states
    finally:
        s.shutdown()


def test_bad_key_is_shown_and_not_retried(tmp_path):
    emu = start_emulator("realtime", "--api-key", "the-right-key")
    try:
        s = session(emu, tmp_path, key="a-wrong-key")
        s.start(RealtimeSettings())
        snap = s.wait_connected()
        assert snap.state == "failed" and not snap.connected
        assert snap.problem is not None and "OPENAI_API_KEY" in snap.problem.hint
        time.sleep(1.5)
        assert s.snapshot().reconnects == 0
        s.shutdown()
        row = s._store.get("brain_sessions", s.record_id)  # type: ignore[union-attr]
        assert row["status"] == "failed" and "the-right-key" not in (row["error"] or "")
    finally:
        emu.stop()


def test_server_going_away_keeps_the_transcript_and_reconnects(tmp_path):
    emu = start_emulator("realtime", "--ttft-ms", "0")
    s = session(emu, tmp_path)
    try:
        s.start(RealtimeSettings(turn=TurnDetection(kind="push_to_talk")))
        assert s.wait_connected().connected
        s.send_text("Hello there")
        wait_for(lambda: has_final(s))
        before = s.snapshot().lines
        emu.stop()
        wait_for(lambda: s.snapshot().state == "reconnecting", timeout=10)
        snap = s.snapshot()
        assert snap.problem is not None and "reconnecting" in snap.problem.message
        assert [ln.text for ln in snap.lines] == [ln.text for ln in before]
        wait_for(lambda: s.snapshot().reconnects >= 1, timeout=10)
    finally:
        s.shutdown()
        emu.stop()


def test_push_to_talk_with_nothing_said_explains_itself(realtime, tmp_path):
    s = session(realtime, tmp_path)
    try:
        s.start(RealtimeSettings(turn=TurnDetection(kind="push_to_talk")))
        assert s.wait_connected().connected
        s.push_to_talk_start()
        s.commit()
        wait_for(lambda: s.snapshot().problem is not None)
        problem = s.snapshot().problem
        assert "input_audio_buffer_commit_empty" in problem.message
        assert "speak for a moment" in problem.hint
    finally:
        s.shutdown()


def test_an_unknown_model_says_so_and_the_turn_fails(realtime, tmp_path):
    """As production: the socket opens; every response fails with model_not_found."""
    s = session(realtime, tmp_path)
    try:
        s.start(RealtimeSettings(model="gpt-nonexistent", turn=TurnDetection(kind="push_to_talk")))
        assert s.wait_connected().connected
        s.send_text("Hello?")
        wait_for(lambda: s.snapshot().problem is not None)
        problem = s.snapshot().problem
        assert "`gpt-nonexistent` does not exist" in problem.message
        assert "model" in problem.hint
    finally:
        s.shutdown()

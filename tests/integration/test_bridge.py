"""The bridge end to end: Realtime answers (embedded server, real SDK) spoken by the avatar
(embedded HeyGen server, real httpx client and local room), every stage stamped and stored."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from lib.brain.settings import TurnDetection
from lib.bridge.agents import agents_for
from lib.bridge.chunking import chunk_text
from lib.bridge.config import BridgeConfig
from lib.bridge.sentiment import emotion_for
from lib.emulators.launcher import start_emulator
from lib.metrics.latency import in_order
from lib.metrics.records import interview_answers, turn_table
from lib.runtime.avatar_runner import START_DRAIN_S
from lib.runtime.script import read_turn_audio
from tests.integration.bridge_conftest import (
    conversation,
    finished_turn,
    last_turn,
    paced_realtime,
    wait_for,
)

pytestmark = pytest.mark.integration
__all__ = ["conversation", "paced_realtime"]  # fixtures used below

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"
HOURS = "What are your opening hours?"
PRICES = "How much does it cost?"
TEXT_STAGES = (
    "speech_end_at",
    "response_created_at",
    "first_delta_at",
    "first_chunk_at",
    "avatar_start_at",
    "avatar_stop_at",
)


def test_text_bridge_speaks_the_answer_in_sentences_with_every_stage_stamped(conversation):
    conv = conversation(bridge=BridgeConfig(mode="text", chunking="sentence:20"))
    conv.send_text(HOURS)
    turn = finished_turn(conv, 1)
    assert turn.status == "done", (turn.error, turn.events)
    assert in_order(turn.stamps, TEXT_STAGES), turn.stamps
    assert turn.stamps["response_done_at"] >= turn.stamps["first_delta_at"]
    assert "9 am to 6 pm" in turn.assistant_text
    # The answer has two sentences of ≥ 20 characters: two pieces, spoken in order.
    expected = chunk_text(turn.assistant_text, "sentence:20")
    assert [c.text for c in turn.chunks] == expected and len(expected) == 2
    for a, b in zip(turn.chunks, turn.chunks[1:], strict=False):
        assert a.status == b.status == "done"
        assert a.ready_at <= a.sent_at <= a.accepted_at <= b.sent_at
        assert a.started_at < a.ended_at <= b.started_at
    # Each piece carries the emotion of its own words (sent with the task to the local server).
    assert [c.emotion for c in turn.chunks] == [emotion_for(c.text) for c in turn.chunks]
    # The first piece went out before the model had finished the answer.
    assert turn.chunks[0].sent_at < turn.stamps["response_done_at"]

    rows = conv.store.frame("SELECT * FROM turns WHERE id = ?", (turn.id,))
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["status"] == "done" and row["chunks"] == 2
    for stage in TEXT_STAGES:
        assert row[stage] == pytest.approx(turn.stamps[stage])
    chunks = conv.store.frame("SELECT * FROM chunks WHERE turn_id = ? ORDER BY seq", (turn.id,))
    assert list(chunks["text"]) == expected
    assert set(chunks["status"]) == {"done"}
    assert chunks["task_id"].str.len().min() > 0
    usage = row["usage"]
    assert "total_tokens" in usage


def test_whole_waits_for_the_full_answer_and_sentence_does_not(conversation):
    # One conversation per strategy, asked at once: each measures its own stream, and the
    # two answers are spoken side by side rather than one after the other.
    convs = {
        strategy: conversation(bridge=BridgeConfig(mode="text", chunking=strategy))
        for strategy in ("whole", "sentence:20")
    }
    for conv in convs.values():
        conv.send_text(PRICES)
    delays = {}
    for strategy, conv in convs.items():
        turn = finished_turn(conv, 1)
        assert turn.status == "done", turn.error
        delays[strategy] = turn.stamps["first_chunk_at"] - turn.stamps["first_delta_at"]
        if strategy == "whole":
            assert len(turn.chunks) == 1
            assert turn.chunks[0].text == turn.assistant_text.strip()
        conv.shutdown()
    # At 60 tokens/s the three-sentence answer streams for about a second; its first
    # sentence ("The Basic plan is free.") is short.
    assert delays["sentence:20"] < delays["whole"] / 2, delays


def test_typed_message_while_the_avatar_talks_interrupts_it(conversation):
    conv = conversation(bridge=BridgeConfig(mode="text", chunking="sentence:20"))
    conv.send_text(PRICES)
    wait_for(lambda: conv.runner.snapshot().speaking, 30, "the avatar to start talking")
    t0 = time.time()
    conv.send_text(HOURS)
    first = finished_turn(conv, 1)
    assert first.status == "interrupted"
    assert first.stamps["interrupted_at"] == pytest.approx(t0, abs=0.05)
    statuses = [c.status for c in first.chunks]
    assert "interrupted" in statuses and "done" not in statuses[statuses.index("interrupted") :]
    second = finished_turn(conv, 2)
    assert second.status == "done", second.error
    assert "9 am" in second.assistant_text
    # The avatar went quiet quickly: the interrupted piece ended soon after the barge-in.
    first = finished_turn(conv, 1)  # a fresh copy: the avatar's stop event came after the cut
    cut = next(c for c in first.chunks if c.status == "interrupted")
    assert cut.ended_at is not None and cut.ended_at - t0 < 0.5
    assert second.stamps["avatar_start_at"] > cut.ended_at


def test_interrupt_button_stops_the_avatar_and_the_model(conversation):
    conv = conversation(bridge=BridgeConfig(mode="text", chunking="sentence:20"))
    conv.send_text(PRICES)
    wait_for(lambda: conv.runner.snapshot().speaking, 30, "the avatar to start talking")
    conv.interrupt()
    turn = finished_turn(conv, 1)
    assert turn.status == "interrupted"
    wait_for(lambda: not conv.runner.snapshot().speaking, 5, "the avatar to stop")
    events = conv.store.frame("SELECT kind FROM conversation_events WHERE turn_id = ?", (turn.id,))
    assert "barge_in" in set(events["kind"])
    assert last_turn(conv) is not None and last_turn(conv).seq == 1


def test_audio_bridge_lip_syncs_the_models_own_voice(conversation):
    conv = conversation(bridge=BridgeConfig(mode="audio", audio_first_ms=200, audio_next_ms=1000))
    assert conv.brain.wait_connected().session["output_modalities"] == ["audio"]
    conv.send_text(HOURS)
    turn = finished_turn(conv, 1)
    assert turn.status == "done", (turn.error, turn.events)
    assert in_order(turn.stamps, TEXT_STAGES), turn.stamps
    audio = [c for c in turn.chunks if c.kind == "audio"]
    assert audio and all(c.kind == "audio" for c in turn.chunks)
    # A short first piece so the mouth starts soon, then full-length ones, then the rest.
    assert audio[0].audio_ms == pytest.approx(200)
    assert all(c.audio_ms == pytest.approx(1000) for c in audio[1:-1])
    total_s = sum(c.audio_ms for c in audio) / 1000
    spoken_s = turn.stamps["avatar_stop_at"] - turn.stamps["avatar_start_at"]
    assert spoken_s == pytest.approx(total_s, rel=0.2)  # the avatar played our audio, all of it
    assert {c.status for c in audio} == {"done"}
    assert "9 am" in turn.assistant_text  # the audio transcript


def test_tool_call_shows_thinking_and_the_result_is_spoken(conversation):
    conv = conversation(persona="lookup", bridge=BridgeConfig(chunking="sentence:20"))
    conv.send_text("Where is my order 4572?")
    turn = finished_turn(conv, 1)
    assert turn.status == "done", (turn.error, turn.events)
    notes = [text for _, text in turn.events]
    assert any(n.startswith("tool lookup_order(") and "4572" in n for n in notes), notes
    assert any(n.startswith("tool lookup_order →") for n in notes), notes
    assert "4572" in turn.assistant_text
    assert turn.chunks and {c.status for c in turn.chunks} == {"done"}
    assert not conv.bridge.snapshot().thinking


def test_handoff_switches_to_the_specialists_avatar_and_measures_the_switch(conversation):
    # Both avatars speak at their fastest rate (the specialist's answer is long).
    conv = conversation(persona="greeter", bridge=BridgeConfig(chunking="sentence:20"), rate=1.5)
    first_avatar = conv.runner.snapshot().session_id
    conv.send_text("I have a question about my invoice.")
    wait_for(lambda: conv.snapshot().switch_ms, 60, "the avatar switch")
    wait_for(lambda: conv.bridge.snapshot().agent == "specialist", 5, "the specialist")
    turn = finished_turn(conv, 1, timeout=60)
    assert turn.status == "done", (turn.error, turn.events)
    assert turn.agent == "specialist"
    notes = [text for _, text in turn.events]
    assert "handoff greeter → specialist" in notes
    # The greeter finished its sentence on its own avatar; then the specialist spoke.
    assert turn.assistant_text.startswith("Let me hand you to our specialist")
    assert "Sam" in turn.assistant_text  # the specialist introduces itself
    assert {c.status for c in turn.chunks} == {"done"}
    switched = next(at for at, text in turn.events if text.startswith("avatar switched"))
    greeter = [c for c in turn.chunks if c.ended_at is not None and c.ended_at < switched]
    assert greeter and "One moment please." in greeter[-1].text
    snap = conv.snapshot()
    assert snap.avatar.session_id != first_avatar
    assert 0 < snap.switch_ms[0] < 15_000
    sessions = conv.store.frame(
        "SELECT avatar_id, stop_reason FROM avatar_sessions ORDER BY requested_at"
    )
    assert list(sessions["avatar_id"][-2:]) == ["Ava_Studio_public", "Marcus_Office_public"]
    assert sessions["stop_reason"].iloc[-2] == "AGENT_HANDOFF"
    # Leaving after a switch stops at once: the stop once waited START_DRAIN_S for the
    # outbox's sender, which had run the switch's start and never ends.
    began = time.monotonic()
    conv.shutdown()
    assert time.monotonic() - began < START_DRAIN_S / 2
    assert conv.store.frame("SELECT status FROM avatar_sessions")["status"].iloc[-1] == "stopped"


def test_avatar_that_cannot_start_falls_back_to_the_models_voice(conversation):
    broken = replace(agents_for("concierge")[0], avatar_id="No_Such_Avatar")
    conv = conversation(agents=(broken,), bridge=BridgeConfig(chunking="sentence:20"))
    snap = conv.snapshot()
    assert snap.state == "audio_only"
    assert snap.banner is not None and "voice only" in snap.banner
    assert "No_Such_Avatar" in snap.banner or "avatar" in snap.banner.lower()
    wait_for(lambda: conv.brain.snapshot().session.get("output_modalities") == ["audio"], 10)
    conv.send_text(HOURS)
    turn = finished_turn(conv, 1)
    assert turn.status == "done", (turn.error, turn.events)
    assert not turn.chunks  # nothing went to the avatar
    assert "9 am" in turn.assistant_text
    assert conv.media.voice.buffered_ms > 1000  # the model's own voice, queued for the page
    row = conv.store.get("conversations", conv.record_id)
    assert row is not None and row["error"] and row["avatar_ready_at"] is None
    assert row["brain_ready_at"] is not None


def test_model_going_away_mid_answer_stores_the_turn_as_failed_and_keeps_the_rest(
    conversation, tmp_path
):
    emu = start_emulator("realtime", "--ttft-ms", "0", "--tokens-per-s", "15")
    try:
        conv = conversation(realtime=emu, bridge=BridgeConfig(chunking="sentence:20"))
        conv.send_text(PRICES)
        wait_for(lambda: conv.runner.snapshot().speaking, 30, "the avatar to start talking")
        emu.stop()
        turn = finished_turn(conv, 1)
        assert turn.status == "error" and "connection dropped" in (turn.error or "")
        assert turn.assistant_text.startswith("The Basic plan is free.")
        row = conv.store.get("turns", turn.id)
        assert row is not None and row["status"] == "error" and row["error"] == turn.error
        assert row["first_chunk_at"] == pytest.approx(turn.stamps["first_chunk_at"])
        chunks = conv.store.frame("SELECT * FROM chunks WHERE turn_id = ?", (turn.id,))
        assert len(chunks) >= 1 and chunks["sent_at"].notna().all()
        wait_for(lambda: conv.brain.snapshot().state == "reconnecting", 10)
    finally:
        emu.stop()


def test_avatar_session_ended_by_the_provider_mid_answer_is_stored_and_voice_takes_over(
    conversation, local_heygen, monkeypatch
):
    from lib.runtime import avatar_recovery

    # With replacements spent (tests/integration/test_faults.py replaces it within the budget).
    monkeypatch.setattr(avatar_recovery, "MAX_REPLACEMENTS", 0)
    conv = conversation(bridge=BridgeConfig(chunking="sentence:20"))
    conv.send_text(PRICES)
    wait_for(lambda: conv.runner.snapshot().speaking, 30, "the avatar to start talking")
    session_id = conv.runner.snapshot().session_id
    httpx.post(
        f"{local_heygen.base_url}/v1/streaming.stop",
        headers={"x-api-key": "k"},
        json={"session_id": session_id},
        timeout=10,
    ).raise_for_status()
    turn = finished_turn(conv, 1)
    assert turn.status == "error" and "avatar" in (turn.error or "")
    assert turn.chunks[0].status == "interrupted"
    assert conv.snapshot().state == "audio_only"
    assert "ROOM_DELETED" in (conv.snapshot().banner or "")
    conv.send_text(HOURS)  # the conversation goes on in the model's voice
    second = finished_turn(conv, 2)
    assert second.status == "done" and not second.chunks


def speak_into_the_room(conv, clip: str = "piper_hours.wav") -> None:
    """What the page's mic forwarder does in listen mode: 100 ms of PCM16 24 kHz at a time,
    in real time, into the avatar's room; then quiet, so the avatar's VAD ends the turn."""
    pcm = read_turn_audio(FIXTURES / clip)
    audio = np.concatenate([pcm, np.zeros(int(24_000 * 1.2), np.int16)]).astype("<i2")
    step = 2400
    t0 = time.monotonic()
    for i in range(0, len(audio), step):
        conv.mic_sink(audio[i : i + step].tobytes())
        time.sleep(max(0.0, t0 + (i + step) / 24_000 - time.monotonic()))


LISTEN_STAGES = (
    "speech_started_at",
    "speech_end_at",
    "transcript_at",
    "response_created_at",
    "first_delta_at",
    "first_chunk_at",
    "avatar_start_at",
    "avatar_stop_at",
)


def test_listen_bridge_the_avatar_hears_and_a_text_model_answers(conversation):
    conv = conversation(bridge=BridgeConfig(mode="listen", chunking="sentence:20"))
    assert conv.snapshot().state == "live"
    assert conv.brain.snapshot().session["api"] == "chat.completions"
    speak_into_the_room(conv)
    turn = finished_turn(conv, 1, timeout=40)
    assert turn.status == "done", (turn.error, turn.events)
    assert turn.source == "voice"
    assert "opening hours" in turn.user_text.lower()
    assert "9 am" in turn.assistant_text
    assert in_order(turn.stamps, LISTEN_STAGES), turn.stamps
    assert len(turn.chunks) == 2 and {c.status for c in turn.chunks} == {"done"}
    # The text model's answer and usage are recorded like the Realtime model's.
    row = conv.store.get("turns", turn.id)
    assert row is not None and "chat.completions" in row["usage"]
    kinds = set(
        conv.store.frame(
            "SELECT kind FROM brain_events WHERE session_id = ?", (conv.brain.record_id,)
        )["kind"]
    )
    assert {"response.created", "response.output_text.delta", "response.done"} <= kinds
    conv_row = conv.store.get("conversations", conv.record_id)
    assert conv_row is not None and conv_row["bridge"] == "listen"
    assert conv_row["chunking"] == "listen/sentence:20"


def test_interview_asks_the_edited_questions_in_order_and_pairs_the_answers(conversation):
    questions = ("What is your name?", "Which city do you live in?", "What do you do?")
    conv = conversation(persona="interviewer", interview_questions=questions, greet=True)
    first = finished_turn(conv, 1)  # the interviewer speaks first
    assert first.source == "agent" and questions[0] in first.assistant_text
    conv.send_text("My name is Ada.")
    second = finished_turn(conv, 2)
    assert questions[1] in second.assistant_text
    conv.send_text("I live in Lisbon.")
    third = finished_turn(conv, 3)
    assert questions[2] in third.assistant_text
    answers = interview_answers(turn_table(conv.store, conv.record_id))
    assert list(answers["question"]) == list(questions[:2])
    assert list(answers["answer"]) == ["My name is Ada.", "I live in Lisbon."]
    assert set(answers["status"]) == {"done"}


def test_holding_the_mic_while_the_avatar_speaks(conversation):
    conv = conversation(hold_mic_while_speaking=True, turn=TurnDetection(), bridge=BridgeConfig())
    assert conv.mic.enabled
    conv.send_text(PRICES)
    wait_for(lambda: conv.runner.snapshot().speaking, 30, "the avatar to start talking")
    assert not conv.mic.enabled  # half duplex: what the user says now is not sent
    finished_turn(conv, 1)
    wait_for(lambda: conv.mic.enabled, 5, "the mic to open again")


def test_stopping_mid_answer_stores_the_turn_as_interrupted(conversation):
    conv = conversation(bridge=BridgeConfig(chunking="sentence:20"))
    conv.send_text(PRICES)
    wait_for(lambda: conv.runner.snapshot().speaking, 30, "the avatar to start talking")
    conv.shutdown("PAGE_LEFT")
    row = conv.store.frame("SELECT * FROM turns").iloc[0]
    assert row["status"] == "interrupted" and row["interrupted_at"] >= row["avatar_start_at"]
    chunks = conv.store.frame("SELECT status FROM chunks WHERE turn_id = ?", (row["id"],))
    assert "speaking" not in set(chunks["status"]) and "sent" not in set(chunks["status"])
    assert conv.store.get("conversations", conv.record_id)["status"] == "stopped"
    # Why it ended is kept with the paid session (the Sessions page shows it).
    avatar = conv.store.frame(
        "SELECT stop_reason FROM avatar_sessions WHERE conversation_id = ?", (conv.record_id,)
    )
    assert list(avatar["stop_reason"]) == ["PAGE_LEFT"]


def test_a_model_that_never_answers_the_handshake_is_reported(tmp_path, local_heygen, monkeypatch):
    """A server that accepts the connection and then says nothing: the session retries
    (and says so), and the conversation says the model did not connect."""
    import socket
    import threading

    from lib.brain import realtime as realtime_module
    from lib.runtime import conversation as conversation_module
    from lib.runtime.conversation import Conversation, ConversationConfig
    from lib.store.database import Store
    from tests.integration.bridge_conftest import PTT, runner_for

    monkeypatch.setattr(realtime_module, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(conversation_module, "START_TIMEOUT_S", 3.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    threading.Thread(
        target=lambda: held.extend(silent.accept()[0] for _ in range(8)), daemon=True
    ).start()
    store = Store(str(tmp_path / "lab.db"))
    from lib.brain.realtime import RealtimeClient
    from lib.core.config import Secret

    brain = RealtimeClient(
        api_key=Secret("k"),
        websocket_base_url=f"ws://127.0.0.1:{silent.getsockname()[1]}/v1",
        provider="local",
        store=store,
    )
    conv = Conversation(
        store,
        ConversationConfig(avatar="local", quality="low", turn=PTT, greet=False),
        runner=runner_for(local_heygen.base_url, store),
        brain=brain,
        heartbeat_timeout_s=None,
    )
    try:
        conv.start()
        wait_for(lambda: "reconnecting" in str(conv.brain.snapshot().problem), 10)
        banner = wait_for(lambda: conv.snapshot().banner, 10)
        assert "did not connect within 3 s" in banner and "Stop" in banner
        row = store.get("conversations", conv.record_id)
        assert row["status"] == "failed" and "did not connect" in row["error"]
    finally:
        conv.shutdown()
        silent.close()

"""The bridge end to end: Realtime answers (embedded server, real SDK) spoken by the avatar
(embedded HeyGen server, real httpx client and local room), every stage stamped and stored."""

from __future__ import annotations

import time

import pytest

from lib.bridge.bridge import BridgeConfig, stage_order_ok
from lib.bridge.chunking import chunk_text
from tests.integration.bridge_conftest import (
    conversation,
    finished_turn,
    last_turn,
    paced_realtime,
    wait_for,
)

pytestmark = pytest.mark.integration
__all__ = ["conversation", "paced_realtime"]  # fixtures used below

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
    assert stage_order_ok(turn, TEXT_STAGES), turn.stamps
    assert turn.stamps["response_done_at"] >= turn.stamps["first_delta_at"]
    assert "9 am to 6 pm" in turn.assistant_text
    # The answer has two sentences of ≥ 20 characters: two pieces, spoken in order.
    expected = chunk_text(turn.assistant_text, "sentence:20")
    assert [c.text for c in turn.chunks] == expected and len(expected) == 2
    for a, b in zip(turn.chunks, turn.chunks[1:], strict=False):
        assert a.status == b.status == "done"
        assert a.ready_at <= a.sent_at <= a.accepted_at <= b.sent_at
        assert a.started_at < a.ended_at <= b.started_at
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
    delays = {}
    for strategy in ("whole", "sentence:20"):
        conv = conversation(bridge=BridgeConfig(mode="text", chunking=strategy))
        conv.send_text(PRICES)
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

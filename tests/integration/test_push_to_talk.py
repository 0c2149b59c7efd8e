"""Push to talk against the embedded Realtime and HeyGen servers: the press and the release
are the turn's speech start and end (so the turn has its end-to-end figure and an interview
answer its duration), and the words still in flight at the release are not cut."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from lib.bridge.timeline import Turn
from lib.metrics.latency import durations_ms, in_order
from lib.metrics.records import interview_answers, turn_table
from lib.runtime.push_to_talk import RELEASE_TAIL_S
from lib.runtime.script import read_turn_audio
from tests.integration.bridge_conftest import (
    conversation,
    paced_realtime,
    wait_for,
)

pytestmark = pytest.mark.integration
__all__ = ["conversation", "paced_realtime"]  # fixtures used below

ANSWER = Path(__file__).resolve().parents[1] / "fixtures" / "speech" / "piper_answer.wav"
RATE = 24000
STAGES = (
    "speech_started_at",
    "speech_end_at",
    "committed_at",
    "response_created_at",
    "first_delta_at",
    "avatar_start_at",
)


def stamped(conv, seq: int, stage: str) -> Turn | None:
    """Turn `seq` once it has `stage` (None before)."""
    turn = next((t for t in conv.bridge.snapshot().turns if t.seq == seq), None)
    return turn if turn is not None and stage in turn.stamps else None


def frames(pcm: np.ndarray) -> list[av.AudioFrame]:
    """20 ms mono frames, as the WebRTC receiver hands them to the mic."""
    out = []
    for i in range(0, len(pcm), RATE // 50):
        frame = av.AudioFrame.from_ndarray(
            pcm[i : i + RATE // 50].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        out.append(frame)
    return out


def test_a_held_answer_gets_its_duration_and_end_to_end_and_keeps_its_last_words(
    conversation, local_realtime
):
    conv = conversation(
        realtime=local_realtime,
        persona="interviewer",
        interview_questions=("What do you do for a living?",),
        greet=True,
    )
    # The interviewer asks first; the user answers over it once the question is written.
    wait_for(lambda: stamped(conv, 1, "response_done_at"), 30, "the question")
    # "I have worked as a software engineer for five years." — speech ends at 3.2 s. The
    # user lets go at 2.6 s: "five years." is still on its way over WebRTC then.
    pcm = read_turn_audio(ANSWER)
    held, in_flight = pcm[: int(2.6 * RATE)], pcm[int(2.6 * RATE) : int(3.4 * RATE)]
    released = time.time()
    pressed = released - len(held) / RATE
    conv.push_to_talk.press(pressed)
    for frame in frames(held):
        conv.mic(frame)
    conv.push_to_talk.release(released)
    for frame in frames(in_flight):  # arriving within the tail, after the release
        conv.mic(frame)
    assert time.time() - released < RELEASE_TAIL_S  # (the test's own timing held)
    # Once the avatar starts answering (not waiting for it to finish)...
    turn = wait_for(lambda: stamped(conv, 2, "avatar_start_at"), 30, "the avatar to answer")
    assert not conv.mic.enabled  # closed after the tail
    assert turn.stamps["speech_started_at"] == pytest.approx(pressed)
    assert turn.stamps["speech_end_at"] == pytest.approx(released)
    assert in_order(turn.stamps, STAGES), turn.stamps
    # Sent once the tail had passed.
    assert turn.stamps["committed_at"] >= released + RELEASE_TAIL_S
    assert "years" in turn.user_text.lower(), turn.user_text  # the last words were kept
    assert durations_ms(turn.stamps)["e2e"] > 0

    # The stored turn and the interview answer: duration and reply end to end.
    table = turn_table(conv.store, conv.record_id)
    row = table[table["seq"] == 2].iloc[0]
    assert row["e2e_ms"] == pytest.approx(durations_ms(turn.stamps)["e2e"], abs=1)
    answers = interview_answers(table)
    assert list(answers["question"]) == ["What do you do for a living?"]
    assert answers.iloc[0]["answer_seconds"] == pytest.approx(len(held) / RATE, abs=0.01)
    assert answers.iloc[0]["reply_e2e_ms"] == pytest.approx(row["e2e_ms"])


def test_a_release_without_a_press_is_ignored_and_a_quick_press_again_goes_on(
    conversation, local_realtime
):
    """A release the server never saw the press of does nothing; a press again within the
    release's tail takes the hold up again: one turn, from the first press to the last release,
    with the words of both holds."""
    conv = conversation(realtime=local_realtime, persona="echo")
    conv.push_to_talk.release()
    assert conv.bridge.snapshot().turns == () and not conv.mic.enabled
    pcm = read_turn_audio(ANSWER)
    half = int(1.9 * RATE)  # "I have worked as a software" | "engineer for five years."
    start = time.time()
    conv.push_to_talk.press(start)
    for frame in frames(pcm[:half]):
        conv.mic(frame)
    conv.push_to_talk.release()
    conv.push_to_talk.press()  # within the tail
    for frame in frames(pcm[half:]):
        conv.mic(frame)
    end = time.time()
    conv.push_to_talk.release(end)
    turn = wait_for(lambda: stamped(conv, 1, "avatar_start_at"), 30, "the avatar to answer")
    assert turn.stamps["speech_started_at"] == pytest.approx(start)
    assert turn.stamps["speech_end_at"] == pytest.approx(end)
    heard = turn.user_text.lower()
    assert "worked" in heard and "years" in heard, heard
    assert len(conv.bridge.snapshot().turns) == 1

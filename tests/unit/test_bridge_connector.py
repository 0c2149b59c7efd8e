"""The connector bridge mode: the vendor's model answers; the bridge records each turn from
the events its room reports (user heard, avatar started / said / stopped)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from lib.avatar.base import Emotion, StartTalking, StopTalking, TalkingMessage
from lib.brain.events import SpeechStarted, SpeechStopped, TranscriptDone
from lib.bridge.agents import agents_for
from lib.bridge.bridge import Bridge
from lib.bridge.config import BridgeConfig
from lib.bridge.timeline import Timeline
from lib.store.database import Store


class Avatar:
    def __init__(self) -> None:
        self.interrupts = 0
        self.pieces: list[str] = []

    def speak_soon(self, text: str, token: str, emotion: Emotion | None = None) -> None:
        self.pieces.append(text)

    def speak_audio_soon(self, pcm24k: bytes, token: str, *, event_id: str, end: bool) -> None:
        self.pieces.append("audio")

    def interrupt_soon(self) -> None:
        self.interrupts += 1

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        pass


class Brain:
    def cancel(self) -> None:
        pass

    def send_function_output(self, call_id: str, output: str) -> None:
        pass


def bridge(tmp_path) -> tuple[Bridge, Avatar, Store]:
    store = Store(str(tmp_path / "lab.db"))
    avatar = Avatar()
    b = Bridge(
        Timeline(store, "conv"),
        avatar,
        Brain(),
        BridgeConfig(mode="connector"),
        agents_for("concierge"),
    )
    return b, avatar, store


def heard(b: Bridge, item: str, text: str, t: float) -> None:
    b.on_brain_event(SpeechStarted("avatar.user_start", 0, item, at=t))
    b.on_brain_event(SpeechStopped("avatar.user_stop", 0, item, at=t + 1.5))
    b.on_brain_event(TranscriptDone("avatar.user_transcript", item, text, None, at=t + 1.7))


def test_a_heard_question_and_the_vendors_answer_make_one_done_turn(tmp_path) -> None:
    b, avatar, store = bridge(tmp_path)
    b.on_avatar(StartTalking(task_id="open", at=10.0))  # the context's opening line
    b.on_avatar(TalkingMessage(task_id="open", text="Hello!", at=10.1))
    b.on_avatar(StopTalking(task_id="open", duration_ms=900, at=11.0))
    heard(b, "u1", "What are your opening hours?", 20.0)
    b.on_avatar(StartTalking(task_id="r1", at=22.1))
    b.on_avatar(TalkingMessage(task_id="r1", text="We open at nine.", at=22.2))
    b.on_avatar(StopTalking(task_id="r1", duration_ms=2000, at=24.1))
    turns = store.frame("SELECT * FROM turns ORDER BY seq")
    assert list(turns["source"]) == ["agent", "voice"]
    assert list(turns["status"]) == ["done", "done"]
    answer = turns.iloc[1]
    assert answer["user_text"] == "What are your opening hours?"
    assert answer["assistant_text"] == "We open at nine."
    assert (answer["speech_end_at"], answer["avatar_start_at"]) == (21.5, 22.1)
    assert answer["avatar_stop_at"] == 24.1
    assert avatar.pieces == []  # nothing of ours is spoken: the vendor answers


def test_speaking_over_the_answer_cuts_it_and_its_end_does_not_close_the_new_turn(tmp_path):
    b, avatar, store = bridge(tmp_path)
    heard(b, "u1", "Tell me about the plans.", 0.0)
    b.on_avatar(StartTalking(task_id="r1", at=2.0))
    b.on_brain_event(SpeechStarted("avatar.user_start", 0, "u2", at=3.0))  # barge-in
    b.on_avatar(StopTalking(task_id="r1", duration_ms=1000, at=3.1))  # the vendor stops
    turns = store.frame("SELECT * FROM turns ORDER BY seq")
    assert list(turns["status"]) == ["interrupted", "open"]
    assert turns.iloc[0]["interrupted_at"] == 3.0 and avatar.interrupts == 1
    assert pd.isna(turns.iloc[1]["avatar_start_at"])  # its answer has not begun


def test_a_typed_message_is_a_turn_the_vendor_answers(tmp_path) -> None:
    b, _, store = bridge(tmp_path)
    b.user_text("Where can I park?")
    b.on_avatar(StartTalking(task_id="r1", at=5.0))
    b.on_avatar(StopTalking(task_id="r1", duration_ms=1000, at=6.0))
    turn = store.frame("SELECT * FROM turns").iloc[0]
    assert (turn["source"], turn["status"], turn["user_text"]) == (
        "text",
        "done",
        "Where can I park?",
    )
    assert BridgeConfig(mode="connector").label == "connector"

"""Small pure parts of the bridge: emotion from sentiment, audio pieces, sample tools."""

from __future__ import annotations

import json

import httpx
import pytest

from lib.avatar.heygen import HeyGenApi
from lib.bridge.audio_chunks import BYTES_PER_MS, AudioChunker, audio_ms
from lib.bridge.sentiment import emotion_for
from lib.bridge.tools import run_tool
from lib.core.config import Secret


@pytest.mark.parametrize(
    ("text", "emotion"),
    [
        ("Congratulations, that is wonderful news!", "excited"),
        ("Unfortunately your order was damaged.", "serious"),
        ("I'm sorry about the delay, but don't worry, it's fine.", "soothing"),
        ("Premium is 19 dollars a month and Team is 49 dollars.", "broadcaster"),
        ("Let me check that for you.", "friendly"),
        ("", "friendly"),
    ],
)
def test_emotion_follows_the_sentiment_of_the_piece(text, emotion):
    assert emotion_for(text) == emotion


def test_audio_pieces_are_short_first_then_long_and_nothing_is_lost():
    chunker = AudioChunker(first_ms=200, next_ms=1000)
    pcm = bytes(range(256)) * (BYTES_PER_MS * 2500 // 256 + 1)
    pcm = pcm[: BYTES_PER_MS * 2500 + 3]  # 2.5 s and an odd trailing byte
    pieces = []
    for i in range(0, len(pcm), 4800):  # 100 ms deltas
        pieces += chunker.feed(pcm[i : i + 4800])
    rest = chunker.finish()
    assert [audio_ms(p) for p in pieces] == [200, 1000, 1000]
    assert audio_ms(rest) == pytest.approx(300, abs=0.1)
    assert b"".join([*pieces, rest]) == pcm[: len(pcm) - 1]  # whole samples only
    with pytest.raises(ValueError, match="positive"):
        AudioChunker(0, 100)


def test_tools_answer_deterministically_and_explain_bad_calls():
    first = json.loads(run_tool("lookup_order", '{"order_id": "4572"}'))
    assert first == json.loads(run_tool("lookup_order", '{"order_id": "4572"}'))
    assert first["order_id"] == "4572" and first["status"]
    assert "error" in json.loads(run_tool("lookup_order", "{}"))
    assert "not valid JSON" in json.loads(run_tool("get_weather", "{oops"))["error"]
    assert "unknown tool" in json.loads(run_tool("launch_rocket", "{}"))["error"]


@pytest.mark.parametrize("per_task", [True, False])
def test_task_emotion_is_sent_only_where_the_server_takes_it(per_task):
    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"code": 100, "data": {"task_id": "t1", "duration_ms": 5}})

    api = HeyGenApi(
        Secret("k"),
        "http://heygen.test",
        transport=httpx.MockTransport(handler),
        task_emotion=per_task,
    )
    import asyncio

    task_id, _ = asyncio.run(api.task("tok", "s1", "Hello", emotion="excited"))
    assert task_id == "t1"
    assert ("emotion" in sent[0]) is per_task

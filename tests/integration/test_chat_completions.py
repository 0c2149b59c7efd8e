"""The embedded server's `/v1/chat/completions` through the real `openai` SDK, and the text
model session of the avatar-listens bridge on top of it."""

from __future__ import annotations

import time

import openai
import pytest
from openai import OpenAI

from lib.brain.events import ResponseDone, TextDelta
from lib.brain.settings import RealtimeSettings
from lib.brain.textmodel import TextModelSession
from lib.core.config import Secret
from lib.store.database import Store
from tests.integration.realtime_conftest import REALTIME_KEY, realtime_server

pytestmark = pytest.mark.integration
__all__ = ["realtime_server"]  # fixture used below
SYSTEM = {"role": "system", "content": "Be brief. persona:concierge"}
ASK = {"role": "user", "content": "What are your opening hours?"}


def client(port: int, key: str = REALTIME_KEY) -> OpenAI:
    return OpenAI(api_key=key, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)


def test_streamed_answer_arrives_in_word_deltas_with_usage(realtime_server):
    t0 = time.perf_counter()
    stream = client(realtime_server.port).chat.completions.create(
        model="gpt-4.1-mini",
        messages=[SYSTEM, ASK],
        stream=True,
        stream_options={"include_usage": True},
    )
    deltas, times, usage, finish = [], [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                deltas.append(choice.delta.content)
                times.append(time.perf_counter() - t0)
            finish = choice.finish_reason or finish
    text = "".join(deltas)
    assert "9 am to 6 pm" in text and len(deltas) > 10
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0
    # Paced at the server's 40 tokens/s after a 150 ms first token: it streams, not dumps.
    assert times[0] >= 0.1 and times[-1] - times[0] > 0.5


def test_whole_answer_and_the_errors_openai_gives(realtime_server):
    c = client(realtime_server.port)
    whole = c.chat.completions.create(model="gpt-4.1-mini", messages=[SYSTEM, ASK])
    assert "9 am" in (whole.choices[0].message.content or "")
    assert whole.usage is not None and whole.usage.total_tokens > 0
    with pytest.raises(openai.AuthenticationError) as bad_key:
        client(realtime_server.port, "sk-wrong").chat.completions.create(
            model="gpt-4.1-mini", messages=[ASK]
        )
    assert bad_key.value.status_code == 401 and bad_key.value.code == "invalid_api_key"
    with pytest.raises(openai.BadRequestError) as empty:
        c.chat.completions.create(model="gpt-4.1-mini", messages=[])
    assert empty.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as bad_role:
        c.chat.completions.create(
            model="gpt-4.1-mini",
            messages=[{"role": "wizard", "content": "hi"}],  # type: ignore[list-item]
        )
    assert bad_role.value.code == "invalid_value"


def session_on(port: int, key: str, tmp_path) -> TextModelSession:
    return TextModelSession(
        api_key=Secret(key),
        base_url=f"http://127.0.0.1:{port}/v1",
        provider="local",
        store=Store(str(tmp_path / "lab.db")),
    )


def test_text_model_session_streams_events_cancels_and_keeps_history(realtime_server, tmp_path):
    session = session_on(realtime_server.port, REALTIME_KEY, tmp_path)
    events = []
    session.subscribe(events.append)
    session.start(RealtimeSettings(instructions="persona:concierge"))
    try:
        session.send_text("How much does it cost?")
        deadline = time.monotonic() + 10
        while not any(isinstance(e, TextDelta) for e in events):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        session.cancel()
        while not any(isinstance(e, ResponseDone) for e in events):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        done = next(e for e in events if isinstance(e, ResponseDone))
        assert done.status == "cancelled"
        session.send_text("Where can I park my car?")
        while sum(isinstance(e, ResponseDone) for e in events) < 2:
            assert time.monotonic() < deadline + 10
            time.sleep(0.02)
        last = [e for e in events if isinstance(e, ResponseDone)][-1]
        assert last.status == "completed" and last.usage["api"] == "chat.completions"
        lines = session.snapshot().lines
        assert [ln.role for ln in lines] == ["user", "assistant", "user", "assistant"]
        assert "park" in lines[-1].text.lower()
    finally:
        session.shutdown()


def test_text_model_refusing_the_key_says_what_to_do(realtime_server, tmp_path):
    session = session_on(realtime_server.port, "sk-wrong", tmp_path)
    session.start(RealtimeSettings())
    try:
        session.send_text("hello")
        deadline = time.monotonic() + 10
        while session.snapshot().state != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        problem = session.snapshot().problem
        assert problem is not None and "refused the API key" in problem.message
        assert "OPENAI_API_KEY" in problem.hint
    finally:
        session.shutdown()

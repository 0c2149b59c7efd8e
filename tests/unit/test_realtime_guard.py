"""The Realtime session's one guard: a client-event handler that fails unexpectedly becomes a
`server_error` event (traceback in the log) and the connection goes on; and the bounded
caches a client can grow (issue 24, finding 6)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from lib.emulators.realtime.limits import MAX_CACHED_RESPONDERS
from lib.emulators.realtime.model import ModelTiming
from lib.emulators.realtime.session import RealtimeSession
from lib.emulators.realtime.turns import cached_responder


def test_a_failing_handler_is_a_server_error_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[dict[str, Any]] = []

    async def send(payload: dict[str, Any]) -> None:
        sent.append(payload)

    async def broken(msg: dict[str, Any]) -> None:
        raise ZeroDivisionError("a bug")

    async def scenario() -> None:
        # Listener and speaker are never reached by these events.
        session = RealtimeSession(send, "gpt-realtime", ModelTiming(0, 0), None, None)  # type: ignore[arg-type]
        session._response_create = broken  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR):
            await session.handle('{"type": "response.create", "event_id": "evt_1"}')
        error = sent[-1]["error"]
        assert (error["type"], error["code"], error["event_id"]) == ("server_error", None, "evt_1")
        assert "ZeroDivisionError" not in error["message"]  # the details stay in the log
        assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)
        await session.handle('{"type": "session.update", "session": {"type": "realtime"}}')
        assert sent[-1]["type"] == "session.updated"
        await session.close()

    asyncio.run(scenario())


def test_the_persona_cache_keeps_the_most_recently_used() -> None:
    cache: dict[str, Any] = {}
    first = cached_responder(cache, "persona:concierge")
    for i in range(3 * MAX_CACHED_RESPONDERS):
        cached_responder(cache, f"persona:interviewer questions: q{i}")
        assert cached_responder(cache, "persona:concierge") is first  # in use: kept
    assert len(cache) == MAX_CACHED_RESPONDERS

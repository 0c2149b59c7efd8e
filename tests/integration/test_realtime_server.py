"""The local OpenAI Realtime (GA) server, driven by the unmodified `openai` SDK:
`AsyncOpenAI(websocket_base_url="ws://127.0.0.1:PORT/v1").realtime.connect(model=…)`."""

from __future__ import annotations

import asyncio
import base64
import json
import math
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from lib.emulators.launcher import EmulatorProcess
from tests.integration.realtime_conftest import (
    MODEL,
    QUESTION,
    RATE,
    TEXT_SESSION,
    Recorder,
    connect,
    instant_server,
    realtime_server,
    send_audio,
    spoken_question,
    user_text,
)

pytestmark = pytest.mark.integration
__all__ = ["instant_server", "realtime_server", "spoken_question"]  # fixtures used below


LOOKUP_QUESTION = "Where is my order 4572?"
LOOKUP_RESULT = {"status": "shipped", "eta": "tomorrow"}
LOOKUP_EXPECT = "Order 4572 is shipped and should arrive tomorrow."


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _text_turn(rec: Recorder, text: str) -> Any:
    await rec.conn.conversation.item.create(item=user_text(text))
    await rec.conn.response.create()
    return await rec.until("response.done")


def test_handshake_and_session_created(realtime_server: EmulatorProcess) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            first = await conn.recv()
            assert first.type == "session.created"
            assert first.event_id.startswith("event_")
            s = first.session
            assert s.id.startswith("sess_") and s.object == "realtime.session"
            assert (s.type, s.model, s.output_modalities) == ("realtime", MODEL, ["audio"])
            assert s.audio.input.format.type == "audio/pcm" and s.audio.input.format.rate == RATE
            td = s.audio.input.turn_detection
            assert (td.type, td.threshold, td.prefix_padding_ms) == ("server_vad", 0.5, 300)
            assert td.create_response and td.interrupt_response
            assert s.audio.output.voice == "marin" and s.max_output_tokens == "inf"

    run(scenario())


def test_session_update_requires_type_and_rejects_beta_keys(
    realtime_server: EmulatorProcess,
) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await rec.until("session.created")
            await conn.session.update(session={"instructions": "hi"})
            err = (await rec.until("error")).error
            assert (err.type, err.code, err.param) == (
                "invalid_request_error",
                "missing_required_parameter",
                "session.type",
            )
            assert err.message == "Missing required parameter: 'session.type'."
            await conn.send(
                {"type": "session.update", "session": {"type": "realtime", "modalities": ["text"]}}
            )
            err = (await rec.until("error")).error
            assert (err.code, err.param) == ("unknown_parameter", "session.modalities")
            await conn.session.update(
                session={
                    "type": "realtime",
                    "instructions": "persona:echo",
                    "output_modalities": ["text"],
                    "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}},
                }
            )
            s = (await rec.until("session.updated")).session
            assert s.instructions == "persona:echo" and s.output_modalities == ["text"]
            assert s.audio.input.turn_detection.type == "semantic_vad"
            assert s.audio.input.turn_detection.eagerness == "auto"
            assert s.audio.input.format.rate == RATE  # untouched fields survive the merge
            assert [e.type for e in rec.events].count(
                "session.updated"
            ) == 1  # errors apply nothing

    run(scenario())


def test_bad_key_and_beta_header_are_refused(realtime_server: EmulatorProcess) -> None:
    async def refused(key: str, headers: dict[str, str]) -> tuple[Any, int | None]:
        async with connect(realtime_server.port, key, extra_headers=headers) as conn:
            event = await conn.recv()
            with pytest.raises(ConnectionClosed) as closed:
                await conn.recv()
            return event, closed.value.rcvd.code if closed.value.rcvd else None

    event, code = run(refused("sk-wrong-key-123456", {}))
    assert event.type == "error" and event.error.code == "invalid_api_key"
    assert event.error.message.startswith("Incorrect API key provided: sk-")
    assert "wrong-key-123456" not in event.error.message  # masked like the real API
    event, code = run(refused("sk-test-realtime", {"OpenAI-Beta": "realtime=v1"}))
    assert event.error.code == "beta_api_shape_disabled" and code == 4000
    assert "no longer supported" in event.error.message


def test_text_turn_streams_deltas_and_usage(realtime_server: EmulatorProcess) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(session=TEXT_SESSION)
            await rec.until("session.updated")
            done = await _text_turn(rec, QUESTION)
            kinds = [k for k in rec.types() if k.startswith("response.")]
            assert kinds[:4] == [
                "response.created",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
            ]
            assert kinds[-4:] == [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.done",
            ]
            text = "".join(e.delta for e in rec.of("response.output_text.delta"))
            assert text == rec.of("response.output_text.done")[0].text
            ttft = rec.time_of("response.output_text.delta") - rec.time_of("response.created")
            assert ttft >= 0.1  # the server's --ttft-ms 150
            assert "Monday" in text
            r = done.response
            assert r.status == "completed" and r.output[0].content[0].text == text
            u = r.usage
            assert u.output_tokens == u.output_token_details.text_tokens == math.ceil(len(text) / 4)
            assert u.input_tokens == u.input_token_details.text_tokens > 0
            assert u.input_token_details.cached_tokens == 0  # nothing was sent before
            assert u.total_tokens == u.input_tokens + u.output_tokens
            assert len(rec.of("rate_limits.updated")) == 1

    run(scenario())


def test_history_is_resent_and_cached(realtime_server: EmulatorProcess) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(session=TEXT_SESSION)
            first = (await _text_turn(rec, QUESTION)).response.usage
            second = (await _text_turn(rec, "Is there parking?")).response.usage
            # Turn 2 re-sends turn 1 (question + answer) and gets turn 1's input from cache.
            assert second.input_tokens >= first.input_tokens + first.output_tokens
            assert second.input_token_details.cached_tokens == first.input_tokens
            cd = second.input_token_details.cached_tokens_details
            assert cd.text_tokens == first.input_tokens and cd.audio_tokens == 0

    run(scenario())


def test_voice_turn_with_server_vad_and_transcription(
    realtime_server: EmulatorProcess, spoken_question: bytes
) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
                }
            )
            await rec.until("session.updated")
            await send_audio(conn, spoken_question)
            done = await rec.until("response.done")
            if not rec.of("conversation.item.input_audio_transcription.completed"):
                await rec.until("conversation.item.input_audio_transcription.completed")
            started = rec.of("input_audio_buffer.speech_started")[0]
            stopped = rec.of("input_audio_buffer.speech_stopped")[0]
            committed = rec.of("input_audio_buffer.committed")[0]
            assert started.item_id == stopped.item_id == committed.item_id
            assert 0 <= started.audio_start_ms < 400 < stopped.audio_end_ms
            user_item = rec.of("conversation.item.added")[0].item
            assert user_item.role == "user" and user_item.content[0].type == "input_audio"
            tx = rec.of("conversation.item.input_audio_transcription.completed")[0]
            words = tx.transcript.lower()
            assert "opening" in words and "hours" in words
            deltas = rec.of("conversation.item.input_audio_transcription.delta")
            assert "".join(d.delta for d in deltas) == tx.transcript
            assert tx.usage.type == "tokens" and tx.usage.input_tokens > 0
            assert "Monday" in done.response.output[0].content[0].text
            # User audio is billed at 10 tokens/s of the committed turn.
            turn_ms = stopped.audio_end_ms - started.audio_start_ms
            audio_tokens = done.response.usage.input_token_details.audio_tokens
            assert abs(audio_tokens - turn_ms / 100) <= 1

    run(scenario())


def test_audio_output_mode(realtime_server: EmulatorProcess) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["audio"],
                    "audio": {"input": {"turn_detection": None}, "output": {"voice": "cedar"}},
                }
            )
            done = await _text_turn(rec, QUESTION)
            pcm = b"".join(base64.b64decode(e.delta) for e in rec.of("response.output_audio.delta"))
            transcript = rec.of("response.output_audio_transcript.done")[0].transcript
            deltas = rec.of("response.output_audio_transcript.delta")
            assert "".join(d.delta for d in deltas) == transcript and "Monday" in transcript
            assert len(rec.of("response.output_audio.done")) == 1
            audio_ms = len(pcm) / (RATE * 2) * 1000
            assert audio_ms > 1000
            part = rec.of("response.content_part.done")[0].part
            assert part.type == "audio" and part.transcript == transcript
            otd = done.response.usage.output_token_details
            assert otd.audio_tokens == math.ceil(audio_ms / 50)  # 20 tokens/s of speech
            assert done.response.output[0].content[0].type == "output_audio"

    run(scenario())


def test_push_to_talk_commit_rules(
    realtime_server: EmulatorProcess, spoken_question: bytes
) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(session=TEXT_SESSION)
            await rec.until("session.updated")
            await conn.input_audio_buffer.commit()
            err = (await rec.until("error")).error
            assert err.code == "input_audio_buffer_commit_empty"
            assert "buffer too small" in err.message
            await send_audio(conn, spoken_question)
            await conn.input_audio_buffer.commit()
            committed = await rec.until("input_audio_buffer.committed")
            await conn.response.create()
            done = await rec.until("response.done")
            assert not rec.of("input_audio_buffer.speech_started")  # no VAD in push-to-talk
            assert rec.types().count("response.created") == 1
            assert "Monday" in done.response.output[0].content[0].text
            assert rec.of("conversation.item.added")[0].item.id == committed.item_id
            await send_audio(conn, spoken_question[: RATE * 2])
            await conn.input_audio_buffer.clear()
            await rec.until("input_audio_buffer.cleared")
            # A whole audio message can also be created as an item (no buffer involved).
            audio_b64 = base64.b64encode(spoken_question).decode()
            part = {"type": "input_audio", "audio": audio_b64}
            await conn.conversation.item.create(
                item={"type": "message", "role": "user", "content": [part]}
            )
            added = await rec.until("conversation.item.added")
            assert added.item.content[0].audio is None  # audio is never echoed back
            await conn.response.create()
            done = await rec.until("response.done")
            assert "Monday" in done.response.output[0].content[0].text

    run(scenario())


def test_cancel_and_concurrency_errors(realtime_server: EmulatorProcess) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(session=TEXT_SESSION)
            await conn.response.cancel()
            err = (await rec.until("error")).error
            assert err.code == "response_cancel_not_active"
            await conn.conversation.item.create(item=user_text(QUESTION))
            await conn.response.create()
            created = await rec.until("response.created")
            await conn.response.create()
            err = (await rec.until("error")).error
            assert err.code == "conversation_already_has_active_response"
            assert created.response.id in err.message
            await rec.until("response.output_text.delta")
            await conn.response.cancel()
            done = await rec.until("response.done")
            assert done.response.status == "cancelled"
            assert done.response.status_details.reason == "client_cancelled"
            assert done.response.usage.output_tokens > 0  # what was generated is still billed
            await conn.send({"type": "made.up"})
            err = (await rec.until("error")).error
            assert (err.type, err.code, err.param) == (
                "invalid_request_error",
                "invalid_value",
                "type",
            )
            assert err.message.startswith("Invalid value: 'made.up'. Supported values are:")
            await _text_turn(rec, "Thanks!")  # the session is still usable

    run(scenario())


def test_barge_in_cancels_the_active_response(
    realtime_server: EmulatorProcess, spoken_question: bytes
) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            await conn.conversation.item.create(item=user_text("What can you do?"))
            await conn.response.create()
            await rec.until("response.output_text.delta")
            await send_audio(conn, spoken_question)
            cancelled = await rec.until("response.done")
            assert cancelled.response.status == "cancelled"
            assert cancelled.response.status_details.reason == "turn_detected"
            kinds = rec.types()
            assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
            answer = await rec.until("response.done")  # the new turn gets its own answer
            assert answer.response.status == "completed"

    run(scenario())


def test_function_call_round_trip(realtime_server: EmulatorProcess) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            session = {**TEXT_SESSION, "instructions": "persona:lookup"}
            await conn.session.update(session=session)
            first = await _text_turn(rec, LOOKUP_QUESTION)
            call = first.response.output[-1]
            assert call.type == "function_call" and call.call_id.startswith("call_")
            args_done = rec.of("response.function_call_arguments.done")[0]
            deltas = rec.of("response.function_call_arguments.delta")
            assert "".join(d.delta for d in deltas) == args_done.arguments == call.arguments
            assert args_done.name == call.name and json.loads(call.arguments)
            await conn.conversation.item.create(
                item={
                    "type": "function_call_output",
                    "call_id": call.call_id,
                    "output": json.dumps(LOOKUP_RESULT),
                }
            )
            await rec.until("conversation.item.done")
            await conn.response.create()
            done = await rec.until("response.done")
            assert LOOKUP_EXPECT in done.response.output[0].content[0].text

    run(scenario())


def test_handoff_is_a_transfer_tool_call(realtime_server: EmulatorProcess) -> None:
    async def scenario() -> None:
        async with connect(realtime_server.port) as conn:
            rec = Recorder(conn)
            await conn.session.update(session={**TEXT_SESSION, "instructions": "persona:greeter"})
            first = await _text_turn(rec, "I have a question about my invoice.")
            message, call = first.response.output
            assert "specialist" in message.content[0].text  # the handoff is announced first
            assert (call.type, call.name) == ("function_call", "transfer_to_specialist")
            # The client switches agents the openai-realtime-agents way: new instructions.
            await conn.conversation.item.create(
                item={"type": "function_call_output", "call_id": call.call_id, "output": "{}"}
            )
            await conn.session.update(
                session={"type": "realtime", "instructions": "persona:specialist"}
            )
            await rec.until("session.updated")
            await conn.response.create()
            done = await rec.until("response.done")
            text = done.response.output[0].content[0].text
            assert "Sam" in text and "invoice" in text

    run(scenario())


def test_ttft_zero_speech_end_to_first_delta(
    instant_server: EmulatorProcess, spoken_question: bytes
) -> None:
    async def scenario() -> tuple[float, float]:
        async with connect(instant_server.port, "any-key") as conn:
            rec = Recorder(conn)
            await conn.session.update(
                session={
                    "type": "realtime",
                    "output_modalities": ["text"],
                    "audio": {"input": {"transcription": {"model": "gpt-transcribe"}}},
                }
            )
            await rec.until("session.updated")
            reader = asyncio.ensure_future(rec.until("response.done"))  # timestamps on arrival
            await send_audio(conn, spoken_question)
            await reader
            if not rec.of("conversation.item.input_audio_transcription.completed"):
                await rec.until("conversation.item.input_audio_transcription.completed")
            end = rec.time_of("input_audio_buffer.speech_stopped")
            first = rec.time_of("response.output_text.delta") - end
            tx = rec.time_of("conversation.item.input_audio_transcription.completed") - end
            return first * 1000, tx * 1000

    run(scenario())  # the first turn may still wait for the STT model to load
    first_ms, tx_ms = run(scenario())
    print(
        f"\nrealtime ttft=0: speech_stopped → first text delta {first_ms:.0f} ms, "
        f"→ transcription completed {tx_ms:.0f} ms"
    )
    assert 0 < tx_ms <= first_ms < 20_000  # loose: a shared CI box can be busy

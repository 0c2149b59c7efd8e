"""Issue 24, finding 6 (REST half), against the real local server's `/v1/chat/completions`:
deeply nested JSON, fields of the wrong type and oversized bodies get OpenAI's JSON error body
with a 4xx (never a plain-text 500), and the openai SDK's requests still work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from lib.emulators.launcher import EmulatorProcess, start_emulator
from tests.integration.conftest import _stop_and_check

pytestmark = pytest.mark.integration

KEY = "sk-test-chat-refusals"
ASK = {"role": "user", "content": "What are your opening hours?"}


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorProcess]:
    emu = start_emulator("realtime", "--api-key", KEY, "--ttft-ms", "0", "--tokens-per-s", "0")
    yield emu
    _stop_and_check(emu)


def post(emu: EmulatorProcess, content: Any, key: str = KEY) -> httpx.Response:
    return httpx.post(
        f"{emu.base_url}/v1/chat/completions",
        content=content,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


def body(**fields: Any) -> str:
    return json.dumps({"model": "gpt-4.1-mini", "messages": [ASK], **fields})


def sdk_still_answers(emu: EmulatorProcess) -> None:
    client = OpenAI(api_key=KEY, base_url=f"{emu.base_url}/v1", max_retries=0)
    stream = client.chat.completions.create(
        model="gpt-4.1-mini",
        messages=[ASK],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "9 am" in text and chunks[-1].usage is not None


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    return error


BAD: list[tuple[str, str | None, str | None]] = [
    # The two: nesting deep enough to blow the parser's recursion; a string option.
    ('{"model": "m", "messages": ' + "[" * 100_000 + "]" * 100_000 + "}", None, None),
    (body(stream=True, stream_options="yes"), "invalid_type", "stream_options"),
    (body(stream_options={"include_usage": "yes"}), "invalid_type", "stream_options.include_usage"),
    (body(stream="yes"), "invalid_type", "stream"),
    (body(temperature="hot"), "invalid_type", "temperature"),
    (body(temperature=3), "decimal_above_max_value", "temperature"),
    (body(max_tokens=0), "integer_below_min_value", "max_tokens"),
    (body(n=1.5), "invalid_type", "n"),
    (body(stop=[1]), "invalid_type", "stop[0]"),
    (body(tools={"a": 1}), "invalid_type", "tools"),
    (body(response_format="json"), "invalid_type", "response_format"),
    (
        json.dumps(
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "text", "text": {}}]}],
            }
        ),
        "invalid_value",
        "messages[0]",
    ),
    ('{"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_p": NaN}', None, None),
    ('{"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_p": 1e999}', None, None),
    ('{"model": "m", "metadata": ' + '{"a": ' * 80 + "1" + "}" * 80 + "}", None, None),
]


@pytest.mark.parametrize(
    ("raw", "code", "param"), BAD, ids=[f"{i}-{p or 'json'}" for i, (_, _, p) in enumerate(BAD)]
)
def test_malformed_request_is_a_400_in_openai_shape(
    server: EmulatorProcess, raw: str, code: str | None, param: str | None
) -> None:
    error = error_of(post(server, raw), 400)
    assert (error["code"], error["param"]) == (code, param)
    assert len(error["message"]) < 300  # what was sent is never echoed whole


def test_oversized_body_is_a_413_whether_declared_or_streamed(server: EmulatorProcess) -> None:
    big = body(messages=[{"role": "user", "content": "a" * (2 << 20)}])
    error = error_of(post(server, big), 413)
    assert error["code"] == "request_too_large" and "1048576 bytes" in error["message"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield big.encode()[: 1 << 20]
        yield big.encode()[1 << 20 :]

    assert error_of(post(server, chunked()), 413)["code"] == "request_too_large"
    sdk_still_answers(server)


def test_refusals_leave_the_sdk_working(server: EmulatorProcess) -> None:
    for raw, _, _ in BAD[:2]:
        post(server, raw)
    sdk_still_answers(server)
    # A key with characters outside ASCII is refused (constant-time comparison on bytes).
    error = httpx.post(
        f"{server.base_url}/v1/chat/completions",
        content=body(),
        headers=[(b"Authorization", "Bearer sk-t\u00e9st".encode("latin-1"))],
        timeout=30,
    ).json()["error"]
    assert error["code"] == "invalid_api_key"

"""`POST /v1/chat/completions` on the local Realtime server: the streaming text model of the
avatar-listens bridge, for the unmodified `openai` SDK (`client.chat.completions.create`).

Same scripted personas (from `persona:<name>` in the system message) and the same simulated
timing (ttft, tokens per second) as the Realtime endpoint. Streams as server-sent events
(`chat.completion.chunk`, a usage chunk with `stream_options.include_usage`, `[DONE]`), or
answers whole. Errors have OpenAI's shape: 401 `invalid_api_key`, 400 `invalid_request_error`
(every field checked for type and range), 413 for a body over MAX_BODY_BYTES.
Tools are not offered here: a persona that would call one says so instead.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from lib.emulators.engines.responder import Responder
from lib.emulators.faults import FAULTS
from lib.emulators.realtime.fields import (
    InvalidField,
    JsonDict,
    array,
    boolean,
    decimal,
    integer,
    obj,
    parse_json,
    text,
)
from lib.emulators.realtime.keys import bearer_key, key_accepted
from lib.emulators.realtime.limits import MAX_TOOLS
from lib.emulators.realtime.model import ModelTiming, split_deltas
from lib.emulators.realtime.turns import cached_responder
from lib.emulators.realtime.usage import text_tokens

KEYS_URL = "https://platform.openai.com/account/api-keys"
ROLES = frozenset({"system", "developer", "user", "assistant"})
# A request body: the bridge's requests are a few KB (the conversation so far); 1 MiB holds
# hours of chat. Larger bodies get a 413 before they are read.
MAX_BODY_BYTES = 1024 * 1024
MAX_MODEL_CHARS = 256  # model ids, fine-tuned ones included, and other short strings


def _error(status: int, message: str, code: str | None, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}, status
    )


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        strings = [t for t in texts if isinstance(t, str)]
        if len(strings) == len(texts):
            return " ".join(strings)
    return None


async def _read_body(request: Request) -> bytes | None:
    """The request body, or None past MAX_BODY_BYTES (refused before it is all read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


# The options the server reads or OpenAI checks the type of, with OpenAI's ranges.
_DECIMALS = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
_INTEGERS = {
    "n": (1, 128),
    "max_tokens": (1, 1 << 31),
    "max_completion_tokens": (1, 1 << 31),
    "seed": (-(1 << 63), (1 << 63) - 1),
    "top_logprobs": (0, 20),
}
_BOOLEANS = ("stream", "logprobs", "parallel_tool_calls", "store")
_STRINGS = ("user", "service_tier", "reasoning_effort", "safety_identifier")
_OBJECTS = ("response_format", "metadata", "logit_bias", "prediction", "audio")


def _check_options(body: JsonDict) -> None:
    """Every optional field of the wrong type or range → InvalidField (a 400, never a 500)."""
    text(body["model"], "model", MAX_MODEL_CHARS)
    for key, (lo, hi) in _DECIMALS.items():
        if body.get(key) is not None:
            decimal(body[key], key, lo, hi)
    for key, (ilo, ihi) in _INTEGERS.items():
        if body.get(key) is not None:
            integer(body[key], key, ilo, ihi)
    for key in _BOOLEANS:
        if body.get(key) is not None:
            boolean(body[key], key)
    for key in _STRINGS:
        if body.get(key) is not None:
            text(body[key], key, MAX_MODEL_CHARS)
    for key in _OBJECTS:
        if body.get(key) is not None:
            obj(body[key], key)
    options = body.get("stream_options")
    if options is not None:
        obj(options, "stream_options")
        if options.get("include_usage") is not None:
            boolean(options["include_usage"], "stream_options.include_usage")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        for i, word in enumerate(array(stop, "stop", 4)):
            text(word, f"stop[{i}]", MAX_MODEL_CHARS)
    if body.get("tools") is not None:
        for i, tool in enumerate(array(body["tools"], "tools", MAX_TOOLS)):
            obj(tool, f"tools[{i}]")


class ChatModel:
    def __init__(self, api_key: str | None, timing: ModelTiming) -> None:
        self.api_key = api_key
        self.timing = timing
        self._responders: dict[str, Responder] = {}

    def _refusal(self, request: Request) -> JSONResponse | None:
        path = request.url.path
        for kind, status in (("http_500", 500), ("http_503", 503)):
            if FAULTS.take(kind, path):  # fault injection
                return JSONResponse(
                    {
                        "error": {
                            "message": "The server had an error while processing your request.",
                            "type": "server_error",
                            "param": None,
                            "code": None,
                        }
                    },
                    status,
                )
        if FAULTS.take("unauthorized", path):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        key = bearer_key(request.headers.get("authorization", ""))
        if not key:
            return _error(401, "You didn't provide an API key.", "missing_api_key")
        if not key_accepted(key, self.api_key):
            return _error(
                401,
                f"Incorrect API key provided. You can find your API key at {KEYS_URL}.",
                "invalid_api_key",
            )
        return None

    async def endpoint(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        raw = await _read_body(request)
        if raw is None:
            return _error(
                413,
                f"Request body too large: at most {MAX_BODY_BYTES} bytes are accepted. Send "
                "fewer or shorter messages.",
                "request_too_large",
            )
        try:
            body = parse_json(raw)
        except ValueError as exc:
            return _error(400, f"We could not parse the JSON body of your request. ({exc})", None)
        if not isinstance(body, dict):
            return _error(400, "The body must be a JSON object.", None)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "you must provide a model parameter", None, "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "Missing required parameter: 'messages'.", None, "messages")
        try:
            _check_options(body)
        except InvalidField as exc:
            return _error(400, str(exc), exc.code, exc.param)
        convo: list[tuple[str, str]] = []
        for i, m in enumerate(messages):
            role = m.get("role") if isinstance(m, dict) else None
            text = _text_of(m.get("content")) if isinstance(m, dict) else None
            if role not in ROLES or text is None:
                return _error(
                    400,
                    f"Invalid value for 'messages[{i}]': expected a role of system, developer, "
                    "user or assistant with text content.",
                    "invalid_value",
                    f"messages[{i}]",
                )
            convo.append((str(role), text))
        system = " ".join(t for r, t in convo if r in ("system", "developer"))
        dialog = [(r, t) for r, t in convo if r in ("user", "assistant")]
        user_text = next((t for r, t in reversed(dialog) if r == "user"), "")
        responder = cached_responder(self._responders, system)
        reply = await asyncio.to_thread(responder.reply, user_text, dialog[:-1])
        text = reply.text or "Sorry, I can't look that up in this chat."
        prompt_tokens = sum(text_tokens(t) for _, t in convo)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": text_tokens(text),
            "total_tokens": prompt_tokens + text_tokens(text),
            "prompt_tokens_details": {"cached_tokens": 0},
        }
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not body.get("stream"):
            await asyncio.sleep(self.timing.ttft_ms / 1000 + self.timing.delay_for(text))
            return JSONResponse(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage", False))
        return StreamingResponse(
            self._stream(cid, created, model, text, usage if include_usage else None),
            media_type="text/event-stream",
        )

    async def _stream(
        self, cid: str, created: int, model: str, text: str, usage: dict[str, Any] | None
    ) -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return f"data: {json.dumps(body)}\n\n"

        slow = FAULTS.peek("ttft")
        await asyncio.sleep(self.timing.ttft_ms / 1000 + (slow.value / 1000 if slow else 0.0))
        yield chunk({"role": "assistant", "content": ""})
        for piece in split_deltas(text):
            await asyncio.sleep(self.timing.delay_for(piece))
            yield chunk({"content": piece})
        yield chunk({}, "stop")
        if usage is not None:
            body = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"

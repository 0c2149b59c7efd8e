"""What a persona sees of a Realtime conversation: which persona the instructions name, the
(role, text) history, and the user's words or tool output it should answer (blocking calls)."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.responder import Reply, Responder, ToolCall, make_responder
from lib.emulators.realtime.events import JsonDict
from lib.emulators.realtime.fields import InvalidField, text
from lib.emulators.realtime.items import Entry
from lib.emulators.realtime.limits import MAX_CACHED_RESPONDERS, MAX_TURN_AUDIO_BYTES
from lib.emulators.realtime.response import TRANSFER_PREFIX

DEFAULT_PERSONA = "concierge"
MAX_TURN_BASE64_CHARS = 4 * math.ceil(MAX_TURN_AUDIO_BYTES / 3)
_PERSONA = re.compile(r"persona:\s*([A-Za-z_-]+)")


_QUESTIONS = re.compile(r"questions:\s*(.+)$", re.S)


def persona_of(instructions: str | None) -> str:
    match = _PERSONA.search(instructions or "")
    return match.group(1).lower() if match else DEFAULT_PERSONA


def cached_responder(cache: dict[str, Responder], instructions: str | None) -> Responder:
    """The scripted persona the instructions name (`persona:<name>`, an interviewer's
    `questions: a | b`), made once per persona and question list; unknown → the default.
    The cache keeps the MAX_CACHED_RESPONDERS most recently used (clients choose the keys)."""
    persona, questions = persona_of(instructions), persona_questions(instructions)
    key = f"{persona}|{'|'.join(questions)}"
    responder = cache.pop(key, None)
    if responder is None:
        options = {"questions": questions} if persona == "interviewer" and questions else {}
        try:
            responder = make_responder(persona, **options)
        except (KeyError, ValueError):
            responder = make_responder(DEFAULT_PERSONA)
    cache[key] = responder  # dicts keep insertion order: the last used is last
    while len(cache) > MAX_CACHED_RESPONDERS:
        del cache[next(iter(cache))]
    return responder


def persona_questions(instructions: str | None) -> tuple[str, ...]:
    """An interviewer's questions, listed in the instructions as `questions: a | b | c`."""
    match = _QUESTIONS.search(instructions or "")
    if not match:
        return ()
    return tuple(q.strip() for q in match.group(1).split("|") if q.strip())


def take_input_audio(item: JsonDict) -> npt.NDArray[np.int16] | None:
    """A user message's `input_audio` PCM (its parts' audio, in order); the base64 is dropped
    from the stored item, as the server never echoes audio back. Raises InvalidField for audio
    that isn't base64 or is longer than one turn may be."""
    if item.get("role") != "user" or not isinstance(item.get("content"), list):
        return None
    item["content"] = [dict(p) for p in item["content"] if isinstance(p, dict)]
    chunks: list[bytes] = []
    for i, part in enumerate(item["content"]):
        if part.get("type") != "input_audio" or part.get("audio") is None:
            continue
        param = f"item.content[{i}].audio"
        encoded = text(part.pop("audio"), param, MAX_TURN_BASE64_CHARS)
        try:
            chunks.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidField(
                f"Invalid '{param}'. Expected base64-encoded audio.", "invalid_value", param
            ) from None
        part.setdefault("transcript", None)
    if not chunks:
        return None
    data = b"".join(chunks)
    data = data[: len(data) - len(data) % 2]
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def history(entries: list[Entry]) -> list[tuple[str, str]]:
    """(role, text) of the user and assistant messages: what personas read."""
    return [
        (str(e.item["role"]), e.text())
        for e in entries
        if e.item.get("type") == "message" and e.item.get("role") in {"user", "assistant"}
    ]


def compose_reply(responder: Responder, entries: list[Entry]) -> Reply:
    """The responder's next turn for this conversation (blocking)."""
    last = entries[-1] if entries else None
    user_text = next((e.text() for e in reversed(entries) if e.item.get("role") == "user"), "")
    if last is not None and last.item.get("type") == "function_call_output":
        call_id = last.item.get("call_id")
        call = next(
            (
                e.item
                for e in entries
                if e.item.get("type") == "function_call" and e.item.get("call_id") == call_id
            ),
            None,
        )
        if call is not None and not str(call.get("name", "")).startswith(TRANSFER_PREFIX):
            try:
                args = json.loads(call.get("arguments") or "{}")
            except ValueError:
                args = {}
            tool = ToolCall(str(call.get("name")), args)
            return responder.tool_result(tool, str(last.item.get("output", "")))
        # After a handoff the (new) agent answers the user's last words itself.
    return responder.reply(user_text, history(entries))

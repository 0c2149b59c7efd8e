"""The fields of the Realtime client events, checked for type and range before anything is
applied: response.create's `response`, conversation items, ids, and the pieces session.update
shares with them (tools, voice, max_output_tokens, output_modalities)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from lib.emulators.realtime.fields import (
    InvalidField,
    JsonDict,
    array,
    boolean,
    choice,
    integer,
    missing,
    obj,
    only_keys,
    text,
    wrong_type,
)
from lib.emulators.realtime.limits import (
    MAX_CALL_ID_CHARS,
    MAX_CONTENT_PARTS,
    MAX_CONVERSATION_ITEMS,
    MAX_IDLE_TIMEOUT_MS,
    MAX_ITEM_ID_CHARS,
    MAX_METADATA_KEY_CHARS,
    MAX_METADATA_PAIRS,
    MAX_METADATA_VALUE_CHARS,
    MAX_NAME_CHARS,
    MAX_OUTPUT_TOKENS,
    MAX_TEXT_CHARS,
    MAX_TOOL_DESCRIPTION_CHARS,
    MAX_TOOLS,
)

OUTPUT_MODALITIES = (["text"], ["audio"])
TOOL_CHOICES = ("auto", "none", "required")
RESPONSE_KEYS = frozenset(
    {
        "audio",
        "conversation",
        "input",
        "instructions",
        "max_output_tokens",
        "metadata",
        "output_modalities",
        "parallel_tool_calls",
        "prompt",
        "reasoning",
        "tool_choice",
        "tools",
    }
)
ITEM_TYPES = ("message", "function_call", "function_call_output")
ITEM_KEYS = {
    "message": frozenset({"id", "type", "object", "status", "role", "content"}),
    "function_call": frozenset({"id", "type", "object", "status", "name", "call_id", "arguments"}),
    "function_call_output": frozenset({"id", "type", "object", "status", "call_id", "output"}),
}
ROLES = ("user", "assistant", "system")
PART_TYPES = {
    "user": ("input_text", "input_audio", "input_image"),
    "assistant": ("output_text", "output_audio"),
    "system": ("input_text",),
}
PART_KEYS = frozenset({"type", "text", "audio", "transcript", "image_url", "detail"})
ITEM_STATUSES = ("completed", "incomplete", "in_progress")


# ---- shared with session.update ----------------------------------------------------------------


def instructions(value: Any, param: str) -> str:
    return text(value, param, MAX_TEXT_CHARS)


def output_modalities(value: Any, param: str) -> list[str]:
    modes = array(value, param, 2)
    for i, mode in enumerate(modes):
        choice(mode, f"{param}[{i}]", ("text", "audio"))
    if modes not in OUTPUT_MODALITIES:
        raise InvalidField(
            f"Invalid '{param}': only ['text'] or ['audio'] is supported.", "invalid_value", param
        )
    return modes


def voice(value: Any, param: str) -> str | JsonDict:
    """A voice name (built in or custom), or a custom voice `{"id": …}`."""
    if isinstance(value, dict):
        only_keys(value, ("id",), param)
        if "id" not in value:
            raise missing(f"{param}.id")
        text(value["id"], f"{param}.id", MAX_NAME_CHARS)
        return value
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    return text(value, param, MAX_NAME_CHARS)


def max_output_tokens(value: Any, param: str) -> int | str:
    if value == "inf":
        return "inf"
    if isinstance(value, str):
        raise InvalidField(
            f"Invalid value: '{value[:16]}'. Supported values are: an integer between 1 and "
            f"{MAX_OUTPUT_TOKENS}, and 'inf'.",
            "invalid_value",
            param,
        )
    return integer(value, param, 1, MAX_OUTPUT_TOKENS)


def tools(value: Any, param: str) -> list[JsonDict]:
    checked = array(value, param, MAX_TOOLS)
    for i, tool in enumerate(checked):
        where = f"{param}[{i}]"
        obj(tool, where)
        kind = choice(tool.get("type", "function"), f"{where}.type", ("function", "mcp"))
        if kind != "function":
            continue  # an MCP server's tools are listed by the server; not run here
        only_keys(tool, ("type", "name", "description", "parameters"), where)
        if "name" not in tool:
            raise missing(f"{where}.name")
        text(tool["name"], f"{where}.name", MAX_NAME_CHARS)
        if "description" in tool:
            text(tool["description"], f"{where}.description", MAX_TOOL_DESCRIPTION_CHARS)
        if "parameters" in tool:
            obj(tool["parameters"], f"{where}.parameters")
    return checked


def tool_choice(value: Any, param: str) -> str | JsonDict:
    if isinstance(value, dict):
        kind = choice(value.get("type"), f"{param}.type", ("function", "mcp"))
        if kind == "function":
            only_keys(value, ("type", "name"), param)
            text(value.get("name"), f"{param}.name", MAX_NAME_CHARS)
        return value
    return choice(value, param, TOOL_CHOICES)


def nullable_object(value: Any, param: str) -> JsonDict | None:
    return None if value is None else obj(value, param)


# ---- response.create -----------------------------------------------------------------------


def metadata(value: Any, param: str) -> JsonDict | None:
    if value is None:
        return None
    pairs = obj(value, param)
    if len(pairs) > MAX_METADATA_PAIRS:
        raise InvalidField(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{MAX_METADATA_PAIRS} properties, but got an object with {len(pairs)} properties "
            "instead.",
            "object_above_max_properties",
            param,
        )
    for key, val in pairs.items():
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise InvalidField(
                f"Invalid '{param}': string too long. Expected keys with maximum length "
                f"{MAX_METADATA_KEY_CHARS}, but got a key with length {len(key)} instead.",
                "string_above_max_length",
                param,
            )
        text(val, f"{param}.{key}", MAX_METADATA_VALUE_CHARS)
    return pairs


# The response fields checked on their own, in the order they are checked: field → check.
RESPONSE_CHECKS: Final[dict[str, Callable[[Any, str], object]]] = {
    "instructions": instructions,
    "max_output_tokens": max_output_tokens,
    "metadata": metadata,
    "output_modalities": output_modalities,
    "parallel_tool_calls": boolean,
    "prompt": nullable_object,
    "reasoning": obj,
    "tool_choice": tool_choice,
    "tools": tools,
}


def response_params(value: Any) -> JsonDict:
    """response.create's `response` (absent or null: the session's defaults)."""
    if value is None:
        return {}
    params = obj(value, "response")
    only_keys(params, RESPONSE_KEYS, "response")
    if "audio" in params:
        audio = obj(params["audio"], "response.audio")
        only_keys(audio, ("output",), "response.audio")
        if "output" in audio:
            out = obj(audio["output"], "response.audio.output")
            only_keys(out, ("format", "voice"), "response.audio.output")
            if "voice" in out:
                voice(out["voice"], "response.audio.output.voice")
            if "format" in out:
                obj(out["format"], "response.audio.output.format")
    if "conversation" in params:
        text(params["conversation"], "response.conversation", MAX_NAME_CHARS)
    if "input" in params:
        for i, item in enumerate(array(params["input"], "response.input", MAX_CONVERSATION_ITEMS)):
            obj(item, f"response.input[{i}]")
    for name, check in RESPONSE_CHECKS.items():
        if name in params:
            check(params[name], f"response.{name}")
    return params


# ---- conversation items and ids ------------------------------------------------------------


def item_id(msg: JsonDict, key: str = "item_id") -> str:
    if key not in msg:
        raise missing(key)
    return text(msg[key], key, MAX_ITEM_ID_CHARS)


def previous_item_id(msg: JsonDict) -> str | None:
    value = msg.get("previous_item_id")
    return None if value is None else text(value, "previous_item_id", MAX_ITEM_ID_CHARS)


def _part(part: Any, where: str, role: str) -> None:
    obj(part, where)
    only_keys(part, PART_KEYS, where)
    choice(part.get("type"), f"{where}.type", PART_TYPES[role])
    for key in ("text", "transcript", "image_url", "detail"):
        if part.get(key) is not None:
            text(part[key], f"{where}.{key}", MAX_TEXT_CHARS)
    if part.get("audio") is not None and not isinstance(part["audio"], str):
        raise wrong_type(f"{where}.audio", "a string", part["audio"])  # size: turns.py


def item(value: Any) -> JsonDict:
    """conversation.item.create's `item` (its audio is decoded and bounded by the session)."""
    if not isinstance(value, dict) or "type" not in value:
        raise missing("item.type")
    kind = choice(value["type"], "item.type", ITEM_TYPES)
    only_keys(value, ITEM_KEYS[kind], "item")
    if "id" in value:
        text(value["id"], "item.id", MAX_ITEM_ID_CHARS)
    if "status" in value:
        choice(value["status"], "item.status", ITEM_STATUSES)
    if "object" in value:
        choice(value["object"], "item.object", ("realtime.item",))
    if kind == "message":
        if "role" not in value:
            raise missing("item.role")
        role = choice(value["role"], "item.role", ROLES)
        parts = array(value.get("content", []), "item.content", MAX_CONTENT_PARTS)
        for i, part in enumerate(parts):
            _part(part, f"item.content[{i}]", role)
    elif kind == "function_call":
        for key in ("name", "call_id"):
            if key not in value:
                raise missing(f"item.{key}")
        text(value["name"], "item.name", MAX_NAME_CHARS)
        text(value["call_id"], "item.call_id", MAX_CALL_ID_CHARS)
        if "arguments" in value:
            text(value["arguments"], "item.arguments", MAX_TEXT_CHARS)
    else:
        for key in ("call_id", "output"):
            if key not in value:
                raise missing(f"item.{key}")
        text(value["call_id"], "item.call_id", MAX_CALL_ID_CHARS)
        text(value["output"], "item.output", MAX_TEXT_CHARS)
    return value


def truncate_point(msg: JsonDict) -> tuple[int, int]:
    """conversation.item.truncate's (content_index, audio_end_ms)."""
    if "audio_end_ms" not in msg:
        raise missing("audio_end_ms")
    end_ms = integer(msg["audio_end_ms"], "audio_end_ms", 0, MAX_IDLE_TIMEOUT_MS)
    index = integer(msg.get("content_index", 0), "content_index", 0, MAX_CONTENT_PARTS - 1)
    return index, end_ms

"""`session.update` for the local Realtime server: validation with the real GA error codes and
messages (every field checked for type and range), then a deep merge into the effective session
(an invalid update applies nothing)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from lib.emulators.realtime import event_fields as ef
from lib.emulators.realtime.events import (
    JsonDict,
    semantic_vad_defaults,
    server_vad_defaults,
)
from lib.emulators.realtime.fields import (
    InvalidField,
    array,
    boolean,
    choice,
    decimal,
    integer,
    invalid_value,
    missing,
    obj,
    only_keys,
    text,
)
from lib.emulators.realtime.limits import (
    MAX_IDLE_TIMEOUT_MS,
    MAX_NAME_CHARS,
    MAX_SPEED,
    MAX_TEXT_CHARS,
    MAX_VAD_MS,
    MIN_SPEED,
)

SESSION_KEYS = frozenset(
    {
        "type",
        "model",
        "output_modalities",
        "instructions",
        "audio",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "tracing",
        "truncation",
        "include",
        "prompt",
        "reasoning",
        "parallel_tool_calls",
    }
)
AUDIO_INPUT_KEYS = frozenset({"format", "noise_reduction", "transcription", "turn_detection"})
AUDIO_OUTPUT_KEYS = frozenset({"format", "voice", "speed"})
AUDIO_FORMATS = ("audio/pcm", "audio/pcmu", "audio/pcma")
PCM_RATE = 24000  # the only rate `audio/pcm` takes
EAGERNESS = ("low", "medium", "high", "auto")
NOISE_REDUCTION = ("near_field", "far_field")
INCLUDE = ("item.input_audio_transcription.logprobs",)
TRUNCATION = ("auto", "disabled")

# Kept as an alias: the session.update errors are field errors like any other.
SessionConfigError = InvalidField


def _idle_timeout(value: Any, param: str) -> int | None:
    return None if value is None else integer(value, param, 0, MAX_IDLE_TIMEOUT_MS)


def _turn_detection(value: Any) -> JsonDict | None:
    param = "session.audio.input.turn_detection"
    if value is None:
        return None  # push-to-talk: the client commits and asks for responses itself
    obj(value, param)
    if "type" not in value:
        raise missing(f"{param}.type")
    kind = choice(value["type"], f"{param}.type", ("server_vad", "semantic_vad"))
    merged = server_vad_defaults() if kind == "server_vad" else semantic_vad_defaults()
    only_keys(value, merged, param)
    checks: dict[str, Callable[[Any, str], Any]] = {
        "threshold": lambda v, p: decimal(v, p, 0.0, 1.0),
        "prefix_padding_ms": lambda v, p: integer(v, p, 0, MAX_VAD_MS),
        "silence_duration_ms": lambda v, p: integer(v, p, 0, MAX_VAD_MS),
        "idle_timeout_ms": _idle_timeout,
        "create_response": boolean,
        "interrupt_response": boolean,
        "eagerness": lambda v, p: choice(v, p, EAGERNESS),
    }
    for key, val in value.items():
        if key != "type":
            merged[key] = checks[key](val, f"{param}.{key}")
    return merged


def _format(value: Any, param: str) -> JsonDict:
    fmt = obj(value, param)
    only_keys(fmt, ("type", "rate"), param)
    kind = choice(fmt.get("type"), f"{param}.type", AUDIO_FORMATS)
    if kind == "audio/pcm" and "rate" in fmt and fmt["rate"] != PCM_RATE:
        raise invalid_value(f"{param}.rate", fmt["rate"], (str(PCM_RATE),))
    return fmt


def _transcription(value: Any) -> JsonDict | None:
    param = "session.audio.input.transcription"
    if value is None:
        return None
    config = obj(value, param)
    only_keys(config, ("model", "language", "prompt"), param)
    for key, limit in (("model", MAX_NAME_CHARS), ("language", 16), ("prompt", MAX_TEXT_CHARS)):
        if config.get(key) is not None:
            text(config[key], f"{param}.{key}", limit)
    return config


def _noise_reduction(value: Any) -> JsonDict | None:
    param = "session.audio.input.noise_reduction"
    if value is None:
        return None
    config = obj(value, param)
    only_keys(config, ("type",), param)
    choice(config.get("type"), f"{param}.type", NOISE_REDUCTION)
    return config


def _audio_input(inp: Any) -> JsonDict:
    param = "session.audio.input"
    obj(inp, param)
    only_keys(inp, AUDIO_INPUT_KEYS, param)
    checked: JsonDict = {}
    for key, val in inp.items():
        if key == "turn_detection":
            checked[key] = _turn_detection(val)
        elif key == "transcription":
            checked[key] = _transcription(val)
        elif key == "noise_reduction":
            checked[key] = _noise_reduction(val)
        else:
            checked[key] = _format(val, f"{param}.format")
    return checked


def _audio_output(out: Any) -> JsonDict:
    param = "session.audio.output"
    obj(out, param)
    only_keys(out, AUDIO_OUTPUT_KEYS, param)
    checked: JsonDict = {}
    if "format" in out:
        checked["format"] = _format(out["format"], f"{param}.format")
    if "voice" in out:
        checked["voice"] = ef.voice(out["voice"], f"{param}.voice")
    if "speed" in out:
        checked["speed"] = decimal(out["speed"], f"{param}.speed", MIN_SPEED, MAX_SPEED)
    return checked


def _merge_audio(current: JsonDict, audio: Any) -> None:
    obj(audio, "session.audio")
    only_keys(audio, ("input", "output"), "session.audio")
    if "input" in audio:
        current["audio"]["input"].update(copy.deepcopy(_audio_input(audio["input"])))
    if "output" in audio:
        current["audio"]["output"].update(copy.deepcopy(_audio_output(audio["output"])))


def _check_field(key: str, val: Any) -> None:
    """The top-level session fields other than `type` and `audio`."""
    param = f"session.{key}"
    if key == "model":
        text(val, param, MAX_NAME_CHARS)
    elif key == "output_modalities":
        ef.output_modalities(val, param)
    elif key == "instructions":
        ef.instructions(val, param)
    elif key == "tools":
        ef.tools(val, param)
    elif key == "tool_choice":
        ef.tool_choice(val, param)
    elif key == "max_output_tokens":
        ef.max_output_tokens(val, param)
    elif key == "tracing":
        if val is not None and val != "auto":
            obj(val, param)
    elif key == "truncation":
        if not isinstance(val, dict):
            choice(val, param, TRUNCATION)
    elif key == "include":
        if val is not None:
            for i, name in enumerate(array(val, param, len(INCLUDE))):
                choice(name, f"{param}[{i}]", INCLUDE)
    elif key == "parallel_tool_calls":
        boolean(val, param)
    elif key == "prompt":
        ef.nullable_object(val, param)
    elif key == "reasoning":
        obj(val, param)


def apply_update(session: JsonDict, update: Any) -> JsonDict:
    """Return the new effective session, or raise InvalidField with the real error fields."""
    if not isinstance(update, dict):
        raise missing("session")
    if "type" not in update:
        raise missing("session.type")
    if update["type"] == "transcription":
        raise InvalidField(
            "Passing a transcription session update event to a realtime session is not allowed.",
            "invalid_value",
            "session.type",
        )
    if update["type"] != "realtime":
        raise invalid_value("session.type", update["type"], ("realtime", "transcription"))
    # Beta flat keys (modalities, voice, temperature, …) are rejected here like the GA API does.
    only_keys(update, SESSION_KEYS, "session")
    merged = copy.deepcopy(session)
    for key, val in update.items():
        if key == "audio":
            _merge_audio(merged, val)
            continue
        _check_field(key, val)
        if key not in {"type", "model"}:  # the model is fixed by the connection URL
            merged[key] = copy.deepcopy(val)
    return merged

"""`session.update` for the local Realtime server: validation with the real GA error codes and
messages, then a deep merge into the effective session (an invalid update applies nothing)."""

from __future__ import annotations

import copy
from typing import Any

from lib.emulators.realtime.events import (
    JsonDict,
    semantic_vad_defaults,
    server_vad_defaults,
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


class SessionConfigError(ValueError):
    def __init__(self, message: str, code: str, param: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


def _unknown(param: str) -> SessionConfigError:
    return SessionConfigError(f"Unknown parameter: '{param}'.", "unknown_parameter", param)


def _check_keys(obj: JsonDict, allowed: frozenset[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _unknown(f"{prefix}.{key}")


def _turn_detection(value: Any) -> JsonDict | None:
    if value is None:
        return None  # push-to-talk: the client commits and asks for responses itself
    if not isinstance(value, dict):
        raise SessionConfigError(
            "Invalid type for 'session.audio.input.turn_detection': expected an object, "
            "but got a value instead.",
            "invalid_type",
            "session.audio.input.turn_detection",
        )
    kind = value.get("type")
    if kind == "server_vad":
        merged = server_vad_defaults()
    elif kind == "semantic_vad":
        merged = semantic_vad_defaults()
    else:
        raise SessionConfigError(
            f"Invalid value: '{kind}'. Supported values are: 'server_vad' and 'semantic_vad'.",
            "invalid_value",
            "session.audio.input.turn_detection.type",
        )
    for key, val in value.items():
        if key not in merged:
            raise _unknown(f"session.audio.input.turn_detection.{key}")
        merged[key] = val
    threshold = merged.get("threshold")
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise SessionConfigError(
            f"Invalid 'session.audio.input.turn_detection.threshold': decimal above maximum "
            f"value. Expected a value <= 1, but got {threshold} instead.",
            "decimal_above_max_value",
            "session.audio.input.turn_detection.threshold",
        )
    return merged


def _merge_audio(current: JsonDict, audio: Any) -> None:
    if not isinstance(audio, dict):
        raise SessionConfigError(
            "Invalid type for 'session.audio': expected an object.",
            "invalid_type",
            "session.audio",
        )
    _check_keys(audio, frozenset({"input", "output"}), "session.audio")
    inp = audio.get("input")
    if isinstance(inp, dict):
        _check_keys(inp, AUDIO_INPUT_KEYS, "session.audio.input")
        target = current["audio"]["input"]
        for key, val in inp.items():
            target[key] = _turn_detection(val) if key == "turn_detection" else copy.deepcopy(val)
    out = audio.get("output")
    if isinstance(out, dict):
        _check_keys(out, AUDIO_OUTPUT_KEYS, "session.audio.output")
        current["audio"]["output"].update(copy.deepcopy(out))


def apply_update(session: JsonDict, update: Any) -> JsonDict:
    """Return the new effective session, or raise SessionConfigError with the real error fields."""
    if not isinstance(update, dict):
        raise SessionConfigError(
            "Missing required parameter: 'session'.", "missing_required_parameter", "session"
        )
    if "type" not in update:
        raise SessionConfigError(
            "Missing required parameter: 'session.type'.",
            "missing_required_parameter",
            "session.type",
        )
    if update["type"] == "transcription":
        raise SessionConfigError(
            "Passing a transcription session update event to a realtime session is not allowed.",
            "invalid_value",
            "session.type",
        )
    if update["type"] != "realtime":
        raise SessionConfigError(
            f"Invalid value: '{update['type']}'. Supported values are: 'realtime' and "
            "'transcription'.",
            "invalid_value",
            "session.type",
        )
    # Beta flat keys (modalities, voice, temperature, …) are rejected here like the GA API does.
    _check_keys(update, SESSION_KEYS, "session")
    modalities = update.get("output_modalities")
    if modalities is not None and modalities not in (["text"], ["audio"]):
        raise SessionConfigError(
            "Invalid 'session.output_modalities': only ['text'] or ['audio'] is supported.",
            "invalid_value",
            "session.output_modalities",
        )
    merged = copy.deepcopy(session)
    for key, val in update.items():
        if key == "audio":
            _merge_audio(merged, val)
        elif key in {"type", "model"}:
            continue  # the model is fixed by the connection URL
        else:
            merged[key] = copy.deepcopy(val)
    return merged

"""Checking what a client sent, field by field, with OpenAI's own error codes and wording
(`invalid_type`, `decimal_above_max_value`, `string_above_max_length`, …, `param` naming the
field): the same for Realtime `error` events and the REST error body.

Every checker returns the value (typed) or raises `InvalidField`; nothing is applied before a
whole event has been checked."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from typing import Any

from lib.emulators.realtime.limits import MAX_JSON_DEPTH

JsonDict = dict[str, Any]
# How much of a refused value an error message quotes: enough to recognise it.
ECHO_CHARS = 64


class InvalidField(ValueError):
    """A refused client field: OpenAI's `code`, `param` and message."""

    def __init__(self, message: str, code: str | None, param: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.param = param


def shown(value: Any) -> str:
    """A value as an error message quotes it, cut to ECHO_CHARS."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[: ECHO_CHARS + 1]
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "…"


def supported(values: Collection[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return f"{', '.join(quoted[:-1])}, and {quoted[-1]}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def wrong_type(param: str, expected: str, value: Any) -> InvalidField:
    return InvalidField(
        f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
        "invalid_type",
        param,
    )


def missing(param: str) -> InvalidField:
    return InvalidField(
        f"Missing required parameter: '{param}'.", "missing_required_parameter", param
    )


def unknown(param: str) -> InvalidField:
    return InvalidField(f"Unknown parameter: '{param}'.", "unknown_parameter", param)


def invalid_value(param: str, value: Any, allowed: Collection[str]) -> InvalidField:
    return InvalidField(
        f"Invalid value: '{shown(value)}'. Supported values are: {supported(allowed)}.",
        "invalid_value",
        param,
    )


def only_keys(obj: Mapping[str, Any], allowed: Collection[str], prefix: str) -> None:
    for key in obj:
        if key not in allowed:
            raise unknown(f"{prefix}.{shown(key)}")


def obj(value: Any, param: str) -> JsonDict:
    if not isinstance(value, dict):
        raise wrong_type(param, "an object", value)
    return value


def text(value: Any, param: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    if len(value) > max_chars:
        raise InvalidField(
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{max_chars}, but got a string with length {len(value)} instead.",
            "string_above_max_length",
            param,
        )
    return value


def boolean(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise wrong_type(param, "a boolean", value)
    return value


def integer(value: Any, param: str, lo: int, hi: int) -> int:
    whole = isinstance(value, float) and value.is_integer()  # 500.0 is an integer in JSON
    if isinstance(value, bool) or not (isinstance(value, int) or whole):
        raise wrong_type(param, "an integer", value)
    number = int(value)
    if number > hi:
        raise InvalidField(
            f"Invalid '{param}': integer above maximum value. Expected a value <= {hi}, but "
            f"got {shown(number)} instead.",
            "integer_above_max_value",
            param,
        )
    if number < lo:
        raise InvalidField(
            f"Invalid '{param}': integer below minimum value. Expected a value >= {lo}, but "
            f"got {shown(number)} instead.",
            "integer_below_min_value",
            param,
        )
    return number


def decimal(value: Any, param: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise wrong_type(param, "a decimal", value)
    if value > hi:
        raise InvalidField(
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {hi:g}, but "
            f"got {value:g} instead.",
            "decimal_above_max_value",
            param,
        )
    if value < lo:
        raise InvalidField(
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {lo:g}, but "
            f"got {value:g} instead.",
            "decimal_below_min_value",
            param,
        )
    return float(value)


def choice(value: Any, param: str, allowed: Collection[str]) -> str:
    if not isinstance(value, str):
        raise wrong_type(param, "a string", value)
    if value not in allowed:
        raise invalid_value(param, value, allowed)
    return value


def array(value: Any, param: str, max_items: int) -> list[Any]:
    if not isinstance(value, list):
        raise wrong_type(param, "an array", value)
    if len(value) > max_items:
        raise InvalidField(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{max_items}, but got an array with length {len(value)} instead.",
            "array_above_max_length",
            param,
        )
    return value


# ---- JSON ------------------------------------------------------------------------------------


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {shown(literal)}")
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Collection[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(raw: str | bytes) -> Any:
    """Strict JSON as OpenAI parses it: no NaN/Infinity, no number that overflows to
    infinity, nesting at most MAX_JSON_DEPTH. Raises ValueError saying what is wrong."""
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return value

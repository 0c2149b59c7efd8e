"""The tools the demo agents may call, and their (sample-data) implementations.

The schemas are sent in `session.tools` (OpenAI Realtime function tools); calls are answered
here with `function_call_output`. Handoffs are tools too (`transfer_to_<agent>`), as in
openai-realtime-agents.
"""

from __future__ import annotations

import json
from typing import Any, Final

TRANSFER_PREFIX: Final = "transfer_to_"

LOOKUP_TOOLS: Final[tuple[dict[str, Any], ...]] = (
    {
        "type": "function",
        "name": "lookup_order",
        "description": "Look up the status of a customer's order by its number.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "the order number"}},
            "required": ["order_id"],
        },
    },
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
    {
        "type": "function",
        "name": "get_stock_price",
        "description": "Latest price of a stock by ticker symbol.",
        "parameters": {
            "type": "object",
            "properties": {"symbol": {"type": "string"}},
            "required": ["symbol"],
        },
    },
)


def transfer_tool(agent: str, description: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": TRANSFER_PREFIX + agent,
        "description": f"Hand the conversation to the {agent}: {description}",
        "parameters": {
            "type": "object",
            "properties": {"destination_agent": {"type": "string", "enum": [agent]}},
            "required": ["destination_agent"],
        },
    }


_STATUSES: Final = ("being packed", "on its way", "out for delivery", "delivered")
_CONDITIONS: Final = ("sunny", "cloudy", "light rain", "windy", "clear skies")


def _stable(text: str) -> int:
    """A deterministic number from text (sample data must not change between runs)."""
    return sum((i + 1) * ord(ch) for i, ch in enumerate(text.lower()))


def run_tool(name: str, arguments: str) -> str:
    """The JSON output for a call; an `error` field when the call cannot be answered."""
    try:
        args = json.loads(arguments or "{}")
    except ValueError:
        return json.dumps({"error": "the arguments were not valid JSON"})
    if not isinstance(args, dict):
        return json.dumps({"error": "the arguments must be an object"})
    if name == "lookup_order":
        order = str(args.get("order_id", "")).strip()
        if not order:
            return json.dumps({"error": "no order number was given"})
        h = _stable(order)
        out: dict[str, Any] = {"order_id": order, "status": _STATUSES[h % len(_STATUSES)]}
        if out["status"] != "delivered":
            out["eta"] = ("tomorrow", "on Friday", "next Monday")[h % 3]
        return json.dumps(out)
    if name == "get_weather":
        city = str(args.get("city", "")).strip()
        if not city:
            return json.dumps({"error": "no city was given"})
        h = _stable(city)
        return json.dumps(
            {"city": city, "temperature_c": 8 + h % 20, "conditions": _CONDITIONS[h % 5]}
        )
    if name == "get_stock_price":
        symbol = str(args.get("symbol", "")).strip().upper()
        if not symbol:
            return json.dumps({"error": "no symbol was given"})
        h = _stable(symbol)
        return json.dumps({"symbol": symbol, "price": round(50 + (h % 40000) / 100, 2)})
    return json.dumps({"error": f"unknown tool {name!r}"})

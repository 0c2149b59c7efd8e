"""How much the avatar server takes from one client, in one place: request bodies, JSON
nesting, echoed text, speech waiting to be played. Past these a client gets the API's own
error, never a server that grows until it falls over."""

from __future__ import annotations

import json
from typing import Any, Final

# Request bodies: the largest real one (streaming.new with every option) is under 2 KB; the
# services publish no limit, so 1 MiB (nginx's default client_max_body_size) is the cut.
MAX_BODY_BYTES: Final = 1024 * 1024
# JSON nesting: the deepest body or message these APIs take is 3 levels (streaming.new's
# voice.elevenlabs_settings); anything near Python's recursion limit is an attack.
MAX_JSON_DEPTH: Final = 32
# Client text quoted back in an error (a session id is 36 characters, an avatar id ~40).
MAX_ECHO_CHARS: Final = 120
# Speech waiting to be played per session: 2 minutes (~11 MB at 48 kHz) is longer than any one
# answer; a client streaming audio faster than it plays is told to wait, not buffered forever.
MAX_QUEUED_SPEECH_S: Final = 120.0
# Speak commands (tasks, room text) still being synthesised per session: synthesis is serial,
# so more than this only piles up (the Studio sends one sentence at a time).
MAX_PENDING_SPEAKS: Final = 32


class TooDeep(ValueError):
    """JSON nested deeper than MAX_JSON_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def clip(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`text` as an error may quote it: at most `limit` characters, marked where cut."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def load_json(raw: str | bytes) -> Any:
    """json.loads, refusing nesting deeper than MAX_JSON_DEPTH with TooDeep (a ValueError,
    as bad JSON is) instead of a RecursionError."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise TooDeep() from None
    if _depth_over(value, MAX_JSON_DEPTH):
        raise TooDeep()
    return value


def _depth_over(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False

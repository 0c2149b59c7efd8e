"""The conversation so far, as the items a reconnected Realtime session is given so that the
model does not forget what was said before the socket dropped.

Only our transcript is kept (user and assistant text lines): function calls and tool outputs
are not, so they are not replayed; the assistant's answer that used a tool's result is, and
that carries what the model concluded from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from lib.brain.base import Line

# Newest lines first, up to this many characters (~4k tokens): an eighth of gpt-realtime's
# 32k-token context, since every re-sent item is billed again as input on every later answer.
HISTORY_CHARS: Final = 16_000


def history_items(
    lines: Sequence[Line], skip: Iterable[str] = (), budget: int = HISTORY_CHARS
) -> list[dict[str, Any]]:
    """`conversation.item.create` events for the final, non-empty lines in order (the newest
    that fit in `budget` characters), leaving out the lines keyed in `skip` (sent later)."""
    skipped = set(skip)
    kept: list[Line] = []
    used = 0
    for line in reversed(lines):
        text = line.text.strip()
        if not line.final or not text or line.key in skipped:
            continue  # an unfinished answer was lost with the socket
        if used + len(text) > budget:
            break  # older lines than one that does not fit would leave a gap
        kept.append(line)
        used += len(text)
    return [_item_event(line) for line in reversed(kept)]


def _item_event(line: Line) -> dict[str, Any]:
    part = "input_text" if line.role == "user" else "output_text"
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": line.role,
            "content": [{"type": part, "text": line.text.strip()}],
        },
    }

"""The Conversation page's live transcript as one HTML block.

Redrawn twice a second with the live panel: as chat-message and markdown elements (three to
five per turn, each parsed again by the browser on every redraw) it cost a tab ~4 % of a core
on its own; one escaped HTML block costs a fraction of that (measured with the soak's fake mic).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from lib.bridge.timeline import Turn

_STATUS_MARK = {"interrupted": "interrupted", "error": "failed"}
_BOX = "padding:0.45rem 0.7rem;border-radius:0.6rem;margin:0.3rem 0;max-width:92%;"
_USER = _BOX + "background:rgba(124,156,255,0.16);margin-left:auto"
_ASSISTANT = _BOX + "background:rgba(255,255,255,0.06)"
_WHO = "font-size:0.72rem;opacity:0.65;margin-bottom:0.15rem"
_PILL = (
    "display:inline-block;font-family:monospace;font-size:0.7rem;padding:0 0.3rem;"
    "margin:0.1rem 0.2rem 0 0;border-radius:0.25rem;background:rgba(255,255,255,0.08)"
)


def transcript_html(turns: Sequence[Turn]) -> str:
    """The turns, oldest first: what the user said, what the avatar answered (with the pieces
    sent to it and how each ended). Every text is escaped: it comes from users and models."""
    out = ['<div class="transcript" style="display:flex;flex-direction:column;font-size:0.9rem">']
    for turn in turns:
        if turn.user_text:
            out.append(
                f'<div class="turn-user" data-seq="{turn.seq}" style="{_USER}">'
                f'<div style="{_WHO}">You</div>{escape(turn.user_text)}</div>'
            )
        if not turn.assistant_text and not turn.chunks:
            continue
        mark = _STATUS_MARK.get(turn.status)
        out.append(
            f'<div class="turn-assistant" data-seq="{turn.seq}" data-status="{turn.status}" '
            f'style="{_ASSISTANT}"><div style="{_WHO}">{escape(turn.agent or "assistant")}</div>'
            f"{escape(turn.assistant_text or '…')}"
            + (f" <em style='opacity:0.7'>({mark})</em>" if mark else "")
        )
        if turn.chunks:
            pills = "".join(
                f'<span style="{_PILL}">#{c.seq} {escape(c.status)}'
                f"{' · ' + escape(c.emotion) if c.emotion else ''}</span>"
                for c in turn.chunks
            )
            out.append(f'<div style="margin-top:0.2rem;opacity:0.8">{pills}</div>')
        if turn.error:
            out.append(f'<div style="color:#ff6b6b;font-size:0.8rem">{escape(turn.error)}</div>')
        out.append("</div>")
    out.append("</div>")
    return "".join(out)

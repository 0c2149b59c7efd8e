"""The Conversation page's live panel as one HTML block: status, readiness, the open turn's
waterfall and the transcript.

It is redrawn twice a second. Streamlit's frontend re-renders its element tree for each message
it receives, so a tab's cost grows with the number of elements per redraw more than with their
size: one block costs far fewer messages and less script time than four elements. Problems stay
separate Streamlit alerts: they are rare and must stand out.
"""

from __future__ import annotations

import time
from html import escape

from lib.bridge.timeline import Turn
from lib.metrics.latency import ChunkTimes, durations_ms, waterfall
from lib.runtime.conversation_snapshot import ConversationSnapshot
from lib.ui.charts import waterfall_html
from lib.ui.transcript import transcript_html

STATE_LABELS = {
    "offline": "Not connected",
    "connecting": "Connecting…",
    "listening": "Listening",
    "user_speaking": "You are speaking",
    "thinking": "Thinking…",
    "responding": "Answering",
    "reconnecting": "Reconnecting…",
    "failed": "Stopped",
}
TRANSCRIPT_TURNS = 8
_GREEN = "#3dd68c"
_ORANGE = "#f5a623"


def _tag(text: str, color: str) -> str:
    return f'<span style="color:{color}">{escape(text)}</span>'


def status_html(snap: ConversationSnapshot) -> str:
    """One line: what the conversation is doing, which agent speaks, what it waits for."""
    label = STATE_LABELS.get(snap.brain.state, snap.brain.state)
    parts = [f"<b>{escape(label)}</b>", f"agent <b>{escape(snap.bridge.agent)}</b>"]
    if snap.state == "audio_only":
        parts.append("voice only")
    elif snap.replacing:
        parts.append(_tag("avatar dropped: starting a new one…", _ORANGE))
    elif snap.bridge.speaking:
        parts.append(_tag("◉ avatar speaking", _GREEN))
    elif snap.avatar.state == "starting":
        parts.append("avatar connecting…")
    if snap.bridge.thinking:
        parts.append(_tag("⚙ running a tool…", _ORANGE))
    if snap.waiting_for_model:
        parts.append(_tag("⧗ waiting for the model", _ORANGE))
    if snap.brain.reconnects:
        parts.append(f"{snap.brain.reconnects} reconnects")
    return f'<div class="live-status">{" · ".join(parts)}</div>'


def readiness_html(snap: ConversationSnapshot, mic_level: float) -> str:
    ready = []
    if snap.brain_ready_s is not None:
        ready.append(f"model ready {snap.brain_ready_s:.2f} s")
    if snap.avatar_ready_s is not None:
        ready.append(f"avatar first frame {snap.avatar_ready_s:.2f} s")
    if snap.switch_ms:
        ready.append(f"avatar switch {snap.switch_ms[-1]:.0f} ms")
    if snap.gaps_ms:
        times = "once" if len(snap.gaps_ms) == 1 else f"{len(snap.gaps_ms)} times"
        ready.append(f"avatar replaced {times}, last gap {snap.gaps_ms[-1]:.0f} ms")
    meter = "▮" * min(10, int(mic_level * 40))
    ready.append(f"mic {meter or '·'}")
    return (
        '<div class="live-ready" style="font-size:0.85rem;opacity:0.7;margin:0.2rem 0">'
        f"{escape(' · '.join(ready))}</div>"
    )


def chunk_times(turn: Turn) -> list[ChunkTimes]:
    return [
        ChunkTimes(
            c.seq,
            c.text[:80] if c.kind == "text" else f"{c.audio_ms:.0f} ms of audio",
            c.sent_at,
            c.started_at,
            c.ended_at,
            c.status,
        )
        for c in turn.chunks
    ]


def turn_waterfall_html(turn: Turn, now: float | None = None) -> str:
    """The turn's stages so far (an open turn's running stages end at `now`)."""
    live_now = (now if now is not None else time.time()) if turn.status == "open" else None
    bars = waterfall(turn.stamps, chunk_times(turn), now=live_now)
    if not bars:
        return ""
    d = durations_ms(turn.stamps)
    e2e = f" · end to end {d['e2e']:.0f} ms" if "e2e" in d else ""
    return waterfall_html(
        bars, title=f"Turn {turn.seq} ({turn.status}){e2e}", marker_ms=d.get("e2e")
    )


def live_panel_html(snap: ConversationSnapshot, mic_level: float, now: float | None = None) -> str:
    turns = snap.bridge.turns
    parts = [status_html(snap), readiness_html(snap, mic_level)]
    if turns:
        parts.append(turn_waterfall_html(turns[-1], now))
        parts.append(transcript_html(turns[-TRANSCRIPT_TURNS:]))
    return "".join(parts)

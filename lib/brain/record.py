"""Voice/text model events into the store (`brain_events`): what happened, never the audio."""

from __future__ import annotations

import json
import time
from typing import Any

from lib.brain import events
from lib.brain.events import BrainEvent
from lib.store.database import Store


def payload_of(ev: BrainEvent) -> dict[str, Any]:
    if isinstance(ev, events.TranscriptDone):
        return {"item_id": ev.item_id, "transcript": ev.transcript, "usage": ev.usage}
    if isinstance(ev, events.TextDelta | events.TranscriptDelta):
        return {"delta": ev.delta}
    if isinstance(ev, events.TextDone):
        return {"text": ev.text}
    if isinstance(ev, events.ResponseDone):
        return {"status": ev.status, "reason": ev.reason, "usage": ev.usage}
    if isinstance(ev, events.FunctionCall):
        return {"name": ev.name, "call_id": ev.call_id, "arguments": ev.arguments}
    if isinstance(ev, events.ErrorEvent):
        return {"code": ev.code, "message": ev.message, "param": ev.param}
    if isinstance(ev, events.SpeechStarted):
        return {"audio_start_ms": ev.audio_start_ms}
    if isinstance(ev, events.SpeechStopped):
        return {"audio_end_ms": ev.audio_end_ms}
    if isinstance(ev, events.ConnectionLost):
        return {"reason": ev.reason}
    return {}


def record_event(store: Store, session_id: str, ev: BrainEvent) -> None:
    if isinstance(ev, events.AudioDelta):
        return  # audio itself is not stored: only what it was (counted in usage)
    payload = payload_of(ev)
    store.insert(
        "brain_events",
        {
            "session_id": session_id,
            "kind": ev.type,
            "at": ev.at,
            "item_id": getattr(ev, "item_id", None),
            "response_id": getattr(ev, "response_id", None),
            "payload": json.dumps(payload, sort_keys=True) if payload else None,
        },
    )


def record_stopped(store: Store | None, session_id: str | None) -> None:
    """The model session ended by us (a failed one keeps its failure)."""
    if store is None or session_id is None:
        return
    row = store.get("brain_sessions", session_id)
    if row and row["status"] != "failed":
        store.update("brain_sessions", session_id, {"stopped_at": time.time(), "status": "stopped"})

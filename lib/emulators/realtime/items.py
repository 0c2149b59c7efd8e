"""The conversation a Realtime session keeps: items in order, with the side data the wire
never shows (user audio, how long each audio part lasts, pending transcripts)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lib.emulators.realtime.events import JsonDict
from lib.emulators.realtime.limits import MAX_CONVERSATION_CHARS, MAX_CONVERSATION_ITEMS
from lib.emulators.realtime.usage import (
    TokenCount,
    assistant_audio_tokens,
    text_tokens,
    user_audio_tokens,
)


@dataclass
class Entry:
    item: JsonDict
    audio: npt.NDArray[np.int16] | None = None  # committed user audio, 24 kHz
    audio_ms: float = 0.0  # user or assistant audio length (drives audio tokens)
    transcript: asyncio.Task[str] | None = None  # user audio → text, computed once
    size: int = 0  # characters of its JSON when last measured (the conversation's budget)

    def measure(self) -> int:
        return len(json.dumps(self.item, default=str))

    @property
    def item_id(self) -> str:
        return str(self.item["id"])

    def text(self) -> str:
        """What this item says, as text (input_text, transcript, output text, tool I/O)."""
        kind = self.item.get("type")
        if kind == "function_call":
            return f"{self.item.get('name', '')}({self.item.get('arguments', '')})"
        if kind == "function_call_output":
            return str(self.item.get("output", ""))
        parts: list[str] = []
        for part in self.item.get("content") or []:
            value = part.get("text") or part.get("transcript")
            if value:
                parts.append(str(value))
        return " ".join(parts)

    def tokens(self) -> TokenCount:
        """What re-sending this item as input costs."""
        has_audio = any(
            p.get("type") in {"input_audio", "output_audio", "audio"}
            for p in self.item.get("content") or []
        )
        if has_audio:
            role = self.item.get("role")
            audio = (
                user_audio_tokens(self.audio_ms)
                if role == "user"
                else assistant_audio_tokens(self.audio_ms)
            )
            return TokenCount(audio=audio)
        return TokenCount(text=text_tokens(self.text()))


@dataclass
class ItemHistory:
    conversation_id: str
    entries: list[Entry] = field(default_factory=list)
    chars: int = 0  # sum of the entries' sizes

    def full(self, adding: int = 0) -> str | None:
        """Why one more item (of `adding` characters) would not fit, else None."""
        hint = "Delete items you no longer need (conversation.item.delete) or start a new session."
        if len(self.entries) >= MAX_CONVERSATION_ITEMS:
            return (
                f"Conversation is full: it has {len(self.entries)} items, the most one session "
                f"can hold. {hint}"
            )
        if self.chars + adding > MAX_CONVERSATION_CHARS:
            return (
                f"Conversation is full: its items hold {self.chars} characters and this adds "
                f"{adding}; at most {MAX_CONVERSATION_CHARS} fit in one session. {hint}"
            )
        return None

    def resize(self, entry: Entry) -> None:
        """Re-measure an entry that grew (a streamed response item)."""
        if entry in self.entries:
            size = entry.measure()
            self.chars += size - entry.size
            entry.size = size

    def last_id(self) -> str | None:
        return self.entries[-1].item_id if self.entries else None

    def add(self, entry: Entry, previous_item_id: str | None = None) -> str | None:
        """Insert after `previous_item_id` (default: at the end); return the real previous id.
        Callers check `full()` first where the client asks for the item."""
        prev: str | None
        if previous_item_id is None:
            prev, index = self.last_id(), len(self.entries)
        elif previous_item_id == "root":
            prev, index = None, 0
        else:
            after = [i for i, e in enumerate(self.entries) if e.item_id == previous_item_id]
            if not after:
                raise KeyError(previous_item_id)
            prev, index = previous_item_id, after[0] + 1
        entry.size = entry.measure()
        self.entries.insert(index, entry)
        self.chars += entry.size
        return prev

    def find(self, item_id: str) -> Entry | None:
        return next((e for e in self.entries if e.item_id == item_id), None)

    def remove(self, item_id: str) -> bool:
        entry = self.find(item_id)
        if entry is None:
            return False
        self.entries.remove(entry)
        self.chars -= entry.size
        return True

    def input_tokens(self) -> TokenCount:
        total = TokenCount()
        for e in self.entries:
            total = total + e.tokens()
        return total

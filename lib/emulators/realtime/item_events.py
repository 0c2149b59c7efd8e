"""The conversation.item.* events: create, delete, retrieve, truncate."""

from __future__ import annotations

from lib.emulators.realtime.events import JsonDict, event, new_id
from lib.emulators.realtime.items import Entry
from lib.emulators.realtime.model import SAMPLE_RATE
from lib.emulators.realtime.transcription import Transcription
from lib.emulators.realtime.turns import take_input_audio


class ItemEvents(Transcription):
    async def _item_create(self, msg: JsonDict) -> None:
        item = msg.get("item")
        if not isinstance(item, dict) or item.get("type") not in {
            "message",
            "function_call",
            "function_call_output",
        }:
            await self._error(
                "Missing required parameter: 'item.type'.",
                "missing_required_parameter",
                "item.type",
                msg,
            )
            return
        item = dict(item)
        item.setdefault("id", new_id("item"))
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        entry = Entry(item)
        audio = take_input_audio(item)
        if audio is not None:
            entry.audio, entry.audio_ms = audio, 1000.0 * audio.size / SAMPLE_RATE
        try:
            prev = self.conversation.add(entry, msg.get("previous_item_id"))
        except KeyError:
            await self._error(
                f"Invalid 'previous_item_id': no item with id '{msg.get('previous_item_id')}'.",
                "invalid_value",
                "previous_item_id",
                msg,
            )
            return
        await self.send(event("conversation.item.added", previous_item_id=prev, item=item))
        await self.send(event("conversation.item.done", previous_item_id=prev, item=item))
        if entry.audio is not None:
            entry.transcript = self._spawn(self._transcribe(entry))

    async def _item_missing(self, msg: JsonDict) -> None:
        await self._error(
            f"Item with item_id not found: {msg.get('item_id')}", "item_not_found", "item_id", msg
        )

    async def _item_delete(self, msg: JsonDict) -> None:
        item_id = str(msg.get("item_id"))
        if not self.conversation.remove(item_id):
            await self._item_missing(msg)
            return
        await self.send(event("conversation.item.deleted", item_id=item_id))

    async def _item_retrieve(self, msg: JsonDict) -> None:
        entry = self.conversation.find(str(msg.get("item_id")))
        if entry is None:
            await self._item_missing(msg)
            return
        await self.send(event("conversation.item.retrieved", item=entry.item))

    async def _item_truncate(self, msg: JsonDict) -> None:
        entry = self.conversation.find(str(msg.get("item_id")))
        if entry is None or entry.item.get("role") != "assistant":
            await self._item_missing(msg)
            return
        end_ms = float(msg.get("audio_end_ms") or 0)
        entry.audio_ms = min(entry.audio_ms, end_ms)
        await self.send(
            event(
                "conversation.item.truncated",
                item_id=entry.item_id,
                content_index=int(msg.get("content_index") or 0),
                audio_end_ms=int(end_ms),
            )
        )

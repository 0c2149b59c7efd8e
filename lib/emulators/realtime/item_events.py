"""The conversation.item.* events: create, delete, retrieve, truncate."""

from __future__ import annotations

from lib.emulators.realtime import event_fields as ef
from lib.emulators.realtime.events import JsonDict, event, new_id
from lib.emulators.realtime.fields import InvalidField
from lib.emulators.realtime.items import Entry
from lib.emulators.realtime.model import SAMPLE_RATE
from lib.emulators.realtime.transcription import Transcription
from lib.emulators.realtime.turns import take_input_audio


class ItemEvents(Transcription):
    async def _item_create(self, msg: JsonDict) -> None:
        item = dict(ef.item(msg.get("item")))
        previous = ef.previous_item_id(msg)
        item.setdefault("id", new_id("item"))
        item.setdefault("object", "realtime.item")
        item.setdefault("status", "completed")
        entry = Entry(item)
        audio = take_input_audio(item)  # checked, and taken out of the stored item
        if audio is not None:
            self._check_audio_room(audio.nbytes, "item.content")
        problem = self.conversation.full(entry.measure())
        if problem is not None:
            raise InvalidField(problem, "conversation_full", None)
        if audio is not None:
            entry.audio, entry.audio_ms = audio, 1000.0 * audio.size / SAMPLE_RATE
        try:
            prev = self.conversation.add(entry, previous)
        except KeyError:
            raise InvalidField(
                f"Invalid 'previous_item_id': no item with id '{previous}'.",
                "invalid_value",
                "previous_item_id",
            ) from None
        await self.send(event("conversation.item.added", previous_item_id=prev, item=item))
        await self.send(event("conversation.item.done", previous_item_id=prev, item=item))
        if entry.audio is not None:
            self._hear(entry)

    async def _item_missing(self, msg: JsonDict) -> None:
        await self._error(
            f"Item with item_id not found: {msg.get('item_id')}", "item_not_found", "item_id", msg
        )

    async def _item_delete(self, msg: JsonDict) -> None:
        item_id = ef.item_id(msg)
        if not self.conversation.remove(item_id):
            await self._item_missing(msg)
            return
        await self.send(event("conversation.item.deleted", item_id=item_id))

    async def _item_retrieve(self, msg: JsonDict) -> None:
        entry = self.conversation.find(ef.item_id(msg))
        if entry is None:
            await self._item_missing(msg)
            return
        await self.send(event("conversation.item.retrieved", item=entry.item))

    async def _item_truncate(self, msg: JsonDict) -> None:
        entry = self.conversation.find(ef.item_id(msg))
        content_index, end_ms = ef.truncate_point(msg)
        if entry is None or entry.item.get("role") != "assistant":
            await self._item_missing(msg)
            return
        entry.audio_ms = min(entry.audio_ms, float(end_ms))
        await self.send(
            event(
                "conversation.item.truncated",
                item_id=entry.item_id,
                content_index=content_index,
                audio_end_ms=end_ms,
            )
        )

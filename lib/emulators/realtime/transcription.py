"""Transcribing committed user audio: always (the responder needs the words), with the
transcription events only when the session asks for them."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt

from lib.emulators.realtime.events import event
from lib.emulators.realtime.items import Entry
from lib.emulators.realtime.session_state import RealtimeSessionState
from lib.emulators.realtime.usage import transcription_usage


class Transcription(RealtimeSessionState):
    def _prompt(self) -> str | None:
        config = self.session["audio"]["input"].get("transcription")
        return config.get("prompt") if isinstance(config, dict) else None

    async def _listen(self, pcm: npt.NDArray[np.int16]) -> tuple[str, list[str]]:
        return await asyncio.to_thread(self.listener.transcribe, pcm, self._prompt())

    def _hear(self, entry: Entry, heard: asyncio.Task[tuple[str, list[str]]] | None = None) -> None:
        """Transcribe the entry's audio in the background; the audio counts as held by the
        session (see `_check_audio_room`) until its words are known, then is let go."""
        assert entry.audio is not None
        self._pending_audio_bytes += entry.audio.nbytes
        entry.transcript = self._spawn(self._transcribe(entry, heard))

    async def _transcribe(
        self, entry: Entry, heard: asyncio.Task[tuple[str, list[str]]] | None = None
    ) -> str:
        audio = entry.audio
        assert audio is not None
        try:
            return await self._transcribe_audio(entry, audio, heard)
        finally:
            self._pending_audio_bytes -= audio.nbytes
            entry.audio = None  # only its length (entry.audio_ms) is needed from now on

    async def _transcribe_audio(
        self,
        entry: Entry,
        audio: npt.NDArray[np.int16],
        heard: asyncio.Task[tuple[str, list[str]]] | None,
    ) -> str:
        """Always run (responses need the words); events only if transcription is enabled.
        `heard`: the same audio, already being transcribed since the pause that ended it."""
        config = self.session["audio"]["input"].get("transcription")
        try:
            text, deltas = await (heard if heard is not None else self._listen(audio))
        except Exception as exc:  # noqa: BLE001 — reported to the client, like the real failure
            if isinstance(config, dict):
                await self.send(
                    event(
                        "conversation.item.input_audio_transcription.failed",
                        item_id=entry.item_id,
                        content_index=0,
                        error={
                            "type": "transcription_error",
                            "code": "audio_unintelligible",
                            "message": f"Transcription failed: {exc}",
                            "param": None,
                        },
                    )
                )
            return ""
        parts = entry.item["content"]
        index = next((i for i, p in enumerate(parts) if p.get("type") == "input_audio"), 0)
        parts[index]["transcript"] = text
        if isinstance(config, dict):
            ids = {"item_id": entry.item_id, "content_index": index}
            for delta in deltas:
                await self.send(
                    event("conversation.item.input_audio_transcription.delta", **ids, delta=delta)
                )
            usage = transcription_usage(str(config.get("model", "")), entry.audio_ms, text)
            await self.send(
                event(
                    "conversation.item.input_audio_transcription.completed",
                    **ids,
                    transcript=text,
                    usage=usage,
                )
            )
        return text

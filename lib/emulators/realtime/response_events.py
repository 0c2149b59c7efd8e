"""response.create and response.cancel: at most one active response, run as a task."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from lib.emulators.engines.responder import Reply
from lib.emulators.realtime import event_fields as ef
from lib.emulators.realtime.events import DEFAULT_VOICE, JsonDict
from lib.emulators.realtime.fields import text
from lib.emulators.realtime.items import Entry
from lib.emulators.realtime.limits import MAX_NAME_CHARS
from lib.emulators.realtime.response import ResponseOptions, ResponseRun
from lib.emulators.realtime.session_state import RealtimeSessionState
from lib.emulators.realtime.turns import cached_responder, compose_reply
from lib.emulators.realtime.usage import TokenCount, cached_share


def _voice_name(voice: str | JsonDict | None) -> str:
    """A voice name, or a custom voice's id (the offline speaker maps any name to a voice)."""
    if isinstance(voice, dict):
        return str(voice.get("id") or DEFAULT_VOICE)
    return voice or DEFAULT_VOICE


class ResponseEvents(RealtimeSessionState):
    async def _response_create(self, msg: JsonDict) -> None:
        params = ef.response_params(msg.get("response"))
        if params.get("conversation", "auto") != "none":
            self._check_conversation_room()
        await self._start_response(params, msg)

    async def _response_cancel(self, msg: JsonDict) -> None:
        wanted = msg.get("response_id")
        if wanted is not None:
            text(wanted, "response_id", MAX_NAME_CHARS)
        if self.active is None or (wanted and wanted != self.active.id):
            await self._error(
                "Cancellation failed: no active response found",
                "response_cancel_not_active",
                None,
                msg,
            )
            return
        self.active.cancel("client_cancelled")

    async def _start_response(self, params: JsonDict, msg: JsonDict | None) -> None:
        if self.active is not None:
            await self._error(
                f"Conversation already has an active response in progress: {self.active.id}. "
                "Wait until the response is finished before creating a new one.",
                "conversation_already_has_active_response",
                None,
                msg,
            )
            return
        # Both the session and `params` were checked field by field (session_config.py,
        # event_fields.py): the types here hold.
        s = self.session
        instructions = str(params.get("instructions", s.get("instructions")) or "")
        tools = params.get("tools", s.get("tools")) or []
        max_tokens = params.get("max_output_tokens", s.get("max_output_tokens"))
        output_audio = s["audio"]["output"]
        audio_params = (params.get("audio") or {}).get("output") or {}
        opts = ResponseOptions(
            modalities=list(params.get("output_modalities") or s["output_modalities"]),
            voice=_voice_name(audio_params.get("voice") or output_audio.get("voice")),
            speed=float(output_audio.get("speed") or 1.0),
            instructions=instructions,
            tools_text=json.dumps(tools) if tools else "",
            metadata=params.get("metadata"),
            in_conversation=params.get("conversation", "auto") != "none",
            max_output_tokens=max_tokens if isinstance(max_tokens, int) else None,
            compose=self._composer(list(self.conversation.entries), instructions),
        )
        run = ResponseRun(self, opts)
        self.active = run
        self._spawn(self._run_response(run))

    def _composer(
        self, snapshot: list[Entry], instructions: str | None
    ) -> Callable[[ResponseRun], Awaitable[Reply | None]]:
        async def compose(run: ResponseRun) -> Reply | None:
            # The real model hears the audio itself; the responder needs the words first.
            for entry in snapshot:
                if entry.transcript is not None and await run.race(entry.transcript) is None:
                    return None
            responder = cached_responder(self._responders, instructions)
            return await run.race(asyncio.to_thread(compose_reply, responder, snapshot))

        return compose

    async def _run_response(self, run: ResponseRun) -> None:
        try:
            await run.run()
        finally:
            if self.active is run:
                self.active = None

    def cached_tokens(self, input_tokens: TokenCount) -> TokenCount:
        cached = cached_share(input_tokens, self._last_input)
        self._last_input = input_tokens
        return cached

    def finished(self, run: ResponseRun) -> None:
        if self.active is run:
            self.active = None

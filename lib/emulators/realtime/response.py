"""One Realtime response: `response.created` → output items (text, audio + transcript, or a
function call) streamed at the simulated model's pace → `response.done` with usage.

Cancellation is cooperative (response.cancel, or barge-in when server VAD hears new speech):
every wait races the run's cancel event, and the run itself always sends the final
`response.done`, so the event order on the wire stays the real one."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from starlette.websockets import WebSocketDisconnect

from lib.emulators.engines.responder import Reply
from lib.emulators.faults import FAULTS
from lib.emulators.realtime.events import (
    JsonDict,
    assistant_item,
    event,
    function_call_item,
    new_id,
    rate_limits,
    response_object,
)
from lib.emulators.realtime.items import Entry, ItemHistory
from lib.emulators.realtime.limits import MAX_OUTPUT_TOKENS, SPOKEN_CHARS_PER_S
from lib.emulators.realtime.model import SAMPLE_RATE, ModelTiming, Speaker, split_deltas
from lib.emulators.realtime.usage import (
    ASSISTANT_AUDIO_TOKENS_PER_S,
    CHARS_PER_TOKEN,
    TokenCount,
    assistant_audio_tokens,
    response_usage,
    text_tokens,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSFER_PREFIX = "transfer_to_"  # handoffs are tool calls, as in openai-realtime-agents


class ResponseHost(Protocol):
    """What a run needs from its session."""

    conversation: ItemHistory
    timing: ModelTiming
    speaker: Speaker
    session: JsonDict

    async def send(self, payload: JsonDict) -> None: ...

    async def drop_connection(self) -> None: ...

    def cached_tokens(self, input_tokens: TokenCount) -> TokenCount: ...

    def finished(self, run: ResponseRun) -> None: ...


@dataclass
class ResponseOptions:
    modalities: list[str]
    voice: str
    speed: float
    instructions: str
    tools_text: str  # tool definitions are re-sent (and billed) with every response
    metadata: JsonDict | None
    in_conversation: bool  # False for response.create {conversation: "none"}
    max_output_tokens: int | None
    # The responder's reply; waits (via `run.race`) for what it needs, None once cancelled.
    compose: Callable[[ResponseRun], Awaitable[Reply | None]]


# Model ids the Realtime endpoint serves (production accepts the socket for others, then fails
# every response with model_not_found).
REALTIME_MODEL_PREFIXES = (
    "gpt-realtime",
    "gpt-4o-realtime-preview",
    "gpt-4o-mini-realtime-preview",
)


@dataclass
class ResponseRun:
    host: ResponseHost
    opts: ResponseOptions
    id: str = field(default_factory=lambda: new_id("resp"))
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None
    output: list[JsonDict] = field(default_factory=list)
    out_tokens: TokenCount = field(default_factory=TokenCount)
    truncated: bool = False
    failure: JsonDict | None = None  # status_details.error of a failed response

    def cancel(self, reason: str) -> None:
        if not self.cancelled.is_set():
            self.reason = reason
            self.cancelled.set()

    # ---- waiting that stops on cancel ------------------------------------------------------

    async def race(self, aw: Awaitable[T]) -> T | None:
        """The awaitable's result, or None once cancelled (the awaitable runs on, unharmed:
        it may be a transcript other runs share)."""
        fut = asyncio.ensure_future(aw)
        stop = asyncio.ensure_future(self.cancelled.wait())
        await asyncio.wait({fut, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if fut.done():
            return fut.result()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        return None

    async def _pause(self, seconds: float) -> bool:
        """Sleep; False if cancelled meanwhile."""
        if self.cancelled.is_set():
            return False
        if seconds > 0:
            try:
                await asyncio.wait_for(self.cancelled.wait(), seconds)
            except TimeoutError:
                return True
        return not self.cancelled.is_set()

    # ---- the run ---------------------------------------------------------------------------

    async def run(self) -> None:
        host, opts = self.host, self.opts
        loop = asyncio.get_running_loop()
        started = loop.time()
        conv_id = host.conversation.conversation_id if opts.in_conversation else None
        shell = response_object(
            self.id,
            conversation_id=conv_id,
            output_modalities=opts.modalities,
            voice=opts.voice,
            max_output_tokens=opts.max_output_tokens or "inf",
            metadata=opts.metadata,
        )
        input_tokens = host.conversation.input_tokens() + TokenCount(
            text=text_tokens(opts.instructions) + text_tokens(opts.tools_text)
        )
        cached = host.cached_tokens(input_tokens)
        await host.send(event("response.created", response=shell))
        await host.send(rate_limits(40000 - input_tokens.total))
        model = str(host.session.get("model", ""))
        if not model.startswith(REALTIME_MODEL_PREFIXES):
            # As production: the socket opens for any model; each response then fails.
            self.failure = {
                "type": "invalid_request_error",
                "code": "model_not_found",
                "message": f"The model `{model}` does not exist or you do not have access to it.",
            }
            await self._done(shell, TokenCount(), TokenCount())
            return
        try:
            reply = await opts.compose(self)
            if reply is not None:
                await self._emit(reply, started)
        except WebSocketDisconnect:
            raise  # the client went away: nobody to tell
        except Exception:
            # A bug here must not leave the client waiting: the response fails as production's
            # do on a server error, and the traceback goes to the log.
            log.exception("realtime: response %s failed", self.id)
            self.failure = {
                "type": "server_error",
                "code": None,
                "message": "The server had an error while processing your request. Sorry "
                "about that!",
            }
        finally:
            await self._done(shell, input_tokens, cached)

    async def _emit(self, reply: Reply, started: float) -> None:
        opts = self.opts
        text = reply.text or ""
        audio_mode = opts.modalities == ["audio"]
        # "inf" is the model's own maximum, as on the real API: a persona that echoes a long
        # message must not make a long reply (or minutes of speech) out of it.
        limit = opts.max_output_tokens or MAX_OUTPUT_TOKENS
        max_chars = limit * CHARS_PER_TOKEN
        if audio_mode:
            seconds = limit / ASSISTANT_AUDIO_TOKENS_PER_S
            max_chars = min(max_chars, int(seconds * SPOKEN_CHARS_PER_S * opts.speed))
        if len(text) > max_chars:
            text = text[:max_chars]
            self.truncated = True
        speech: asyncio.Future[npt.NDArray[np.int16]] | None = None
        if audio_mode and text.strip():
            # Synthesis overlaps the time-to-first-token wait, as a streaming TTS would.
            speech = asyncio.ensure_future(
                asyncio.to_thread(self.host.speaker.speak, text, opts.voice, opts.speed)
            )
        elapsed = asyncio.get_running_loop().time() - started
        slow = FAULTS.peek("ttft")  # fault injection: a slow model
        extra = slow.value / 1000 if slow is not None else 0.0
        if not await self._pause(self.host.timing.ttft_ms / 1000 + extra - elapsed):
            return
        if text.strip():
            await self._message(text, speech)
        call = reply.tool_call
        if reply.handoff_to and call is None:
            name, args = TRANSFER_PREFIX + reply.handoff_to, {"destination_agent": reply.handoff_to}
        elif call is not None:
            name, args = call.name, call.arguments
        else:
            return
        if not self.cancelled.is_set() and not self.truncated:
            await self._function_call(name, args)

    async def _add_item(self, item: JsonDict, audio_ms: float = 0.0) -> Entry:
        entry = Entry(item, audio_ms=audio_ms)
        index = len(self.output)
        self.output.append(item)
        await self.host.send(
            event("response.output_item.added", response_id=self.id, output_index=index, item=item)
        )
        if self.opts.in_conversation:
            prev = self.host.conversation.add(entry)
            await self.host.send(event("conversation.item.added", previous_item_id=prev, item=item))
        return entry

    async def _close_item(self, entry: Entry, status: str) -> None:
        entry.item["status"] = status
        if self.opts.in_conversation:
            self.host.conversation.resize(entry)  # it grew as it streamed
        index = self.output.index(entry.item)
        await self.host.send(
            event(
                "response.output_item.done",
                response_id=self.id,
                output_index=index,
                item=entry.item,
            )
        )
        if self.opts.in_conversation:
            prev = self._previous_id(entry)
            await self.host.send(
                event("conversation.item.done", previous_item_id=prev, item=entry.item)
            )

    def _previous_id(self, entry: Entry) -> str | None:
        entries = self.host.conversation.entries
        if entry not in entries:
            return None
        i = entries.index(entry)
        return entries[i - 1].item_id if i > 0 else None

    async def _message(
        self, text: str, speech: asyncio.Future[npt.NDArray[np.int16]] | None
    ) -> None:
        audio_mode = speech is not None
        entry = await self._add_item(assistant_item(new_id("item")))
        item_id = entry.item["id"]
        ids = {"response_id": self.id, "item_id": item_id, "output_index": len(self.output) - 1}
        part_kind, key = ("audio", "transcript") if audio_mode else ("text", "text")
        content: JsonDict = {"type": "output_audio" if audio_mode else "output_text", key: ""}
        entry.item["content"] = [content]
        await self.host.send(
            event(
                "response.content_part.added",
                **ids,
                content_index=0,
                part={"type": part_kind, key: ""},
            )
        )
        pcm = await self.race(speech) if speech is not None else None
        pieces = split_deltas(text)
        sent_chars = 0
        sent_samples = 0
        n_samples = 0 if pcm is None else int(pcm.shape[0])
        for sent_pieces, piece in enumerate(pieces, 1):
            if self.cancelled.is_set():
                break
            if pcm is not None:
                # Audio goes out in step with the transcript, cut at the same text offset.
                end = round(n_samples * (sent_chars + len(piece)) / len(text))
                chunk = pcm[sent_samples:end]
                sent_samples = end
                await self.host.send(
                    event(
                        "response.output_audio.delta",
                        **ids,
                        content_index=0,
                        delta=base64.b64encode(chunk.astype("<i2").tobytes()).decode(),
                    )
                )
            kind = (
                "response.output_audio_transcript.delta"
                if audio_mode
                else "response.output_text.delta"
            )
            await self.host.send(event(kind, **ids, content_index=0, delta=piece))
            drop = FAULTS.peek("ws_close")  # fault injection: the socket dies mid-answer
            if drop is not None and sent_pieces >= drop.value:
                FAULTS.take("ws_close")
                await self.host.drop_connection()
                return
            sent_chars += len(piece)
            content[key] += piece
            if not await self._pause(self.host.timing.delay_for(piece)):
                break
        said = content[key]
        audio_ms = 1000.0 * sent_samples / SAMPLE_RATE
        entry.audio_ms = audio_ms
        self.out_tokens = self.out_tokens + TokenCount(
            text=text_tokens(said), audio=assistant_audio_tokens(audio_ms) if audio_mode else 0
        )
        if self.cancelled.is_set():
            await self._close_item(entry, "incomplete")
            return
        if audio_mode:
            await self.host.send(event("response.output_audio.done", **ids, content_index=0))
            await self.host.send(
                event(
                    "response.output_audio_transcript.done", **ids, content_index=0, transcript=said
                )
            )
        else:
            await self.host.send(
                event("response.output_text.done", **ids, content_index=0, text=said)
            )
        await self.host.send(
            event(
                "response.content_part.done",
                **ids,
                content_index=0,
                part={"type": part_kind, key: said},
            )
        )
        await self._close_item(entry, "completed")

    async def _function_call(self, name: str, arguments: Any) -> None:
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        call_id = new_id("call")
        entry = await self._add_item(function_call_item(new_id("item"), call_id, name, ""))
        ids = {
            "response_id": self.id,
            "item_id": entry.item_id,
            "output_index": len(self.output) - 1,
        }
        for piece in [args[i : i + 8] for i in range(0, len(args), 8)] or [""]:
            await self.host.send(
                event("response.function_call_arguments.delta", **ids, call_id=call_id, delta=piece)
            )
            entry.item["arguments"] += piece
            if not await self._pause(self.host.timing.delay_for(piece)):
                await self._close_item(entry, "incomplete")
                return
        self.out_tokens = self.out_tokens + TokenCount(text=text_tokens(args))
        await self.host.send(
            event(
                "response.function_call_arguments.done",
                **ids,
                call_id=call_id,
                name=name,
                arguments=args,
            )
        )
        await self._close_item(entry, "completed")

    async def _done(self, shell: JsonDict, input_tokens: TokenCount, cached: TokenCount) -> None:
        details: JsonDict | None
        if self.failure is not None:
            status, details = "failed", {"type": "failed", "error": self.failure}
        elif self.cancelled.is_set():
            status, details = "cancelled", {"type": "cancelled", "reason": self.reason}
        elif self.truncated:
            status, details = "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
        else:
            status, details = "completed", None
        final = dict(shell)
        final.update(
            status=status,
            status_details=details,
            output=self.output,
            usage=response_usage(input_tokens, cached, self.out_tokens),
        )
        self.host.finished(self)  # a response.create sent on seeing response.done must succeed
        await self.host.send(event("response.done", response=final))

"""A streaming text model (Chat Completions, through the official SDK) for the avatar-listens
bridge: the avatar's own speech recognition hears the user, this model answers in text.

It speaks the same typed events as the Realtime session (`ResponseCreated`, `TextDelta`,
`TextDone`, `ResponseDone` with usage), so the bridge treats both alike. One request per
answer, streamed on the session's own loop thread; cancelling an answer closes its stream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
import uuid
from typing import Any

from lib.brain.base import BrainSnapshot, Line, TurnState
from lib.brain.events import (
    BrainEvent,
    ErrorEvent,
    ResponseCreated,
    ResponseDone,
    SessionState,
    TextDelta,
    TextDone,
)
from lib.brain.outlets import BrainOutlets
from lib.brain.settings import RealtimeSettings
from lib.core.config import Secret
from lib.core.loop_thread import LoopThread
from lib.core.problem import Problem
from lib.store.database import Store

log = logging.getLogger(__name__)
DEFAULT_TEXT_MODEL = "gpt-4.1-mini"


def chat_usage(usage: Any, model: str) -> dict[str, Any] | None:
    """Chat Completions usage in the Realtime `response.done` shape (text only)."""
    if usage is None:
        return None
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    return {
        "api": "chat.completions",
        "model": model,
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
        "input_token_details": {"text_tokens": prompt, "audio_tokens": 0, "cached_tokens": cached},
        "output_token_details": {"text_tokens": completion, "audio_tokens": 0},
    }


class TextModelSession(BrainOutlets):
    _log = log
    _subscriber_failed = "text model subscriber failed"

    def __init__(
        self,
        *,
        api_key: Secret,
        base_url: str | None,
        provider: str,
        model: str = DEFAULT_TEXT_MODEL,
        store: Store | None = None,
    ) -> None:
        super().__init__(provider, store)
        self.model = model
        self._key = api_key
        self._base_url = base_url
        self._loop = LoopThread("text-model")
        self._lock = threading.Lock()
        self._settings: RealtimeSettings | None = None
        self._history: list[dict[str, str]] = []
        self._lines: list[Line] = []
        self._state: TurnState = "offline"
        self._problem: Problem | None = None
        self._active: concurrent.futures.Future[None] | None = None
        self._responses = 0
        self._client: Any = None

    # ---- the Brain protocol ---------------------------------------------------------------
    def start(self, settings: RealtimeSettings) -> None:
        from openai import AsyncOpenAI

        self._settings = settings
        self._client = AsyncOpenAI(
            api_key=self._key.reveal(), base_url=self._base_url, max_retries=0
        )
        self._open_record(
            {
                "provider": f"{self.provider}-chat",
                "model": self.model,
                "settings": json.dumps({"instructions": settings.instructions}),
                "started_at": time.time(),
                "status": "connected",
            }
        )
        with self._lock:
            self._state = "listening"
        # Stateless HTTP: ready at once; a refused key shows on the first answer.
        self._emit(SessionState("session.created", {"model": self.model, "type": "chat"}))

    def update(self, settings: RealtimeSettings) -> None:
        self._settings = settings

    def wait_connected(self, timeout: float = 15.0) -> BrainSnapshot:
        return self.snapshot()

    def send_text(self, text: str) -> None:
        with self._lock:
            self._history.append({"role": "user", "content": text})
            self._lines.append(Line("user", f"text-{time.time()}", text, time.time(), True))
        self.respond()

    def respond(self) -> None:
        if not self._loop.alive or self._client is None:
            return
        self.cancel()
        self._active = self._loop.submit(self._answer(f"chat_{uuid.uuid4().hex[:20]}"))

    def cancel(self) -> None:
        active, self._active = self._active, None
        if active is not None and not active.done():
            active.cancel()

    def send_function_output(self, call_id: str, output: str) -> None:
        pass  # no tools on this path

    def append_audio(self, pcm24k: bytes) -> None:
        pass  # the avatar listens, not this model

    def clear_audio(self) -> None:
        pass

    def push_to_talk_end(self) -> None:
        pass

    def shutdown(self) -> None:
        self.cancel()
        if self._loop.alive:
            self._loop.close()
        with self._lock:
            self._state = "offline"
        self._record_stopped()

    def snapshot(self) -> BrainSnapshot:
        with self._lock:
            return BrainSnapshot(
                state=self._state,
                connected=self._state not in ("offline", "failed"),
                lines=tuple(Line(**vars(ln)) for ln in self._lines),
                problem=self._problem,
                reconnects=0,
                session={"model": self.model, "api": "chat.completions"},
                record_id=self.record_id,
                audio_in_s=0.0,
                responses=self._responses,
            )

    # ---- loop side ------------------------------------------------------------------------
    def _messages(self) -> list[dict[str, str]]:
        assert self._settings is not None
        with self._lock:
            return [{"role": "system", "content": self._settings.instructions}, *self._history]

    async def _answer(self, rid: str) -> None:
        import openai

        self._emit(ResponseCreated("response.created", rid))
        with self._lock:
            self._state = "responding"
            line = Line("assistant", rid, "", time.time())
            self._lines.append(line)
        text, usage, status, reason = "", None, "completed", None
        try:
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=self._messages(),
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = chat_usage(chunk.usage, self.model)
                for choice in chunk.choices:
                    delta = choice.delta.content or ""
                    if delta:
                        text += delta
                        with self._lock:
                            line.text = text
                        self._emit(TextDelta("response.output_text.delta", rid, rid, delta))
        except asyncio.CancelledError:
            status, reason = "cancelled", "client_cancelled"
        except openai.AuthenticationError as exc:
            status, reason = "failed", "invalid_api_key"
            self._fail(f"the text model refused the API key ({exc.message})")
        except openai.APIError as exc:
            status, reason = "failed", type(exc).__name__
            self._emit(ErrorEvent("error", "text_model_error", str(exc), None))
        finally:
            self._finish(rid, line, text, usage, status, reason)

    def _finish(
        self,
        rid: str,
        line: Line,
        text: str,
        usage: dict[str, Any] | None,
        status: str,
        reason: str | None,
    ) -> None:
        with self._lock:
            line.final, line.status = True, status
            if text:
                self._history.append({"role": "assistant", "content": text})
            self._responses += 1
            if self._state == "responding":
                self._state = "listening"
        if status == "completed":
            self._emit(TextDone("response.output_text.done", rid, rid, text))
        self._emit(ResponseDone("response.done", rid, status, reason, usage, []))

    def _fail(self, message: str) -> None:
        with self._lock:
            self._state = "failed"
            self._problem = Problem(
                message, "check OPENAI_API_KEY on the Settings page, or use the embedded model"
            )
        self._record_status("failed", message)

    def _emit(self, ev: BrainEvent) -> None:
        self._record(ev)
        super()._emit(ev)

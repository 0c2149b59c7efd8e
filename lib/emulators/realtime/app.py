"""The local OpenAI Realtime (GA) server: a Starlette WebSocket endpoint at `/v1/realtime`
(and `/realtime`, for a `websocket_base_url` without `/v1`) that the unmodified `openai` SDK
connects to with `AsyncOpenAI(websocket_base_url="ws://127.0.0.1:PORT/v1")`; and
`POST /v1/chat/completions`, the streaming text model (`base_url="http://127.0.0.1:PORT/v1"`).

Handshake rules copied from production: every refusal is an accepted socket (HTTP 101) that
gets one `error` event and is then closed, which is what the SDK sees from api.openai.com.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from lib.emulators.engines.stt import EngineName
from lib.emulators.faults import FAULTS
from lib.emulators.faults import control as faults_control
from lib.emulators.realtime.chat_completions import ChatModel
from lib.emulators.realtime.events import JsonDict, error_event
from lib.emulators.realtime.keys import bearer_key, key_accepted
from lib.emulators.realtime.limits import MAX_SESSIONS
from lib.emulators.realtime.model import Listener, ModelTiming, Speaker
from lib.emulators.realtime.session import RealtimeSession

log = logging.getLogger(__name__)

BETA_CLOSE_CODE = 4000  # what production uses after beta_api_shape_disabled
AUTH_CLOSE_CODE = 1008  # policy violation: the key was refused
TRY_AGAIN_LATER_CLOSE_CODE = 1013
KEYS_URL = "https://platform.openai.com/account/api-keys"


@dataclass(frozen=True)
class RealtimeServerConfig:
    api_key: str | None = None  # None: accept any non-empty key
    timing: ModelTiming = field(default_factory=ModelTiming)
    stt_engine: EngineName = "auto"


def _mask(key: str) -> str:
    return key if len(key) <= 8 else f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


def _refusal(ws: WebSocket, config: RealtimeServerConfig) -> tuple[JsonDict, int] | None:
    """The error event and close code for a handshake production would refuse, else None."""
    if "realtime=v1" in ws.headers.get("openai-beta", ""):
        return (
            error_event(
                "The Realtime Beta API is no longer supported. Please use /v1/realtime for the "
                "GA API.",
                code="beta_api_shape_disabled",
            ),
            BETA_CLOSE_CODE,
        )
    key = bearer_key(ws.headers.get("authorization", ""))
    if not key:
        return (
            error_event(
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). "
                f"You can obtain an API key from {KEYS_URL}.",
                code="missing_api_key",
            ),
            AUTH_CLOSE_CODE,
        )
    if not key_accepted(key, config.api_key) or FAULTS.take("unauthorized", "/v1/realtime"):
        return (
            error_event(
                f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
                f"{KEYS_URL}.",
                code="invalid_api_key",
            ),
            AUTH_CLOSE_CODE,
        )
    if not ws.query_params.get("model") and not ws.query_params.get("call_id"):
        return (
            error_event(
                "Missing required parameter: 'model'.",
                code="missing_required_parameter",
                param="model",
            ),
            AUTH_CLOSE_CODE,
        )
    return None


def _too_many(open_now: int) -> tuple[JsonDict, int] | None:
    """Past MAX_SESSIONS the connection is refused (a session with audio holds up to ~55 MB)."""
    if open_now < MAX_SESSIONS:
        return None
    return (
        error_event(
            f"Too many Realtime sessions are open on this local server ({open_now}; at most "
            f"{MAX_SESSIONS}). Close a session you no longer use, then connect again.",
            code="rate_limit_exceeded",
        ),
        TRY_AGAIN_LATER_CLOSE_CODE,
    )


def create_app(config: RealtimeServerConfig) -> Starlette:
    listener = Listener(config.stt_engine)
    speaker = Speaker()

    def warm() -> None:
        try:
            listener.warm()
        except Exception as exc:  # noqa: BLE001 — the first transcription will report it
            log.warning("speech-to-text warm-up failed: %s", exc)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Loading Whisper takes ~1 s: do it before the first turn, off the event loop.
        threading.Thread(target=warm, name="realtime-stt-warm", daemon=True).start()
        yield

    open_sessions: set[RealtimeSession] = set()

    async def realtime(ws: WebSocket) -> None:
        await ws.accept()

        async def send(payload: JsonDict) -> None:
            if ws.application_state != WebSocketState.CONNECTED:
                raise WebSocketDisconnect(1006)  # closed (fault injected): nothing to send on
            await ws.send_text(json.dumps(payload))

        refusal = _refusal(ws, config) or _too_many(len(open_sessions))
        if refusal is not None:
            with contextlib.suppress(Exception):
                await send(refusal[0])
                await ws.close(code=refusal[1])
            return
        model = ws.query_params.get("model") or "gpt-realtime"

        async def drop() -> None:
            with contextlib.suppress(Exception):
                await ws.close(code=1011, reason="connection dropped (fault injected)")

        session = RealtimeSession(send, model, config.timing, listener, speaker, drop)
        open_sessions.add(session)
        try:
            await session.start()
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                await session.handle(data)
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client went away mid-send
        finally:
            open_sessions.discard(session)
            await session.close()

    async def server_error(request: Request, exc: Exception) -> Response:
        # OpenAI's error body rather than Starlette's plain-text page; Starlette still
        # re-raises, so the traceback reaches the server's log.
        return JSONResponse(
            {
                "error": {
                    "message": "The server had an error while processing your request. Sorry "
                    "about that!",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
            500,
        )

    chat = ChatModel(config.api_key, config.timing)
    routes: list[BaseRoute] = [
        WebSocketRoute("/v1/realtime", realtime),
        WebSocketRoute("/realtime", realtime),
        Route("/v1/chat/completions", chat.endpoint, methods=["POST"]),
        Route("/_control/faults", faults_control, methods=["GET", "POST", "DELETE"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers={Exception: server_error})

"""Reading request bodies and writing JSON the way each emulated service does."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.emulators.rooms import api_errors
from lib.emulators.rooms.api_errors import ApiError
from lib.emulators.rooms.bounds import MAX_BODY_BYTES, load_json


class BodyLimit:
    """Every HTTP request's body is read here first, up to MAX_BODY_BYTES, and handed on
    whole; a larger one is answered 413 in its API's envelope before any route sees it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away mid-body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                await _too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: bytes | None = b"".join(chunks)

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()  # after the body: only a disconnect can come
            message: Message = {"type": "http.request", "body": body, "more_body": False}
            body = None
            return message

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    error = api_errors.body_too_large(scope["path"], MAX_BODY_BYTES)
    await error_response(error)(scope, receive, send)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_heygen_json(request: Request) -> Any:
    """HeyGen's backend parses bodies Django-REST style: JSON content type required (415
    otherwise, even for an empty body), an empty JSON body is `{}`, bad JSON is a 400."""
    media_type = _media_type(request)
    if media_type != "application/json":
        raise api_errors.unsupported_media_type(request.headers.get("content-type", ""))
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return load_json(raw)
    except ValueError as exc:
        raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from None


async def read_fastapi_json(request: Request) -> Any:
    """FastAPI reads a JSON body only when the content type says JSON; otherwise the body is
    treated as absent (a 422 "Field required" at loc ["body"]). Bad JSON is a 422 too."""
    raw = await request.body()
    if not raw or "json" not in _media_type(request):
        return None
    try:
        return load_json(raw)
    except json.JSONDecodeError as exc:
        raise api_errors.validation_error(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", exc.pos],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ]
        ) from None
    except ValueError as exc:  # nested too deeply, or not UTF-8
        raise api_errors.validation_error(
            [{"type": "json_invalid", "loc": ["body"], "msg": str(exc), "input": {}}]
        ) from None


def respond(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status)

"""Reading request bodies and writing JSON the way each emulated service does."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from lib.emulators.rooms import api_errors
from lib.emulators.rooms.api_errors import ApiError


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
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from None


async def read_fastapi_json(request: Request) -> Any:
    """FastAPI reads a JSON body only when the content type says JSON; otherwise the body is
    treated as absent (a 422 "Field required" at loc ["body"]). Bad JSON is a 422 too."""
    raw = await request.body()
    if not raw or "json" not in _media_type(request):
        return None
    try:
        return json.loads(raw)
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


def respond(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status)

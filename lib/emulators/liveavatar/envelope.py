"""LiveAvatar's success envelope and API-key check, shared by its routes.

The docs show `code: 100`, but LiveAvatar's web SDK (0.0.18) refuses any success whose code
is not 1000 and LiveKit's plugin takes any code up to 200: 1000 is what the service sends."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse

from lib.emulators.rooms import api_errors
from lib.emulators.rooms.http_io import respond
from lib.emulators.rooms.sessions import registry_of

SUCCESS_CODE: Final = 1000


def ok(data: Any, message: str, status: int = 200) -> JSONResponse:
    return respond({"code": SUCCESS_CODE, "data": data, "message": message}, status)


def api_key_ok(request: Request) -> bool:
    key = request.headers.get("x-api-key")
    return key is not None and registry_of(request).key_ok(key.strip())


def require_key(request: Request) -> None:
    if not api_key_ok(request):
        raise api_errors.liveavatar_unauthorized("send your API key in the X-API-KEY header")

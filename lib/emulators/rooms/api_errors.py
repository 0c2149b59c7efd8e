"""Error responses of the emulated HeyGen v1 and LiveAvatar APIs, with their real bodies.

Every refusal is an `ApiError` carrying the exact HTTP status and JSON body the real service
sends; the app turns it into a response in one place. Where the real service is terse
("Invalid parameter"), the emulator keeps that text as the message prefix (clients match on it)
and appends which field is wrong and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from starlette.responses import JSONResponse

from lib.emulators.faults import FAULTS
from lib.emulators.rooms.bounds import clip

# HeyGen's general error table (docs.heygen.com/reference/errors) and forum-quoted codes.
CODE_UNAUTHORIZED = 400112
CODE_INVALID_PARAMETER = 400175
CODE_MISSING_PARAMETER = 40001
CODE_SESSION_CLOSED = 10005  # {"code":10005,"message":"session state wrong: closed"} (forum)
CODE_SESSION_STATE = 400006  # "Session is not in correct state" (forum: task before start)
CODE_TTS_FAILED = 400009
# Not documented anywhere we found; the message text is the documented part.
CODE_CONCURRENT_LIMIT = 10004
CODE_SESSION_NOT_FOUND = 10002
# Ours, after the fault bodies' `status * 1000` (HeyGen documents no code for these).
CODE_BODY_TOO_LARGE = 413000
CODE_SPEECH_BACKLOG = 429000

CONCURRENT_LIMIT_MESSAGE = (
    "Concurrent limit reached, please make sure you have closed other testing sessions "
    "under the same account"
)
SESSION_CLOSED_MESSAGE = "session state wrong: closed"


class ApiError(Exception):
    """A refusal with the status and body the real API would send."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = dict(body)


# ---- HeyGen v1 ------------------------------------------------------------------------------


def unauthorized() -> ApiError:
    return ApiError(401, {"code": CODE_UNAUTHORIZED, "message": "Unauthorized"})


def unsupported_media_type(content_type: str) -> ApiError:
    # The real backend answers a body without `Content-Type: application/json` this way
    # (InteractiveAvatarNextJSDemo issue #5); it is a Django-REST-style 415.
    return ApiError(
        415,
        {
            "detail": f"Unsupported media type '{clip(content_type)}' in request. "
            "'application/json' is required."
        },
    )


def invalid_parameter(explanation: str) -> ApiError:
    return ApiError(
        400,
        {"code": CODE_INVALID_PARAMETER, "message": f"Invalid parameter: {explanation}"},
    )


def missing_parameter(field: str) -> ApiError:
    return ApiError(
        400,
        {"code": CODE_MISSING_PARAMETER, "message": f"Missing required input parameters: {field}"},
    )


def concurrent_limit(limit: int) -> ApiError:
    return ApiError(
        400,
        {
            "code": CODE_CONCURRENT_LIMIT,
            "message": f"{CONCURRENT_LIMIT_MESSAGE} (limit {limit}; stop one with "
            "POST /v1/streaming.stop)",
        },
    )


def session_closed() -> ApiError:
    return ApiError(400, {"code": CODE_SESSION_CLOSED, "message": SESSION_CLOSED_MESSAGE})


def session_not_found(session_id: str) -> ApiError:
    return ApiError(
        400,
        {"code": CODE_SESSION_NOT_FOUND, "message": f"session not found: {clip(session_id)!r}"},
    )


def session_not_started() -> ApiError:
    return ApiError(
        400,
        {
            "code": CODE_SESSION_STATE,
            "message": "Session is not in correct state: call POST /v1/streaming.start first",
        },
    )


def speech_backlog(what: str) -> ApiError:
    """Too much speech already waiting for this session (both APIs; HeyGen's envelope)."""
    return ApiError(
        429,
        {
            "code": CODE_SPEECH_BACKLOG,
            "message": f"Too much speech queued: {what}; wait for the avatar to catch up, "
            "or interrupt it",
        },
    )


def tts_failed(reason: str) -> ApiError:
    return ApiError(
        400,
        {"code": CODE_TTS_FAILED, "message": f"Error calling text to speech provider: {reason}"},
    )


# ---- LiveAvatar (a FastAPI service: {"code","data","message"} envelopes, 422 on schema) -------


def liveavatar_error(status: int, message: str) -> ApiError:
    return ApiError(status, {"code": status, "data": None, "message": message})


def liveavatar_unauthorized(what: str) -> ApiError:
    return liveavatar_error(401, f"Unauthorized: {what}")


def validation_error(details: Sequence[Mapping[str, Any]]) -> ApiError:
    """FastAPI's HTTPValidationError: {"detail": [{"type","loc","msg","input"}, ...]}."""
    return ApiError(422, {"detail": [dict(d) for d in details]})


def is_liveavatar_path(path: str) -> bool:
    return path.startswith(
        ("/v1/sessions", "/v1/avatars", "/v1/voices", "/v1/secrets", "/v1/contexts")
    )


def body_too_large(path: str, limit: int) -> ApiError:
    message = (
        f"Request body too large: over {limit / 2**20:g} MiB (these requests take a few "
        "hundred bytes of JSON)"
    )
    if is_liveavatar_path(path):
        return liveavatar_error(413, message)
    return ApiError(413, {"code": CODE_BODY_TOO_LARGE, "message": message})


# ---- the HeyGen / LiveAvatar server's request faults ------------------------------------

CREATE_PATHS: Final = ("/v1/streaming.new", "/v1/sessions/token")


def http_fault_response(path: str) -> JSONResponse | None:
    """A response replacing the real one, if a fault says so (LiveAvatar paths answer in
    LiveAvatar's envelope, HeyGen's in HeyGen's)."""
    liveavatar = is_liveavatar_path(path)
    for kind, status in (("http_500", 500), ("http_503", 503)):
        if FAULTS.take(kind, path) is not None:
            message = (
                "Internal Server Error" if status == 500 else "Service temporarily unavailable"
            )
            body: dict[str, Any] = (
                {"code": status, "data": None, "message": message}
                if liveavatar
                else {"code": status * 1000, "message": message}
            )
            return JSONResponse(body, status_code=status)
    if FAULTS.take("unauthorized", path) is not None:
        if liveavatar:
            return JSONResponse(
                {"code": 401, "data": None, "message": "Unauthorized: invalid API key"}, 401
            )
        return JSONResponse({"code": 400112, "message": "Unauthorized"}, status_code=401)
    if path in CREATE_PATHS and FAULTS.take("concurrency_limit", path) is not None:
        if liveavatar:
            return JSONResponse(
                {"code": 400, "data": None, "message": CONCURRENT_LIMIT_MESSAGE}, 400
            )
        return JSONResponse(
            {"code": CODE_CONCURRENT_LIMIT, "message": CONCURRENT_LIMIT_MESSAGE}, 400
        )
    return None

"""The emulator's Starlette app: HeyGen v1 + LiveAvatar REST, the local room, the audio
sockets, avatar preview images, and the one place errors become responses.

Every socket takes the token its session was issued (in the URL the API returned); request
bodies are read up to 1 MiB (rooms/bounds.py); `/_control/*` is locked (faults.py)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from PIL import Image
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from lib.emulators import faults
from lib.emulators.engines.face import FaceRenderer
from lib.emulators.engines.looks import AVATARS, avatar_by_id
from lib.emulators.engines.visemes import REST
from lib.emulators.heygen import agent_socket
from lib.emulators.heygen import routes as heygen_routes
from lib.emulators.liveavatar import library as liveavatar_library
from lib.emulators.liveavatar import routes as liveavatar_routes
from lib.emulators.rooms import api_errors, room_socket
from lib.emulators.rooms.api_errors import ApiError
from lib.emulators.rooms.catalog import RESOLUTIONS
from lib.emulators.rooms.http_io import BodyLimit, error_response
from lib.emulators.rooms.sessions import EmulatorConfig, Registry
from lib.wire import localroom

PREVIEW_SIZE = (640, 360)
_previews: dict[str, bytes] = {}


def _render_preview(avatar_id: str) -> bytes:
    rgb = FaceRenderer(avatar_id, *PREVIEW_SIZE).render(0.0, REST)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


async def avatar_preview(request: Request) -> Response:
    """`normal_preview` / `preview_url` of the avatar lists: a still of the idle avatar."""
    name = request.path_params["name"]
    avatar_id = name.removesuffix(".png")
    if avatar_by_id(avatar_id) is None:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    if avatar_id not in _previews:
        _previews[avatar_id] = await asyncio.to_thread(_render_preview, avatar_id)
    return Response(
        _previews[avatar_id], media_type="image/png", headers={"Cache-Control": "max-age=3600"}
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods answer in JSON like the real APIs, not plain text.
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


WARM_SIZE = RESOLUTIONS["medium"]  # the Studio's default quality


def _warm_renderers() -> None:
    """Draw every avatar's art at the default size once, in the background, so that the
    first `streaming.new` doesn't pay ~1 s for it (Start → first frame is a measured target)."""
    for look in AVATARS:
        FaceRenderer(look.avatar_id, *WARM_SIZE)


async def _inject_faults(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    path = request.url.path
    if not path.startswith("/_control"):
        slow = faults.FAULTS.take("latency", path)
        if slow is not None:
            await asyncio.sleep(slow.value / 1000)
        failed = api_errors.http_fault_response(path)
        if failed is not None:
            return failed
    return await call_next(request)


def create_app(config: EmulatorConfig) -> Starlette:
    registry = Registry(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        registry.start_reaper()
        threading.Thread(target=_warm_renderers, name="warm-renderers", daemon=True).start()
        yield
        await registry.shutdown()

    routes: list[BaseRoute] = [
        *heygen_routes.routes(),
        *liveavatar_routes.routes(),
        *liveavatar_library.routes(),
        WebSocketRoute(f"{localroom.ROOM_PATH}/{{session_id}}", room_socket.endpoint),
        WebSocketRoute("/v1/realtime/{session_id}", agent_socket.heygen_endpoint),
        WebSocketRoute("/v1/liveavatar/ws/{session_id}", agent_socket.lite_endpoint),
        Route("/v1/avatar-preview/{name}", avatar_preview, methods=["GET"]),
    ]
    routes.append(Route("/_control/faults", faults.control, methods=["GET", "POST", "DELETE"]))

    async def stats(request: Request) -> JSONResponse:
        """Per open session: where its video frames went (a soak tells the server's losses
        from the app's and the browser's with it). Locked like /_control/faults: it lists
        the live session ids."""
        try:
            faults.check_control(request)
        except faults.ControlRefusal as refusal:
            return refusal.response()
        now = time.monotonic()
        return JSONResponse(
            {
                "sessions": {
                    s.session_id: {"age_s": round(now - s.created_mono, 3), **s.stream.stats()}
                    for s in registry.sessions.values()
                    if not s.closed
                }
            }
        )

    routes.append(Route("/_control/stats", stats, methods=["GET"]))
    app = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
        middleware=[
            Middleware(BodyLimit),  # outermost: nothing reads a body before it
            Middleware(BaseHTTPMiddleware, dispatch=_inject_faults),
        ],
    )
    faults.lock_control(app, config.api_key)

    def on_fault(fault: faults.Fault) -> bool:
        if fault.kind != "idle_expiry":
            return True
        for session in list(registry.sessions.values()):  # an action: every live one, now
            if not session.closed:
                registry.close(session, "IDLE_TIMEOUT")
        return False

    app.state.registry = registry
    app.state.on_fault = on_fault
    return app

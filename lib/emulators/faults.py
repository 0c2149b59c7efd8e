"""Fault injection for the local servers: flags (`--fault SPEC`, repeatable) and a control
endpoint (`GET/POST/DELETE /_control/faults`).

`/_control/*` is for local tools only: it takes the server's key (`x-api-key` or
`Authorization: Bearer`; any non-empty key if the server has none), a Host naming this server on
a loopback address, no Origin but this server's own (a web page the user has open may POST to
127.0.0.1, and says where it comes from), `Content-Type: application/json` for POST, and a body
of a few KB. Refusals are 4xx JSON `{"error": ...}` saying what to send instead.

SPEC is `KIND[:VALUE][@PATH][*TIMES]`, e.g. `latency:800@/v1/streaming.task`,
`http_503@/v1/streaming.new*1`, `media_stall:3000`, `ws_close:5`. Kinds:

* `latency:MS`      every matching HTTP request waits MS first
* `http_500`, `http_503`  matching requests fail with the service's error body
* `unauthorized`    matching requests are refused as a bad key (401)
* `concurrency_limit`  session creation refused with the concurrency-limit error
* `idle_expiry`     (action) every live session ends now, as on idle timeout
* `media_slow:FPS`  avatar video at FPS frames a second
* `media_stall:MS`  no avatar video or audio for MS, from when it is set
* `ws_close:N`      (Realtime) the socket closes after N deltas of the next answer
* `ttft:MS`         (Realtime / chat) MS more before the first token

TIMES limits how often a request fault fires (default: until cleared). Values must be finite
and within each kind's range (`RANGES`): a NaN or endless latency would hang what it matches.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

KINDS: Final = (
    "latency",
    "http_500",
    "http_503",
    "unauthorized",
    "concurrency_limit",
    "idle_expiry",
    "media_slow",
    "media_stall",
    "ws_close",
    "ttft",
)
NEEDS_VALUE: Final = frozenset({"latency", "media_slow", "media_stall", "ws_close", "ttft"})
# Each valued kind's (least, most): beyond these a fault only hangs or floods what it matches.
RANGES: Final[dict[str, tuple[float, float]]] = {
    "latency": (1, 60_000),  # ms: a minute, longer than any client here waits for an answer
    "media_slow": (0.1, 25),  # fps: at most the stream's own 25 fps
    "media_stall": (1, 600_000),  # ms: up to a session's 600 s cap
    "ws_close": (1, 100_000),  # deltas: far more than any answer has
    "ttft": (1, 60_000),  # ms, as latency
}
WHOLE: Final = frozenset({"ws_close"})
MAX_TIMES: Final = 1_000_000
MAX_PATH: Final = 200  # the longest API path here is ~35 characters
MAX_FAULTS: Final = 100  # active at once; a test sets a handful
_SPEC = re.compile(
    r"^(?P<kind>[a-z_0-9]+)(?::(?P<value>[0-9.]+))?(?:@(?P<path>/\S*?))?(?:\*(?P<times>\d+))?$"
)


class FaultError(ValueError):
    """A fault spec that cannot be used: says the form."""


@dataclass
class Fault:
    kind: str
    value: float = 0.0
    path: str = ""  # request path prefix; "" matches every path
    times: int | None = None  # None: until cleared
    since: float = 0.0  # when it was set (time.monotonic)


def parse_fault(spec: str) -> Fault:
    m = _SPEC.match(spec.strip())
    if m is None:
        raise FaultError(
            f"{spec!r}: write KIND[:VALUE][@PATH][*TIMES], e.g. latency:800@/v1/streaming.task"
        )
    kind = m["kind"]
    if kind not in KINDS:
        raise FaultError(f"{spec!r}: unknown fault {kind!r}; known: {', '.join(KINDS)}")
    if kind in NEEDS_VALUE and m["value"] is None:
        raise FaultError(f"{spec!r}: {kind} needs a value, e.g. {kind}:500")
    try:
        value = float(m["value"] or 0)
    except ValueError:
        raise FaultError(f"{spec!r}: the value must be a number, e.g. {kind}:500") from None
    times = int(m["times"]) if m["times"] else None
    return _checked(Fault(kind, value, m["path"] or "", times, time.monotonic()))


def from_json(body: Any) -> Fault:
    if not isinstance(body, dict) or body.get("kind") not in KINDS:
        raise FaultError(f"give {{'kind': one of {', '.join(KINDS)}, 'value', 'path', 'times'}}")
    value, times, path = body.get("value"), body.get("times"), body.get("path")
    if value is None:
        value = 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError("'value' must be a number")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
        raise FaultError("'times' must be a whole number (or null: until cleared)")
    if path is not None and not isinstance(path, str):
        raise FaultError("'path' must be a request path such as /v1/streaming.task")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise FaultError("'value' is far out of range") from None
    return _checked(Fault(body["kind"], number, path or "", times, time.monotonic()))


def _checked(fault: Fault) -> Fault:
    """The fault, if every field is one it can sensibly act on."""
    kind, value = fault.kind, fault.value
    if not math.isfinite(value):
        raise FaultError(f"{kind}: 'value' must be a finite number")
    if kind in NEEDS_VALUE:
        low, high = RANGES[kind]
        if not low <= value <= high:
            raise FaultError(f"{kind}: 'value' must be from {low:g} to {high:g}")
        if kind in WHOLE and not value.is_integer():
            raise FaultError(f"{kind}: 'value' must be a whole number")
    if fault.times is not None and not 1 <= fault.times <= MAX_TIMES:
        raise FaultError(f"'times' must be from 1 to {MAX_TIMES} (or left out: until cleared)")
    path = fault.path
    if path and (len(path) > MAX_PATH or not path.startswith("/") or not path.isprintable()):
        raise FaultError(f"'path' must start with / and be at most {MAX_PATH} characters")
    return fault


class Faults:
    """The active faults of one server process (thread-safe: media runs off the loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            if len(self._faults) >= MAX_FAULTS:
                raise FaultError(f"{MAX_FAULTS} faults are already set: DELETE to clear them")
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def take(self, kind: str, path: str = "") -> Fault | None:
        """The first active fault of `kind` matching `path`, counted as fired once."""
        with self._lock:
            for f in self._faults:
                if f.kind == kind and path.startswith(f.path):
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self._faults.remove(f)
                    return f
        return None

    def peek(self, kind: str) -> Fault | None:
        with self._lock:
            return next((f for f in self._faults if f.kind == kind), None)

    def stalled(self) -> bool:
        f = self.peek("media_stall")
        if f is None:
            return False
        if time.monotonic() - f.since < f.value / 1000:
            return True
        with self._lock:  # over: the stream resumes by itself
            if f in self._faults:
                self._faults.remove(f)
        return False


FAULTS: Final = Faults()  # one per server process


# ---- the control door ------------------------------------------------------------------------

CONTROL_MAX_BODY: Final = 4096  # a fault is ~100 bytes of JSON


class ControlRefusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, status_code=self.status)


def lock_control(app: Starlette, api_key: str | None) -> None:
    """The key the app's `/_control/*` takes (None: any non-empty key, like its API)."""
    app.state.control_key = api_key


def _loopback_name(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _port_of(request: Request) -> int | None:
    server = request.scope.get("server")
    return int(server[1]) if server and server[1] is not None else None


def _names_this_server(netloc: str, port: int | None, default_port: int) -> bool:
    """`host:port` is a loopback name of this server (a Host header or an origin's netloc)."""
    try:
        parts = urlsplit(f"//{netloc}")
        given = parts.port if parts.port is not None else default_port
    except ValueError:
        return False
    return _loopback_name(parts.hostname) and (port is None or given == port)


def _own_origin(origin: str, port: int | None) -> bool:
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme == "http" and _names_this_server(parts.netloc, port, 80)


def _given_key(request: Request) -> str:
    key = request.headers.get("x-api-key")
    if key is None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        key = credential if scheme.lower() == "bearer" else ""
    return key.strip()


def check_control(request: Request) -> None:
    """Raise ControlRefusal unless the request comes from a local tool holding the key.
    Checked before the body is read."""
    port = _port_of(request)
    here = f"127.0.0.1:{port}" if port is not None else "127.0.0.1"
    if not _names_this_server(request.headers.get("host", ""), port, 80):
        raise ControlRefusal(
            403, f"/_control answers only requests addressed to this server: call http://{here}"
        )
    origin = request.headers.get("origin")
    if origin is not None and not _own_origin(origin, port):
        raise ControlRefusal(
            403,
            "/_control does not take requests from web pages (the Origin is another "
            f"site's); call http://{here} from a local tool, without an Origin header",
        )
    given = _given_key(request).encode()
    wanted: str | None = getattr(request.app.state, "control_key", None)
    if not given or (wanted is not None and not hmac.compare_digest(given, wanted.encode())):
        raise ControlRefusal(
            401,
            "send this server's key as x-api-key or Authorization: Bearer (the key it was "
            "started with; any non-empty key if it was started without one)",
        )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and media_type != "application/json":
        raise ControlRefusal(415, "send the fault as JSON with Content-Type: application/json")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


async def _read_json(request: Request) -> Any:
    declared = request.headers.get("content-length", "")
    too_big = ControlRefusal(413, f"the body is over {CONTROL_MAX_BODY} bytes; a fault is ~100")
    if declared.isdigit() and int(declared) > CONTROL_MAX_BODY:
        raise too_big
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > CONTROL_MAX_BODY:
            raise too_big
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ControlRefusal(400, "the body is nested too deeply; send one flat object") from None
    except ValueError as exc:
        raise ControlRefusal(400, f"the body must be a JSON object: {exc}") from None


async def control(request: Request) -> JSONResponse:
    """GET: the active faults · POST {kind, value, path, times}: add one · DELETE: clear."""
    try:
        check_control(request)
        if request.method == "DELETE":
            FAULTS.clear()
        elif request.method == "POST":
            try:
                fault = from_json(await _read_json(request))
                hook = getattr(request.app.state, "on_fault", None)
                if hook is not None and not hook(fault):  # an action (idle expiry) done at once
                    return JSONResponse({"faults": FAULTS.list(), "done": fault.kind})
                FAULTS.add(fault)
            except FaultError as exc:
                raise ControlRefusal(400, str(exc)) from None
    except ControlRefusal as refusal:
        return refusal.response()
    return JSONResponse({"faults": FAULTS.list()})

"""Fault injection for the local servers: flags (`--fault SPEC`, repeatable) and a control
endpoint (`GET/POST/DELETE /_control/faults`, loopback only like the servers themselves).

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

TIMES limits how often a request fault fires (default: until cleared).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Final

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
    return Fault(
        kind=kind,
        value=float(m["value"] or 0),
        path=m["path"] or "",
        times=int(m["times"]) if m["times"] else None,
        since=time.monotonic(),
    )


def from_json(body: Any) -> Fault:
    if not isinstance(body, dict) or body.get("kind") not in KINDS:
        raise FaultError(f"give {{'kind': one of {', '.join(KINDS)}, 'value', 'path', 'times'}}")
    try:
        value = float(body.get("value", 0) or 0)
        times = body.get("times")
        times = int(times) if times is not None else None
    except (TypeError, ValueError):
        raise FaultError("'value' must be a number and 'times' a whole number") from None
    if body["kind"] in NEEDS_VALUE and value <= 0:
        raise FaultError(f"{body['kind']} needs a positive 'value'")
    return Fault(body["kind"], value, str(body.get("path") or ""), times, time.monotonic())


class Faults:
    """The active faults of one server process (thread-safe: media runs off the loop)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
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


async def control(request: Request) -> JSONResponse:
    """GET: the active faults · POST {kind, value, path, times}: add one · DELETE: clear."""
    if request.method == "DELETE":
        FAULTS.clear()
    elif request.method == "POST":
        try:
            fault = from_json(await request.json())
        except (FaultError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        hook = getattr(request.app.state, "on_fault", None)
        if hook is not None and not hook(fault):  # an action (idle expiry) done at once
            return JSONResponse({"faults": FAULTS.list(), "done": fault.kind})
        FAULTS.add(fault)
    return JSONResponse({"faults": FAULTS.list()})

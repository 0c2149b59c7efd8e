"""The soak's local servers: starting them with room for the run, what the avatar server
reports (open sessions, video counts) and stopping them with their logs kept."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from lib.emulators.launcher import EmulatorProcess, start_emulator

# The soak starts its servers without a key (the app under test is pointed at them by URL),
# so they take any non-empty key; a caller holding a server's own key passes it instead.
ANY_KEY = "local"


def _headers(api_key: str | None) -> dict[str, str]:
    return {"x-api-key": api_key or ANY_KEY}


def start_servers(sessions: int, minutes: float) -> tuple[EmulatorProcess, EmulatorProcess]:
    """(avatar server, realtime server), with room for `sessions` streams for `minutes`."""
    # The local server caps a session at 600 s, as HeyGen does; a 10-minute soak plus its
    # start-up would hit that cap in its last seconds and measure a forced voice-only fallback.
    cap_s = max(600.0, minutes * 60 + 300)
    heygen = start_emulator(
        "heygen",
        "--concurrency-limit",
        str(max(3, sessions + 2)),
        "--session-duration-limit",
        str(cap_s),
    )
    realtime = start_emulator("realtime", "--ttft-ms", "0")
    return heygen, realtime


def stop_servers(servers: tuple[EmulatorProcess, ...], tmp: Path) -> None:
    for emu in servers:
        emu.stop()
    for emu in servers:  # the servers' last log lines, next to the screenshots
        (tmp / f"{emu.kind}.log").write_text("\n".join(emu.output) + "\n")


def live_sessions(base_url: str, api_key: str | None = None) -> list[dict[str, Any]]:
    resp = httpx.get(f"{base_url}/v1/streaming.list", headers=_headers(api_key), timeout=10)
    resp.raise_for_status()
    return list(resp.json()["data"]["sessions"])


def left_open(base_url: str, api_key: str | None = None) -> list[dict[str, Any]]:
    """The sessions still open on the local server once they had 15 s to close."""
    deadline = time.monotonic() + 15
    left = live_sessions(base_url, api_key)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = live_sessions(base_url, api_key)
    return left


def server_video(base_url: str, api_key: str | None = None) -> dict[str, Any]:
    """The local server's video counts per open session (`GET /_control/stats`, which takes
    the server's key like its API)."""
    try:
        resp = httpx.get(f"{base_url}/_control/stats", headers=_headers(api_key), timeout=10)
        resp.raise_for_status()
        return dict(resp.json()["sessions"])
    except (httpx.HTTPError, KeyError, ValueError):
        return {}


def video_summary(start: dict[str, Any], end: dict[str, Any]) -> list[dict[str, Any]]:
    """Frames a second between two `server_video` readings, for sessions in both: due by
    the 25 fps schedule, passed over late, merged into a newer frame, rendered, and sent to
    its viewer (a viewer that is behind skips frames)."""
    out = []
    for sid, b in end.items():
        a = start.get(sid)
        seconds = b["age_s"] - a["age_s"] if a else 0
        if not a or seconds <= 0:
            continue

        def rate(x: float, y: float, seconds: float = seconds) -> float:
            return round((y - x) / seconds, 1)

        row: dict[str, float | None] = {
            k: rate(a[k], b[k]) for k in ("due", "late", "merged", "rendered")
        }
        sent = [v["sent"] for v in b["viewers"]]
        sent0 = [v["sent"] for v in a["viewers"]]
        row["sent"] = rate(sum(sent0), sum(sent)) if len(sent) == len(sent0) else None
        out.append(row)
    return out

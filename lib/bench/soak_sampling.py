"""What the soak samples while the tabs talk: every 5 s the decoded and received fps of each
tab (WebRTC stats) and the resident memory of the app and the local servers; over the run
after warm-up, the CPU of each and where the avatar server's frames went."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from lib.bench.soak_procs import browser_pids, cpu_s, rss_mb
from lib.bench.soak_server import server_video, video_summary
from lib.bench.studio_driver import StudioDriver

WARMUP_S: Final = 60.0


@dataclass
class _Tab:
    """One tab's stream as the samples saw it."""

    drv: StudioDriver
    frames: int = 0  # decoded, at the last sample
    received: int = 0  # reached the tab (sent by the server), decoded or not
    # Seconds into the soak at which each peer connection after the first was seen.
    reconnects_at: list[float] = field(default_factory=list)
    keyframes: int = 0  # decoded by its current connection
    connected_at: float | None = None  # the first sample that saw it connected

    def count_so_far(self) -> None:
        """Frames before the first sample, so that the first rate is not inflated."""
        with contextlib.suppress(Exception):
            first = self.drv.stats()
            self.frames = int(first.get("framesDecodedAll") or 0)
            self.received = int(first.get("framesReceivedAll") or 0)

    def rates(self, now: float, since: float, t0: float) -> tuple[float | None, float | None]:
        """(decoded, received) frames a second from `since` to `now`; None if the stats could
        not be read."""
        try:
            stats = self.drv.stats()
        except Exception:  # noqa: BLE001 - the iframe may be re-rendering
            return None, None
        frames = int(stats.get("framesDecodedAll") or 0)
        new = int(stats.get("peerConnections") or 0) - 1 - len(self.reconnects_at)
        self.reconnects_at += [round(now - t0, 1)] * max(0, new)
        self.keyframes = int((stats.get("video") or {}).get("keyframes") or 0)
        if stats.get("state") == "connected" and self.connected_at is None:
            self.connected_at = time.monotonic()
        fps = round((frames - self.frames) / (now - since), 1)
        self.frames = frames
        received = int(stats.get("framesReceivedAll") or 0)
        rx_fps = round((received - self.received) / (now - since), 1)
        self.received = received
        return fps, rx_fps


@dataclass
class Sampled:
    samples: list[dict[str, Any]]
    # Per stream, in tab order:
    reconnects_at: list[list[float]]
    keyframes: list[int]
    connected_at: list[float | None]  # time.monotonic()
    t0_wall: float  # when sampling started (turns are stamped in wall-clock time)
    server_video_fps: list[dict[str, Any]]
    cpu_percent: dict[str, float]


def sample(
    drivers: list[StudioDriver],
    groups: dict[str, list[int]],
    avatar_url: str,
    minutes: float,
    progress: Callable[[str], None],
) -> Sampled:
    """Sample every 5 s for `minutes`; `groups` are the process trees to measure by name
    (the browser's is added at the end of warm-up, for its CPU only)."""
    groups = dict(groups)
    tabs = [_Tab(drv) for drv in drivers]
    samples: list[dict[str, Any]] = []
    cpu_start: dict[str, float] = {}
    cpu_t0 = 0.0
    video_start: dict[str, Any] = {}
    t_end = time.monotonic() + minutes * 60
    t0 = time.monotonic()
    t0_wall = time.time()
    for tab in tabs:
        tab.count_so_far()
    last_t = time.monotonic()
    while time.monotonic() < t_end:
        drivers[0].page.wait_for_timeout(5000)
        now = time.monotonic()
        if not cpu_start and now - t0 >= min(WARMUP_S, minutes * 30):
            groups["browser"] = browser_pids()
            cpu_start = {g: cpu_s(ps) for g, ps in groups.items()}
            cpu_t0 = now
            video_start = server_video(avatar_url)
        by_process = {g: sum(rss_mb(x) for x in ps) for g, ps in groups.items() if g != "browser"}
        row: dict[str, Any] = {
            "t_s": round(now - t0, 1),
            "rss_mb": sum(by_process.values()),
            "rss_mb_by_process": by_process,
        }
        rates = [tab.rates(now, last_t, t0) for tab in tabs]
        last_t = now
        fps = [f for f, _ in rates]
        row["fps"] = fps
        row["received_fps"] = [r for _, r in rates]
        samples.append(row)
        progress(f"{row['t_s']:.0f} s · fps {fps} · {row['rss_mb']:.0f} MB")
    video_rates = video_summary(video_start, server_video(avatar_url))
    cpu_percent = (
        {
            g: round(100 * (cpu_s(ps) - cpu_start[g]) / (time.monotonic() - cpu_t0), 1)
            for g, ps in groups.items()
        }
        if cpu_start
        else {}
    )
    return Sampled(
        samples=samples,
        reconnects_at=[tab.reconnects_at for tab in tabs],
        keyframes=[tab.keyframes for tab in tabs],
        connected_at=[tab.connected_at for tab in tabs],
        t0_wall=t0_wall,
        server_video_fps=video_rates,
        cpu_percent=cpu_percent,
    )

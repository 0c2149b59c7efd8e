"""Drive the Avatar Studio page in headless Chromium and measure what the browser really gets.

Shared by the browser tests and `python -m lib bench avatar`. Measurements happen in the page:
a `requestVideoFrameCallback` monitor in the streamer's iframe records every decoded frame
(epoch ms), a brightness probe (to tell the avatar from the placeholder card) and the darkness
of the mouth region (an open mouth shows a dark interior; robust to the head's idle sway).
WebRTC stats come from `getStats()` on the page's own RTCPeerConnection.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HIST_BINS = 32
# Resting frames stray ≤ 0.05 from their median (VP8, sway); the lips parting by a tenth of
# their range moves it ≥ 0.09 (measured on all five avatars through a VP8 round trip).
MOUTH_MIN_STEP = 0.05
MONITOR_JS = """
(box) => {
  const HIST_BINS = __HIST_BINS__;
  if (window.__mon) { window.__mon.box = box; return true; }
  const mon = window.__mon = {frames: [], box: box, installed: Date.now(), video: null};
  const c = document.createElement('canvas');
  const ctx = c.getContext('2d', {willReadFrequently: true});
  function lumaStats(v, sx, sy, sw, sh, bins) {
    if (c.width !== sw || c.height !== sh) { c.width = sw; c.height = sh; }
    ctx.drawImage(v, sx, sy, sw, sh, 0, 0, sw, sh);
    const d = ctx.getImageData(0, 0, sw, sh).data;
    let sum = 0, dark = 0, n = d.length / 4;
    const hist = bins ? new Array(bins).fill(0) : null;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += y; if (y < 70) dark++;
      if (hist) hist[Math.min(bins - 1, Math.floor(y * bins / 256))]++;
    }
    return [sum / n, dark / n, hist ? hist.map(x => Math.round(10000 * x / n) / 10000) : null];
  }
  function tick(v) {
    return (now, meta) => {
      if (mon.video !== v) return;  // the element was replaced; its successor has a tick
      const w = v.videoWidth, h = v.videoHeight;
      if (w && h) {
        const probe = lumaStats(v, 0, 0, Math.max(2, w >> 3), Math.max(2, h >> 3))[0];
        let mouth = null, hist = null;
        const b = mon.box;
        if (b) {
          const sx = Math.round(b[0] * w), sy = Math.round(b[1] * h);
          const sw = Math.max(2, Math.round((b[2] - b[0]) * w));
          const sh = Math.max(2, Math.round((b[3] - b[1]) * h));
          [, mouth, hist] = lumaStats(v, sx, sy, sw, sh, HIST_BINS);
        }
        // When the frame reaches the screen (not when this callback runs, up to a frame later).
        const shown = meta && meta.expectedDisplayTime
          ? performance.timeOrigin + meta.expectedDisplayTime : Date.now();
        // When its last packet arrived from the network (WebRTC sources only).
        const rx = meta && meta.receiveTime ? performance.timeOrigin + meta.receiveTime : null;
        mon.frames.push({t: shown, rx: rx, w: w, h: h, probe: probe, mouth: mouth, hist: hist});
        if (mon.frames.length > 20000) mon.frames.splice(0, 10000);
      }
      v.requestVideoFrameCallback(tick(v));
    };
  }
  // When sound plays: the loudness of the stream's audio, read every 5 ms from an analyser
  // (times of the windows above -40 dBFS; the avatar's silence is digital zero).
  mon.sound = [];
  function listen(v) {
    const s = v.srcObject;
    if (!s || !s.getAudioTracks || !s.getAudioTracks().length || mon.heard === s) return;
    mon.heard = s;
    const ac = mon.ac || (mon.ac = new AudioContext());
    ac.resume();
    const an = ac.createAnalyser();
    an.fftSize = 256;
    ac.createMediaStreamSource(new MediaStream(s.getAudioTracks())).connect(an);
    const buf = new Float32Array(an.fftSize);
    clearInterval(mon.listening);
    mon.listening = setInterval(() => {
      an.getFloatTimeDomainData(buf);
      let e = 0;
      for (const x of buf) e += x * x;
      if (Math.sqrt(e / buf.length) > 0.01) {
        mon.sound.push(performance.timeOrigin + performance.now());
        if (mon.sound.length > 20000) mon.sound.splice(0, 10000);
      }
    }, 5);
  }
  // The streamer may replace its <video> element when playback starts: follow it.
  function follow() {
    const v = document.querySelector('video');
    if (v && v !== mon.video) { mon.video = v; v.requestVideoFrameCallback(tick(v)); }
    if (mon.video) listen(mon.video);
  }
  follow();
  setInterval(follow, 50);
  return true;
}
""".replace("__HIST_BINS__", str(HIST_BINS))

# Playwright's own checks before it presses a button take tens of milliseconds on a busy
# machine; the click event's timestamp is when a user's press would have landed.
CLICK_CLOCK_JS = """
() => {
  window.__clickAt = null;
  if (!window.__clickClock) {
    window.__clickClock = true;
    document.addEventListener(
      'click', e => { window.__clickAt = performance.timeOrigin + e.timeStamp; }, true);
  }
}
"""

STATS_JS = """
async () => {
  const out = {video: null, audio: null, state: null};
  // Mean time in the jitter buffer; the target it aimed for; the least jitter alone needs
  // (target above minimum: held back for the other stream, i.e. for lip-sync).
  const per = (r, k) =>
    r.jitterBufferEmittedCount ? 1000 * r[k] / r.jitterBufferEmittedCount : null;
  const buffer = r => ({jitterMs: per(r, 'jitterBufferDelay'),
      targetMs: per(r, 'jitterBufferTargetDelay'), minimumMs: per(r, 'jitterBufferMinimumDelay')});
  // Frames decoded over every peer connection the page made (a reconnect starts a new
  // one at zero): the last count seen of each, kept after it closes.
  window.__decoded = window.__decoded || {};
  window.__received = window.__received || {};
  const pcs = window.__pcs || [];
  out.peerConnections = pcs.length;
  for (const [i, pc] of pcs.entries()) {
    if (pc.connectionState === 'closed') continue;
    out.state = pc.connectionState;
    const stats = await pc.getStats();
    stats.forEach(r => {
      if (r.type !== 'inbound-rtp') return;
      if (r.kind === 'video') window.__decoded[i] = r.framesDecoded || 0;
      if (r.kind === 'video') window.__received[i] = r.framesReceived || 0;
      if (r.kind === 'video') out.video = {framesDecoded: r.framesDecoded,
          framesDropped: r.framesDropped, width: r.frameWidth, height: r.frameHeight,
          fps: r.framesPerSecond, received: r.framesReceived, lost: r.packetsLost,
          nacks: r.nackCount, plis: r.pliCount, keyframes: r.keyFramesDecoded,
          freezes: r.freezeCount, ...buffer(r)};
      if (r.kind === 'audio') out.audio = {samples: r.totalSamplesReceived,
          energy: r.totalAudioEnergy, level: r.audioLevel, concealed: r.concealedSamples,
          accelerated: r.removedSamplesForAcceleration, ...buffer(r)};
    });
  }
  const sum = o => Object.values(o).reduce((a, b) => a + b, 0);
  out.framesDecodedAll = sum(window.__decoded);
  out.framesReceivedAll = sum(window.__received);
  return out;
}
"""


@dataclass(frozen=True)
class FrameSample:
    t: float  # epoch seconds, browser clock (same machine as the server)
    probe: float
    mouth: float | None
    rx: float | None = None  # epoch seconds the frame's packets arrived (None: not reported)
    # The mouth region's luma histogram (HIST_BINS fractions): its shape changes as soon as
    # the lips move, and barely as the head sways (the region keeps its pixels, shifted).
    hist: tuple[float, ...] | None = None


class StudioDriver:
    """A Playwright `page` on the Avatar Studio. Sync API; never time.sleep (Playwright rule)."""

    def __init__(self, page: Any) -> None:
        self.page = page

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.get_by_role("heading", name="Avatar Studio").wait_for(timeout=60_000)
        self.page.get_by_role("button", name="Start").wait_for(timeout=60_000)

    def frame(self) -> Any:
        for fr in self.page.frames:
            if "streamlit_webrtc" in fr.url:
                return fr
        raise LookupError("the streamlit-webrtc iframe is not on the page")

    def wait_frame(self, timeout_s: float = 30) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.frame()
            except LookupError:
                if time.monotonic() > deadline:
                    raise
                self.page.wait_for_timeout(100)

    def now(self) -> float:
        return float(self.page.evaluate("Date.now()")) / 1000

    def click(self, name: str) -> float:
        """Click a button; returns when the page got the click (the user's moment), seconds."""
        button = self.page.get_by_role("button", name=name, exact=True)
        button.wait_for(timeout=30_000)
        self.page.wait_for_function(
            f"""() => [...document.querySelectorAll('button')].some(
                b => b.innerText.trim() === {name!r} && !b.disabled)""",
            timeout=60_000,
        )
        before = self.now()
        self.page.evaluate(CLICK_CLOCK_JS)
        button.click()
        at = self.page.evaluate("() => window.__clickAt")
        return float(at) / 1000 if at else before

    def install_monitor(
        self, mouth_box_rel: tuple[float, float, float, float] | None, timeout_s: float = 30
    ) -> None:
        frame = self.wait_frame(timeout_s)
        frame.wait_for_function("() => !!document.querySelector('video')", timeout=timeout_s * 1000)
        frame.evaluate(MONITOR_JS, list(mouth_box_rel) if mouth_box_rel else None)

    def first_sound(self, since: float) -> float | None:
        """When the stream's audio first played sound after `since` (epoch seconds)."""
        at = self.frame().evaluate(
            "(since) => (window.__mon ? window.__mon.sound.find(t => t >= since) : null)",
            since * 1000,
        )
        return float(at) / 1000 if at else None

    def samples(self, since: float | None = None) -> list[FrameSample]:
        """Frames shown so far (from `since`, epoch seconds: less to copy out of the page)."""
        raw = self.frame().evaluate(
            "(since) => (window.__mon ? window.__mon.frames.filter(f => f.t >= since) : [])",
            (since or 0) * 1000,
        )
        return [
            FrameSample(
                r["t"] / 1000,
                r["probe"],
                r["mouth"],
                r["rx"] / 1000 if r.get("rx") else None,
                tuple(r["hist"]) if r.get("hist") else None,
            )
            for r in raw
        ]

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.frame().evaluate(STATS_JS)
        return result

    def peer_connections(self) -> int:
        """How many RTCPeerConnections the streamer has created so far (closed ones too)."""
        return int(self.frame().evaluate("() => (window.__pcs || []).length"))

    def wait_until(self, predicate: Any, timeout_s: float, poll_ms: int = 100) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.page.wait_for_timeout(poll_ms)
        return bool(predicate())

    def decoded_fps(self, seconds: float = 3.0) -> float:
        first = self.stats()["video"]
        t0 = time.monotonic()
        self.page.wait_for_timeout(int(seconds * 1000))
        last = self.stats()["video"]
        if not first or not last:
            return 0.0
        return float(last["framesDecoded"] - first["framesDecoded"]) / (time.monotonic() - t0)

    def type_text(self, text: str) -> None:
        box = self.page.get_by_label("What should the avatar say?")
        box.fill(text)
        box.blur()  # commit the widget value before clicking Speak
        self.wait_idle()

    def wait_idle(self, timeout_ms: int = 15_000) -> None:
        """Wait for Streamlit's rerun to finish (its running indicator goes away)."""
        self.page.wait_for_function(
            """() => !document.querySelector('[data-testid="stStatusWidget"]')""",
            timeout=timeout_ms,
        )

    def choose(self, label: str, option: str) -> None:
        """Pick `option` (its whole text) in the select box `label`; returns once the page has
        rerun. A box locked while a session runs unlocks once it has stopped (a rerun of its
        own, which closes an open list: then open it again)."""
        self.page.wait_for_function(
            """(label) => { const i = document.querySelector(`input[aria-label="${label}"]`);
                            return !!i && !i.disabled; }""",
            arg=label,
            timeout=30_000,
        )
        self.wait_idle(60_000)
        for attempt in range(3):
            self.page.get_by_role("combobox", name=label).click()
            try:
                self.page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
                break
            except Exception:  # playwright's TimeoutError: the list closed under us
                if attempt == 2:
                    raise
                self.wait_idle(60_000)
        self.wait_idle()

    def speaking(self, timeout_ms: int = 15_000) -> None:
        """Wait until the page reports the avatar speaking (from the provider's events)."""
        self.page.get_by_text("avatar speaking").first.wait_for(timeout=timeout_ms)

    def live(self) -> None:
        # The status line's bold "Live" (exact, so the sidebar's "liveavatar" doesn't match).
        self.page.get_by_text("Live", exact=True).first.wait_for(timeout=30_000)


def first_avatar_frame(
    samples: list[FrameSample], after: float, placeholder_probe_max: float = 40.0
) -> float | None:
    """Time of the first frame after `after` that is the avatar, not the dark placeholder."""
    for s in samples:
        if s.t >= after and s.probe > placeholder_probe_max:
            return s.t
    return None


def first_mouth_movement(
    samples: list[FrameSample], after: float, min_step: float = MOUTH_MIN_STEP
) -> float | None:
    """When the first frame after `after` whose mouth leaves the resting band was shown."""
    frame = first_mouth_frame(samples, after, min_step)
    return frame.t if frame is not None else None


def first_mouth_frame(
    samples: list[FrameSample], after: float, min_step: float = MOUTH_MIN_STEP
) -> FrameSample | None:
    """First frame shown after `after` whose mouth left its resting look. The frames of the
    second before `after` are the rest: their median histogram, and how far the second
    farthest of them strays from it (VP8 noise, idle sway). A frame counts as moved when its
    histogram is further from the rest than twice that, and at least `min_step` (L1, 0..2)."""
    rest = mouth_rest(samples, after, min_step)
    if rest is None:
        return None
    median, threshold = rest
    for s in samples:
        if s.t >= after and s.hist is not None and hist_distance(s.hist, median) > threshold:
            return s
    return None


def mouth_rest(
    samples: list[FrameSample], after: float, min_step: float = MOUTH_MIN_STEP
) -> tuple[list[float], float] | None:
    """The resting look before `after`: (median histogram, distance that counts as moved)."""
    rest = [s.hist for s in samples if s.hist is not None and after - 1 <= s.t < after]
    if len(rest) < 5:
        return None
    median = [statistics.median(col) for col in zip(*rest, strict=True)]
    # The rest's spread without its single worst frame (a keyframe or a quality step of the
    # encoder would otherwise set the bar above the first lip movements).
    strays = sorted(hist_distance(h, median) for h in rest)
    return median, max(min_step, 2 * strays[-2])


def mouth_detector_report(samples: list[FrameSample], after: float) -> str:
    """Why the detector saw (no) movement after `after`: for a failure message."""
    rest = mouth_rest(samples, after)
    if rest is None:
        return "fewer than 5 frames in the second before"
    median, threshold = rest
    moved = [
        round(hist_distance(s.hist, median), 3)
        for s in samples
        if s.t >= after and s.hist is not None
    ]
    return f"threshold {threshold:.3f}; distances after {moved[:50]}"


def hist_distance(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


def mouth_box_rel(
    avatar_id: str, width: int = 854, height: int = 480, margin: int = 4
) -> tuple[float, float, float, float]:
    """The renderer's mouth box as fractions of the frame, with a margin for the head's idle
    sway (darkness is measured there, not exact pixels)."""
    from lib.emulators.engines.face import FaceRenderer

    x0, y0, x1, y1 = FaceRenderer(avatar_id, width, height).mouth_box
    return (
        (x0 - margin) / width,
        (y0 - margin) / height,
        (x1 + margin) / width,
        (y1 + margin) / height,
    )

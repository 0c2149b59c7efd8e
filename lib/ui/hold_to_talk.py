"""The push-to-talk control: hold it (mouse, touch) or the space bar while speaking.

A Streamlit button reports a click, not its press and release, so this is a small component
(`st.components.v2`, in the page itself, no iframe) that reports both, each with the browser's
time of it. Every way a hold can end ends it: the pointer let go anywhere (it is captured, and
the window listens too), the touch cancelled, the window losing focus, the tab hidden, the
control taken off the page. The space bar counts unless a text field, list or slider has the
focus (the chat box keeps its spaces).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

CLOCK_KEY = "hold_to_talk_clock"

_HTML = '<button type="button" class="hold" aria-pressed="false">Hold to talk</button>'
_CSS = """
.hold { width: 100%; min-height: 2.6rem; border-radius: 0.5rem; cursor: pointer;
  font: inherit; user-select: none; -webkit-user-select: none; touch-action: none;
  color: var(--st-text-color); background: var(--st-secondary-background-color);
  border: 1px solid var(--st-border-color, rgba(128, 128, 128, 0.4)); }
.hold.held { color: #fff; background: var(--st-primary-color);
  border-color: var(--st-primary-color); }
"""
_JS = """
export default function (component) {
  const { parentElement, setTriggerValue, data } = component;
  const button = parentElement.querySelector("button.hold");
  const idle = data.label, talking = data.held_label;
  const now = () => performance.timeOrigin + performance.now();  // never jumps
  const fields = "input, textarea, select, [contenteditable=''], [contenteditable='true'], " +
    "[role='textbox'], [role='combobox'], [role='listbox'], [role='slider'], [role='spinbutton']";
  let held = null;  // "pointer" | "key" while held
  const show = () => {
    button.textContent = held ? talking : idle;
    button.classList.toggle("held", held !== null);
    button.setAttribute("aria-pressed", String(held !== null));
  };
  const report = (event) => setTriggerValue(event, { at: now(), origin: performance.timeOrigin });
  const press = (how) => { if (held) return; held = how; show(); report("press"); };
  const release = () => { if (!held) return; held = null; show(); report("release"); };
  const typing = (e) => {
    const el = e.composedPath()[0];
    return el instanceof Element && (el.isContentEditable || el.closest(fields) !== null);
  };
  const down = (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    try { button.setPointerCapture(e.pointerId); } catch (_) { /* the window listens too */ }
    press("pointer");
  };
  const up = () => { if (held === "pointer") release(); };
  const keyDown = (e) => {
    if (e.code !== "Space" || e.ctrlKey || e.altKey || e.metaKey || typing(e)) return;
    e.preventDefault();  // no page scroll, no click on a focused button
    if (!e.repeat) press("key");
  };
  const keyUp = (e) => {
    if (e.code !== "Space" || held !== "key") return;
    e.preventDefault();
    release();
  };
  const hidden = () => { if (document.visibilityState === "hidden") release(); };
  const noMenu = (e) => e.preventDefault();  // a long touch opens no menu
  const on = [
    [button, "pointerdown", down], [button, "contextmenu", noMenu],
    [button, "lostpointercapture", up], [window, "pointerup", up], [window, "pointercancel", up],
    [document, "keydown", keyDown], [document, "keyup", keyUp], [window, "blur", release],
    [document, "visibilitychange", hidden],
  ];
  for (const [target, type, fn] of on) target.addEventListener(type, fn, true);
  show();
  return () => {
    release();
    for (const [target, type, fn] of on) target.removeEventListener(type, fn, true);
  };
}
"""
_CONTROL = st.components.v2.component("avatarlab.hold_to_talk", html=_HTML, css=_CSS, js=_JS)


class BrowserClock:
    """Browser times → this server's clock, which every other stage of a turn is stamped on.

    The browser's clock may be off by any amount. Each event arrives after it happened by its
    delivery time (the WebSocket message, then the rerun that runs its callback: a few ms on
    loopback, tens of ms on a network, more while the server is busy), never before. So the
    smallest (arrival − browser time) seen is the clock offset plus the quickest delivery:
    times converted with it are off by that quickest delivery at most, and never later than
    their arrival. A new page load (another time origin) starts afresh."""

    def __init__(self) -> None:
        self._origin: float | None = None
        self._offset: float | None = None

    def to_server(self, at_ms: float, origin: float, arrived: float) -> float:
        if origin != self._origin:
            self._origin, self._offset = origin, None
        at = at_ms / 1000
        if self._offset is None or arrived - at < self._offset:
            self._offset = arrived - at
        return at + self._offset


def hold_to_talk(
    key: str,
    on_press: Callable[[float], None],
    on_release: Callable[[float], None],
    *,
    label: str = "Hold to talk (or the space bar)",
) -> None:
    """The control; `on_press` and `on_release` get when it happened, on this server's clock."""
    clock: BrowserClock = st.session_state.setdefault(CLOCK_KEY, BrowserClock())

    def reported(event: str, then: Callable[[float], None]) -> Callable[[], None]:
        def callback() -> None:
            arrived = time.time()
            then(_server_time(clock, st.session_state[key].get(event), arrived))

        return callback

    _CONTROL(
        key=key,
        data={"label": label, "held_label": "Talking… release to send"},
        on_press_change=reported("press", on_press),
        on_release_change=reported("release", on_release),
    )


def _server_time(clock: BrowserClock, value: Any, arrived: float) -> float:
    """The event's time on this server's clock; its arrival if the browser's time is unusable."""
    at = _number(value.get("at")) if isinstance(value, dict) else None
    origin = _number(value.get("origin")) if isinstance(value, dict) else None
    if at is None or origin is None:
        return arrived
    return clock.to_server(at, origin, arrived)


def _number(x: object) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return float(x)

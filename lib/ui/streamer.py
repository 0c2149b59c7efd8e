"""The streamer both media pages draw (`avatar_streamer`): its settings, and the runs that keep
its connection honest with the browser (streamlit-webrtc 0.79.0's state and worker, read where
it keeps them)."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit_webrtc import WebRtcMode, create_audio_sink_track, webrtc_streamer

from lib.media.mic import MicForwarder
from lib.media.tracks import AvatarMedia, cached_audio_track, cached_video_track

log = logging.getLogger(__name__)

# No STUN/TURN: media stays on this machine or the LAN, and without this streamlit-webrtc
# would inject Google's STUN server, which is unreachable offline and slows ICE gathering.
RTC_CONFIGURATION: dict[str, Any] = {"iceServers": []}
# The avatar's <video> and <audio> in the pages: plays by itself, inline, no controls.
VIDEO_HTML_ATTRS: dict[str, Any] = {
    "autoPlay": True,
    "playsInline": True,
    "controls": False,
    "style": {"width": "100%", "borderRadius": "12px"},
}
AUDIO_HTML_ATTRS: dict[str, Any] = {"autoPlay": True, "muted": False}


_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.MULTILINE)


def ice_ufrag(sdp: str) -> str | None:
    """The ICE username fragment of a session description: it names one peer connection's
    ICE session, so two descriptions with different ones belong to different connections."""
    found = _UFRAG.search(sdp)
    return found.group(1) if found else None


def _browser_state(state: Any, key: str) -> Any:
    from streamlit_webrtc.component import compile_state, generate_frontend_component_key

    value = state.get(generate_frontend_component_key(key))
    return compile_state(value) if isinstance(value, dict) else None


def _offer_ufrag(state: Any, key: str) -> str | None:
    from streamlit_webrtc.component import generate_frontend_component_key

    value = state.get(generate_frontend_component_key(key))
    offer = value.get("sdpOffer") if isinstance(value, dict) else None
    return ice_ufrag(str(offer.get("sdp", ""))) if isinstance(offer, dict) else None


def drop_stale_answer(state: Any, key: str) -> bool:
    """Before `webrtc_streamer(key=key)` runs: if the browser now offers a new peer connection
    but the server still holds the worker (and answer) of its previous one, end that worker so
    the new offer gets its own answer. Returns whether it did.

    streamlit-webrtc's frontend restarts right away when a connection drops and the page asks
    to keep playing. If the restart's offer reaches the server before the stop did, the server
    never sees "stopped": it keeps the old worker and sends the old answer to the new
    connection, whose ICE checks then fail after ~15 s before a third attempt works. The
    offer and the worker's remote description are matched by ICE ufrag (aiortc re-serialises
    the SDP). It runs in the page, before the streamer, rather than as a patch of
    streamlit-webrtc's worker reconciliation: that runs after the component call, whose
    arguments would already have carried the stale answer to the browser.
    Checked against the pinned streamlit-webrtc==0.79.0 (its context and `_reset_context`)."""
    from streamlit_webrtc.component import _reset_context

    context = state.get(key)
    if context is None or not hasattr(context, "_get_worker"):
        return False
    worker = context._get_worker()
    pc = getattr(worker, "pc", None)
    answered = pc.remoteDescription if pc is not None else None
    if answered is None:
        return False  # the worker is still taking its offer in
    new, old = _offer_ufrag(state, key), ice_ufrag(answered.sdp)
    if new is None or old is None or new == old:  # nothing offered, or the same connection
        return False
    log.info("%s: the browser offers a new connection; ending the previous one's worker", key)
    _reset_context(context)
    return True


def resync_state(state: Any, key: str) -> bool:
    """Before `webrtc_streamer(key=key)` runs: make the streamer's idea of the browser's state
    (playing / signalling) match the browser's last value again. Returns whether it had to.

    streamlit-webrtc updates that state only in the component's on_change callback, i.e. when
    the browser sends a new value. A context reset (ours in `drop_stale_answer`, or its own
    when a context was not rendered for a run) sets it to "neither playing nor signalling"
    while the browser's value still holds its offer. Its reconciliation then loops with no
    end: it stops the worker because the state says stopped, reruns, makes a new worker from
    the offer still in the value, reruns to send the answer, stops it again... until the
    browser happens to send something, each worker a new peer connection and DTLS key. Uses
    `compile_state`, what the callback itself uses."""
    context = state.get(key)
    wanted = _browser_state(state, key)
    if context is None or not hasattr(context, "_set_state") or wanted is None:
        return False
    if getattr(context, "state", None) == wanted:
        return False
    log.info("%s: the streamer's state disagreed with the browser's; resynced", key)
    context._set_state(wanted)
    return True


def settle_streamer(state: Any, key: str) -> bool:
    """What a page runs right before its `webrtc_streamer(key=key)`: end a worker that
    answered a previous connection, then line the state up with the browser's value.
    Returns whether to draw the streamer stopped for now (`hold_stopped`)."""
    drop_stale_answer(state, key)
    resync_state(state, key)
    return hold_stopped(state, key, time.monotonic())


STUCK_OFFER_S = 6.0  # a loopback connection is up in 1-2 s, a few more on a saturated machine
# The same offer this long without playing: its connection will not come up (see
# `streamer_needs_run`); the browser is asked to start again.
RESTART_AFTER_S = 12.0
RESTART_HOLD_MAX_S = 5.0  # a restart draws the streamer stopped at most this long


def streamer_needs_run(state: Any, key: str, now: float) -> bool:
    """For a live fragment: should the page run in full now (`st.rerun(scope="app")`)?

    streamlit-webrtc hands its SDP answer to the browser in the component's arguments, i.e.
    only in a full run of the page, and asks for one rerun when the answer is ready. When
    that run is cut short by another (fragments rerun every 500 ms), or the answer came after
    `process_offer`'s 10 s timeout, no further full run comes on a page nobody clicks: the
    browser waits for its answer forever, a spinner where the avatar should be. So after
    STUCK_OFFER_S of offering without playing, the page runs in full (at most every
    STUCK_OFFER_S): it renders the answer it still holds, or makes the worker that a cut-short
    run never made.

    That cannot help a browser that took the wrong answer, whose connection never comes up
    (`setRemoteDescription` with another offer's answer: ICE checks until they fail). The
    frontend's start racing itself into several connections did that, now fixed where it happened
    (lib.patches.streamlit_webrtc); this stays as the net for anything else that leaves a
    browser on a dead offer. So after RESTART_AFTER_S on the same offer the streamer is restarted:
    drawn stopped until the browser has closed it and the server has let go of its worker
    (`hold_stopped`), then drawn playing again, by runs this function asks for."""
    restart, stamp = f"{key}__restart", f"{key}__offering"
    if restart in state:
        asked = state.get(f"{restart}_asked", 0.0)
        # Run once to draw it stopped, then every second until a run draws it playing.
        if now - asked >= 1.0:
            state[f"{restart}_asked"] = now
            return True
        return False
    browser = _browser_state(state, key)
    if browser is None or not browser.signalling or browser.playing:
        state.pop(stamp, None)
        return False
    ufrag = _offer_ufrag(state, key)
    since, ufrag_then, last = state.get(stamp) or (now, ufrag, now)
    if ufrag != ufrag_then:
        since, last = now, now  # a new connection gets its own grace period
    if now - since >= RESTART_AFTER_S:
        log.info(
            "%s: no connection %.0f s after the offer; restarting the streamer", key, now - since
        )
        state.pop(stamp, None)
        state[restart] = now
        state[f"{restart}_asked"] = now
        return True
    if now - last >= STUCK_OFFER_S:
        log.info(
            "%s: the browser has waited %.0f s for its answer; running the page", key, now - since
        )
        state[stamp] = (since, ufrag, now)
        return True
    state[stamp] = (since, ufrag, last)
    return False


def hold_stopped(state: Any, key: str, now: float) -> bool:
    """For `settle_streamer`: True while a restart (see `streamer_needs_run`) wants
    it drawn stopped, i.e. until the browser has stopped and no worker or answer of the old
    connection is left (streamlit-webrtc clears those in the run after the browser stops),
    or RESTART_HOLD_MAX_S has passed. The run after that draws it playing, with nothing of
    the old connection in its arguments: a single change, so the browser starts once."""
    restart = f"{key}__restart"
    since = state.get(restart)
    if since is None:
        return False
    browser = _browser_state(state, key)
    context = state.get(key)
    worker = (
        context._get_worker() if context is not None and hasattr(context, "_get_worker") else None
    )
    idle = worker is None and not getattr(context, "_sdp_answer_json", None)
    stopped = browser is None or not (browser.playing or browser.signalling)
    if (stopped and idle) or now - since > RESTART_HOLD_MAX_S:
        state.pop(restart, None)
        state.pop(f"{restart}_asked", None)
        return False
    return True


# ---- what the pages call -----------------------------------------------------------------


def avatar_streamer(
    key: str, media: AvatarMedia, *, play: bool, mic: MicForwarder | None = None
) -> None:
    """The avatar's video and audio from `media`, and with `mic` the browser's microphone into
    it; connected while `play`, unless a restart holds it stopped (`settle_streamer`)."""
    held = settle_streamer(st.session_state, key)
    webrtc_streamer(
        key=key,
        mode=WebRtcMode.RECVONLY if mic is None else WebRtcMode.SENDRECV,
        rtc_configuration=RTC_CONFIGURATION,
        media_stream_constraints={"video": True, "audio": True}
        if mic is None
        else {"audio": True, "video": False},
        sink_audio_track=None if mic is None else create_audio_sink_track(mic, key=f"{key}-mic"),
        source_video_track=cached_video_track(st.session_state, f"{key}-video", media),
        source_audio_track=cached_audio_track(st.session_state, f"{key}-audio", media),
        desired_playing_state=play and not held,
        video_html_attrs=VIDEO_HTML_ATTRS,
        audio_html_attrs=AUDIO_HTML_ATTRS,
    )


def needs_full_run(key: str) -> bool:
    """For a live fragment: run the page in full now? (see `streamer_needs_run`)"""
    return streamer_needs_run(st.session_state, key, time.monotonic())


@dataclass
class StageMount:
    """The record whose streamer has been drawn, and whether a run asked it to play."""

    record_id: str
    played: bool
    drawn_at: float


def play_after_mount(key: str, record_id: str) -> bool:
    """False on the run that first draws the streamer for `record_id`, True from the next run on.

    streamlit-webrtc's frontend starts a peer connection for every render it receives while
    stopped and still loading, and a freshly mounted component gets three renders within
    ~50 ms: three offers, and the answer to the first lands on the last, so ICE fails and
    retries every 15 s. Mounted stopped, it gets one render that asks it to play (the mount's
    own value change reruns the page; the live fragment makes sure with `mount_unplayed`).
    """
    mount: StageMount | None = st.session_state.get(f"{key}__mounted")
    if mount is not None and mount.record_id == record_id:
        mount.played = True
        return True
    st.session_state[f"{key}__mounted"] = StageMount(record_id, False, time.monotonic())
    return False


def mount_unplayed(key: str, record_id: str) -> bool:
    """For a live fragment: the streamer was drawn stopped for `record_id` and no run has asked
    it to play since (the mount's value change normally reruns the page within ~0.2 s)."""
    mount: StageMount | None = st.session_state.get(f"{key}__mounted")
    return (
        mount is not None
        and mount.record_id == record_id
        and not mount.played
        and time.monotonic() - mount.drawn_at > 1.5
    )

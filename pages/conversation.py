"""Conversation: talk to the voice model; the bridge has the avatar speak its answers.

Data path: browser mic → WebRTC → sink track → 24 kHz PCM16 → Realtime session (OpenAI, or
the embedded server) → text or audio deltas → bridge (chunk strategy) → avatar session →
avatar video and audio → the same WebRTC streamer → this page. Every stage of every turn is
stamped and stored as it happens; the waterfall below is drawn from those stamps.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from lib.brain.providers import brain_status
from lib.core import config
from lib.core.text import MAX_SAY, TextError, to_say
from lib.runtime.conversation import Conversation
from lib.store.database import StoreError, open_store
from lib.ui.conversation_form import settings_form
from lib.ui.hold_to_talk import hold_to_talk
from lib.ui.identity import current_user
from lib.ui.live_panel import live_panel_html
from lib.ui.page_leave import on_leave, page_key, tab_open_check
from lib.ui.plain_text import plain
from lib.ui.streamer import avatar_streamer, mount_unplayed, needs_full_run, play_after_mount
from lib.ui.turn_exports import render_exports

CONV_KEY = "conversation_live"
LAST_KEY = "conversation_last_record"
STAGE_KEY = "conversation"  # the streamer's key


st.title("Conversation")
THIS_PAGE = page_key(__file__)  # cleanups filed under it run when another page is entered
brain = brain_status()
timing_note = " · model timing is simulated" if brain.name == "local" else ""
st.caption(f"Voice model: **{brain.label}** — {brain.reason}{timing_note}.")


def get_conversation() -> Conversation | None:
    conv: Conversation | None = st.session_state.get(CONV_KEY)
    return conv


conversation = get_conversation()
cfg = settings_form(busy=conversation is not None)


def on_start() -> None:
    if cfg is None:
        return
    try:
        store = open_store()
        new = Conversation(
            store, replace(cfg, created_by=current_user()), tab_open=tab_open_check()
        )
    except (StoreError, config.ConfigError) as exc:
        st.session_state["conversation_error"] = str(exc)
        return
    st.session_state[CONV_KEY] = new
    st.session_state[LAST_KEY] = new.record_id
    on_leave(st.session_state, THIS_PAGE, "conversation", lambda: new.shutdown("PAGE_LEFT"))
    new.start()


def on_stop() -> None:
    old = st.session_state.pop(CONV_KEY, None)
    if old is not None:
        old.shutdown("USER_STOPPED")


s1, s2, _ = st.columns([1, 1, 3])
s1.button(
    "Start",
    type="primary",
    on_click=on_start,
    disabled=conversation is not None or cfg is None,
    width="stretch",
)
s2.button("Stop", on_click=on_stop, disabled=conversation is None, width="stretch")
if "conversation_error" in st.session_state:
    st.error(st.session_state.pop("conversation_error"))


def render_live(conv: Conversation) -> None:
    snap = conv.snapshot()
    # Banners and problems carry the providers' and the model's words: shown as text.
    if snap.banner:
        st.warning(plain(snap.banner))
    if snap.brain.problem:
        st.warning(plain(snap.brain.problem.message))
        if snap.brain.problem.hint:
            st.caption(f"What to do: {plain(snap.brain.problem.hint)}")
    if snap.avatar.video_problem and snap.state != "audio_only":
        st.warning(plain(snap.avatar.video_problem))
    if snap.avatar.problem and snap.state != "audio_only":
        st.error(plain(snap.avatar.problem.message))
    st.html(live_panel_html(snap, conv.mic.level))


@st.fragment(run_every="500ms")
def live() -> None:
    current = get_conversation()
    if current is None:
        st.info(
            "Press Start, allow the microphone, and ask something — for example "
            "“What are your opening hours?”"
        )
        return
    current.heartbeat()
    if mount_unplayed(STAGE_KEY, current.record_id):
        st.rerun(scope="app")  # drawn stopped, and no run has asked it to play since: ask now
    if needs_full_run(STAGE_KEY):
        st.rerun(scope="app")  # hand the browser its answer, or restart (see the function)
    render_live(current)


@st.fragment
def talk_control(conv: Conversation) -> None:
    """A fragment: a press or a release reruns only this, so it reaches the conversation
    without waiting for the whole page."""
    hold_to_talk("conversation-talk", conv.push_to_talk.press, conv.push_to_talk.release)


if conversation is not None:
    stage, panel = st.columns([2, 3], gap="large")
    with stage:
        # Mounted stopped on its first run, then played (see `play_after_mount`).
        play = play_after_mount(STAGE_KEY, conversation.record_id)
        avatar_streamer(STAGE_KEY, conversation.media, play=play, mic=conversation.mic)
        conv = conversation  # a plain name keeps the narrowing inside the callbacks
        i1, i2 = st.columns([1, 2])
        i1.button("Interrupt", on_click=conv.interrupt, width="stretch")
        if conv.config.turn.kind == "push_to_talk":
            with i2:
                talk_control(conv)
        typed = st.chat_input("…or type a message", max_chars=MAX_SAY)
        if typed is not None:
            try:
                conv.send_text(to_say(typed))
            except TextError as exc:
                st.toast(f"Not sent: {exc}.")
    with panel:
        live()
else:
    live()


last = st.session_state.get(LAST_KEY)
if last:
    render_exports(str(last))

"""Avatar Studio: pick an avatar and a voice, type text, watch it speak.

Data path: provider REST (httpx) → session → media room (LiveKit, or the local room) →
server-side frames → one streamlit-webrtc streamer (VP8 + Opus) → this page.
"""

from __future__ import annotations

import streamlit as st

from lib.core import config
from lib.core.problem import Problem
from lib.core.text import TextError, to_say
from lib.runtime.avatar_runner import AvatarRunner
from lib.store.database import StoreError, open_store
from lib.ui.identity import current_user
from lib.ui.page_leave import on_leave, page_key, tab_open_check
from lib.ui.plain_text import plain
from lib.ui.streamer import avatar_streamer, needs_full_run
from lib.ui.studio_panel import reporting, session_form, show_problem, status_line

RUNNER_KEY = "studio_runner"
STAGE_ON = "studio_stage_on"
STAGE_KEY = "avatar-studio"  # the streamer's key


def get_runner() -> AvatarRunner | None:
    runner: AvatarRunner | None = st.session_state.get(RUNNER_KEY)
    if runner is not None and runner.alive:
        return runner
    try:
        runner = AvatarRunner(open_store(), tab_open=tab_open_check(), created_by=current_user())
    except StoreError as exc:
        st.error(str(exc))
        return None
    st.session_state[RUNNER_KEY] = runner
    return runner


st.title("Avatar Studio")
st.caption(
    "Pick an avatar and a voice, type what it should say. "
    "Media: provider → server → WebRTC → this page."
)

maybe_runner = get_runner()
if maybe_runner is None:
    st.stop()
runner: AvatarRunner = maybe_runner  # a plain name keeps the narrowing inside the callbacks
# Leaving the page stops the paid session; closing the tab stops it via the heartbeat watchdog.
on_leave(
    st.session_state,
    page_key(__file__),
    "avatar-runner",
    lambda: runner.shutdown("PAGE_LEFT"),
)

snap = runner.snapshot()
BUSY = ("starting", "live", "stopping")
busy = snap.state in BUSY

controls, stage = st.columns([1, 2], gap="large")

with controls:
    provider, options = session_form(runner, busy)

    def on_start() -> None:
        runner.clear_problem()
        st.session_state[STAGE_ON] = True
        runner.start(provider, options)

    def on_stop() -> None:
        st.session_state[STAGE_ON] = False
        reporting(runner, runner.stop)

    b1, b2 = st.columns(2)
    # Always enabled: the session's state changes in the background (the provider may end
    # it), and the runner ignores a Start while one is running and a Stop with none.
    b1.button("Start", type="primary", on_click=on_start, width="stretch")
    b2.button("Stop", on_click=on_stop, width="stretch")

with stage:
    # The stage stays connected from Start to Stop, even if the provider ends the session:
    # only clicks change it, so no background event has to rerun the whole page.
    playing = bool(st.session_state.get(STAGE_ON, False))
    avatar_streamer(STAGE_KEY, runner.media, play=playing)

    speaks_text = "text" in config.PROVIDERS[provider].bridges
    if not speaks_text:
        st.info(
            f"{config.PROVIDERS[provider].label} lip-syncs audio it is sent and has no voice of "
            "its own: to hear it speak, hold a conversation on the Conversation page with the "
            "*Audio → avatar lip-sync* bridge. Here you can start it, watch it and stop it."
        )
    text = st.text_area(
        "What should the avatar say?",
        key="studio_text",
        height=100,
        max_chars=2000,
        value="Hello! I'm your avatar. Type anything and I'll say it.",
        disabled=not speaks_text,
    )
    mode = st.radio(
        "Task mode",
        ("async", "sync"),
        horizontal=True,
        help="async answers at once; sync answers when the avatar has finished.",
    )

    def on_speak() -> None:
        try:
            body = to_say(st.session_state.get("studio_text", ""))
        except TextError as exc:
            runner.report(Problem(str(exc).capitalize() + ".", "edit the text and Speak again"))
            return

        def speak() -> None:
            runner.clear_problem()
            runner.speak(body, "sync" if mode == "sync" else "async")

        reporting(runner, speak)

    s1, s2 = st.columns(2)
    s1.button("Speak", type="primary", on_click=on_speak, width="stretch", disabled=not speaks_text)
    s2.button("Interrupt", on_click=lambda: reporting(runner, runner.interrupt), width="stretch")


@st.fragment(run_every="500ms")
def live_panel() -> None:
    runner.heartbeat()
    s = runner.snapshot()
    if (s.state in BUSY) != busy:
        # The session started or ended in the background (a stop completing, idle expiry):
        # draw the controls again so they are enabled or locked as they should be.
        st.rerun(scope="app")
    if needs_full_run(STAGE_KEY):
        st.rerun(scope="app")  # hand the browser its answer, or restart (see the function)
    st.markdown(status_line(s), help="Speaking state comes from the provider's events.")
    if s.first_frame_at and s.started_at and s.requested_at:
        st.caption(f"Start → first frame: {s.first_frame_at - s.requested_at:.2f} s")
    show_problem(s.problem)
    if s.video_problem:
        st.warning(plain(s.video_problem))
    if s.transcript:
        st.markdown("**Said so far:** " + plain(" ".join(s.transcript[-12:])))
    with st.expander("Provider events", expanded=False):
        st.code("\n".join(s.events[-15:]) or "none yet", language=None)


with stage:
    live_panel()

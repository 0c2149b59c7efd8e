"""Avatar Studio: pick an avatar and a voice, type text, watch it speak.

Data path: provider REST (httpx) → session → media room (LiveKit, or the local room) →
server-side frames → one streamlit-webrtc streamer (VP8 + Opus) → this page.
"""

from __future__ import annotations

import time

import streamlit as st
from streamlit_webrtc import (
    WebRtcMode,
    webrtc_streamer,
)

from lib.avatar.base import EMOTIONS, QUALITIES, AvatarError, SessionOptions
from lib.core import config
from lib.core.problem import Problem
from lib.core.text import TextError, to_say
from lib.media.tracks import cached_audio_track, cached_video_track
from lib.runtime.avatar_problem import problem_of
from lib.runtime.avatar_runner import AvatarRunner
from lib.runtime.avatar_state import AvatarSnapshot
from lib.store.database import StoreError, open_store
from lib.ui.page_leave import on_leave, page_key, tab_open_check
from lib.ui.streamer import (
    AUDIO_HTML_ATTRS,
    RTC_CONFIGURATION,
    VIDEO_HTML_ATTRS,
    settle_streamer,
    streamer_needs_run,
)

LANGUAGES = (
    "en",
    "de",
    "es",
    "fr",
    "it",
    "pt",
    "nl",
    "pl",
    "sv",
    "da",
    "fi",
    "no",
    "cs",
    "ro",
    "hu",
    "tr",
    "el",
    "ru",
    "uk",
    "bg",
    "sk",
    "hi",
    "id",
    "ms",
    "vi",
    "ja",
    "ko",
    "zh",
)
RUNNER_KEY = "studio_runner"
STAGE_ON = "studio_stage_on"


def get_runner() -> AvatarRunner | None:
    runner: AvatarRunner | None = st.session_state.get(RUNNER_KEY)
    if runner is not None and runner.alive:
        return runner
    try:
        runner = AvatarRunner(open_store(), tab_open=tab_open_check())
    except StoreError as exc:
        st.error(str(exc))
        return None
    st.session_state[RUNNER_KEY] = runner
    return runner


def show_problem(problem: Problem | None) -> None:
    if problem is None:
        return
    st.error(problem.message)
    if problem.hint:
        st.caption(f"What to do: {problem.hint}")


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

usable = [n for n in config.PROVIDERS if config.provider_status(n).usable]
snap = runner.snapshot()
BUSY = ("starting", "live", "stopping")
busy = snap.state in BUSY

controls, stage = st.columns([1, 2], gap="large")

with controls:
    provider = st.selectbox(
        "Provider",
        usable,
        disabled=busy,
        format_func=lambda n: config.PROVIDERS[n].label,
        help="Providers without a key are listed on the Settings page.",
    )
    try:
        with st.spinner("Loading avatars and voices from the provider…"):
            avatars, voices = runner.catalog(provider)
    except Exception as exc:  # noqa: BLE001 - shown to the user with what to do
        show_problem(problem_of(exc))
        st.stop()
    if not avatars or not voices:
        st.warning("The provider returned no streaming avatars or no realtime voices.")
        st.stop()

    avatar = st.selectbox("Avatar", avatars, disabled=busy, format_func=lambda a: a.name)
    voice_ids = [v.voice_id for v in voices]
    default_voice = (
        voice_ids.index(avatar.default_voice) if avatar.default_voice in voice_ids else 0
    )
    voice = st.selectbox(
        "Voice",
        voices,
        index=default_voice,
        disabled=busy,
        format_func=lambda v: v.name,
        key=f"voice-{avatar.avatar_id}",
    )
    with st.expander("Custom avatar or voice ID"):
        st.caption("For avatars or voices of your own account that the lists don't show.")
        custom_avatar = st.text_input("Avatar ID", disabled=busy, key="custom_avatar").strip()
        custom_voice = st.text_input("Voice ID", disabled=busy, key="custom_voice").strip()
    c1, c2 = st.columns(2)
    quality = c1.selectbox(
        "Quality", QUALITIES, index=1, disabled=busy, help="low 360p · medium 480p · high 720p"
    )
    emotion = c2.selectbox(
        "Emotion",
        (None, *EMOTIONS),
        disabled=busy,
        format_func=lambda e: "neutral" if e is None else e,
    )
    rate = st.slider("Speaking rate", 0.5, 1.5, 1.0, 0.05, disabled=busy)
    c3, c4 = st.columns(2)
    language = c3.selectbox("Language", LANGUAGES, disabled=busy)
    idle = c4.number_input(
        "Idle timeout (s)",
        30,
        3600,
        120,
        30,
        disabled=busy,
        help="The provider ends the session after this long without a task.",
    )

    def on_start() -> None:
        runner.clear_problem()
        st.session_state[STAGE_ON] = True
        runner.start(
            provider,
            SessionOptions(
                avatar_id=custom_avatar or avatar.avatar_id,
                voice_id=custom_voice or voice.voice_id,
                quality=quality,
                emotion=emotion,
                rate=rate,
                language=language,
                idle_timeout_s=int(idle),
            ),
        )

    def on_stop() -> None:
        st.session_state[STAGE_ON] = False
        try:
            runner.stop()
        except Exception as exc:  # noqa: BLE001
            runner.report(problem_of(exc))

    b1, b2 = st.columns(2)
    # Always enabled: the session's state changes in the background (the provider may end
    # it), and the runner ignores a Start while one is running and a Stop with none.
    b1.button("Start", type="primary", on_click=on_start, width="stretch")
    b2.button("Stop", on_click=on_stop, width="stretch")

with stage:
    # The stage stays connected from Start to Stop, even if the provider ends the session:
    # only clicks change it, so no background event has to rerun the whole page.
    playing = bool(st.session_state.get(STAGE_ON, False))
    held = settle_streamer(st.session_state, "avatar-studio")
    webrtc_streamer(
        key="avatar-studio",
        mode=WebRtcMode.RECVONLY,
        rtc_configuration=RTC_CONFIGURATION,
        media_stream_constraints={"video": True, "audio": True},
        source_video_track=cached_video_track(st.session_state, "studio_video", runner.media),
        source_audio_track=cached_audio_track(st.session_state, "studio_audio", runner.media),
        desired_playing_state=playing and not held,
        video_html_attrs=VIDEO_HTML_ATTRS,
        audio_html_attrs=AUDIO_HTML_ATTRS,
    )

    text = st.text_area(
        "What should the avatar say?",
        key="studio_text",
        height=100,
        max_chars=2000,
        value="Hello! I'm your avatar. Type anything and I'll say it.",
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
        try:
            runner.clear_problem()
            runner.speak(body, "sync" if mode == "sync" else "async")
        except AvatarError as exc:
            runner.report(problem_of(exc))
        except Exception as exc:  # noqa: BLE001
            runner.report(problem_of(exc))

    def on_interrupt() -> None:
        try:
            runner.interrupt()
        except Exception as exc:  # noqa: BLE001
            runner.report(problem_of(exc))

    s1, s2 = st.columns(2)
    s1.button("Speak", type="primary", on_click=on_speak, width="stretch")
    s2.button("Interrupt", on_click=on_interrupt, width="stretch")


def status_line(s: AvatarSnapshot) -> str:
    if s.state == "live" and s.started_at:
        clock = time.strftime("%M:%S", time.gmtime(time.time() - s.started_at))
        talk = ":green[:material/graphic_eq: avatar speaking]" if s.speaking else "avatar listening"
        return f"**Live** · session {clock} · {talk}"
    labels = {
        "idle": "No session",
        "starting": "Starting…",
        "stopping": "Stopping…",
        "error": "Could not start",
    }
    if s.state == "ended":
        return f"**Session ended** ({s.ended_reason or 'stopped'})"
    return f"**{labels.get(s.state, s.state)}**"


@st.fragment(run_every="500ms")
def live_panel() -> None:
    runner.heartbeat()
    s = runner.snapshot()
    if (s.state in BUSY) != busy:
        # The session started or ended in the background (a stop completing, idle expiry):
        # draw the controls again so they are enabled or locked as they should be.
        st.rerun(scope="app")
    if streamer_needs_run(st.session_state, "avatar-studio", time.monotonic()):
        st.rerun(scope="app")  # hand the browser its answer, or restart (see the function)
    st.markdown(status_line(s), help="Speaking state comes from the provider's events.")
    if s.first_frame_at and s.started_at and s.requested_at:
        st.caption(f"Start → first frame: {s.first_frame_at - s.requested_at:.2f} s")
    show_problem(s.problem)
    if s.video_problem:
        st.warning(s.video_problem)
    if s.transcript:
        st.markdown("**Said so far:** " + " ".join(s.transcript[-12:]))
    with st.expander("Provider events", expanded=False):
        st.code("\n".join(s.events[-15:]) or "none yet", language=None)


with stage:
    live_panel()

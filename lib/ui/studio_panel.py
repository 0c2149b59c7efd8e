"""The Avatar Studio's panels: the session form, the status line, and problems shown with
what to do."""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from lib.avatar.base import EMOTIONS, LANGUAGES, QUALITIES, SessionOptions
from lib.core import config
from lib.core.problem import Problem
from lib.runtime.avatar_problem import problem_of
from lib.runtime.avatar_runner import AvatarRunner
from lib.runtime.avatar_state import AvatarSnapshot
from lib.ui.plain_text import plain


def show_problem(problem: Problem | None) -> None:
    """The provider's words as text (see lib.ui.plain_text), with what to do."""
    if problem is None:
        return
    st.error(plain(problem.message))
    if problem.hint:
        st.caption(f"What to do: {plain(problem.hint)}")


def reporting(runner: AvatarRunner, action: Callable[[], object]) -> None:
    """A button's action; what goes wrong is shown as the runner's problem."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - shown with what to do
        runner.report(problem_of(exc))


def session_form(runner: AvatarRunner, busy: bool) -> tuple[str, SessionOptions]:
    """The provider and the session's options, from the provider's own lists (the page stops
    here, with the reason shown, if they cannot be had)."""
    provider = st.selectbox(
        "Provider",
        [n for n in config.PROVIDERS if config.provider_status(n).usable],
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
    return provider, SessionOptions(
        avatar_id=custom_avatar or avatar.avatar_id,
        voice_id=custom_voice or voice.voice_id,
        quality=quality,
        emotion=emotion,
        rate=rate,
        language=language,
        idle_timeout_s=int(idle),
    )


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
        return f"**Session ended** ({plain(s.ended_reason or 'stopped')})"
    return f"**{labels.get(s.state, s.state)}**"

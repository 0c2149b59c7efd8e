"""Conversation: talk to the voice model; the bridge has the avatar speak its answers.

Data path: browser mic → WebRTC → sink track → 24 kHz PCM16 → Realtime session (OpenAI, or
the embedded server) → text or audio deltas → bridge (chunk strategy) → avatar session →
avatar video and audio → the same WebRTC streamer → this page. Every stage of every turn is
stamped and stored as it happens; the waterfall below is drawn from those stamps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st
from streamlit_webrtc import (
    WebRtcMode,
    create_audio_sink_track,
    webrtc_streamer,
)

from lib.avatar.base import QUALITIES
from lib.brain.providers import brain_status
from lib.brain.settings import MODELS, TRANSCRIPTION_MODELS, TurnDetection, TurnKind
from lib.bridge.agents import DEFAULT_QUESTIONS, PERSONAS, Agent, agents_for, with_avatar
from lib.bridge.bridge import BridgeConfig, BridgeMode
from lib.bridge.chunking import DEFAULT_STRATEGIES, StrategyError, parse_strategy
from lib.core import config
from lib.core.text import MAX_SAY, TextError, to_say
from lib.media.tracks import cached_audio_track, cached_video_track
from lib.metrics.records import interview_answers, turn_table
from lib.runtime.avatar_problem import problem_of
from lib.runtime.avatar_runner import AvatarRunner
from lib.runtime.conversation import Conversation, ConversationConfig
from lib.store.database import StoreError, open_store
from lib.ui.live_panel import live_panel_html
from lib.ui.page_leave import on_leave, page_key, tab_open_check
from lib.ui.streamer import (
    AUDIO_HTML_ATTRS,
    RTC_CONFIGURATION,
    VIDEO_HTML_ATTRS,
    settle_streamer,
    streamer_needs_run,
)
from lib.ui.widgets import downloads

CONV_KEY = "conversation_live"
LAST_KEY = "conversation_last_record"
CATALOG_KEY = "conversation_catalog_runner"
MOUNTED_KEY = "conversation_stage_mounted"  # the conversation whose streamer has been drawn
PERSONA_HELP = {
    "concierge": "answers from a small FAQ (hours, prices, location…)",
    "interviewer": "asks your questions in order and acknowledges each answer",
    "echo": "repeats what you said (latency tests)",
    "lookup": "looks orders, weather and stocks up with tool calls",
    "greeter": "greets you and hands off to a specialist (avatar switch)",
}
TURN_KINDS: dict[str, TurnKind] = {
    "Server VAD": "server_vad",
    "Semantic VAD": "semantic_vad",
    "Push to talk": "push_to_talk",
}
BRIDGES: dict[str, BridgeMode] = {
    "Text → avatar voice": "text",
    "Audio → avatar lip-sync": "audio",
    "Avatar listens → text model": "listen",
}


@dataclass
class StageMount:
    """The conversation whose streamer has been drawn, and whether a run asked it to play."""

    record_id: str
    played: bool
    drawn_at: float


st.title("Conversation")
THIS_PAGE = page_key(__file__)  # cleanups filed under it run when another page is entered
brain = brain_status()
timing_note = " · model timing is simulated" if brain.name == "local" else ""
st.caption(f"Voice model: **{brain.label}** — {brain.reason}{timing_note}.")


def get_conversation() -> Conversation | None:
    conv: Conversation | None = st.session_state.get(CONV_KEY)
    return conv


def pick_avatars(provider: str, agents: list[Agent]) -> list[Agent] | None:
    """Local agents come with their own avatars; with a real provider, pick from its list."""
    if provider == "local":
        return agents
    runner: AvatarRunner | None = st.session_state.get(CATALOG_KEY)
    try:
        if runner is None or not runner.alive:
            runner = AvatarRunner(open_store(), heartbeat_timeout_s=None)
            st.session_state[CATALOG_KEY] = runner
        avatars, voices = runner.catalog(provider)
    except Exception as exc:  # noqa: BLE001 - shown with what to do
        problem = problem_of(exc)
        st.error(problem.message)
        st.caption(f"What to do: {problem.hint}")
        return None
    if not avatars:
        st.warning("The provider returned no streaming avatars.")
        return None
    picked = []
    for i, agent in enumerate(agents):
        a = st.selectbox(
            f"Avatar for {agent.name}",
            avatars,
            index=i % len(avatars),
            format_func=lambda x: x.name,
        )
        v = st.selectbox(
            f"Voice for {agent.name}",
            voices,
            format_func=lambda x: x.name,
            key=f"conv-voice-{agent.name}",
        )
        picked.append(with_avatar(agent, a.avatar_id, v.voice_id if v else None))
    return picked


def settings_form(busy: bool) -> ConversationConfig | None:
    """The conversation's configuration, or None (with the reason shown) if it is not valid."""
    usable = [n for n in config.PROVIDERS if config.provider_status(n).usable]
    with st.expander("Conversation settings", expanded=not busy):
        c1, c2, c3 = st.columns(3)
        provider = c1.selectbox(
            "Avatar provider",
            usable,
            disabled=busy,
            format_func=lambda n: config.PROVIDERS[n].label,
            help="Providers without a key are listed on the Settings page.",
        )
        persona = c2.selectbox(
            "Agent",
            PERSONAS,
            disabled=busy,
            format_func=lambda p: f"{p} — {PERSONA_HELP.get(p, '')}",
        )
        quality = c3.selectbox("Avatar quality", QUALITIES, index=0, disabled=busy)

        b1, b2 = st.columns([1, 2])
        mode = BRIDGES[b1.radio("Bridge", list(BRIDGES), disabled=busy)]
        chunking, first_ms, next_ms = "sentence:20", 200, 1000
        if mode != "audio":
            choice = b2.selectbox(
                "Chunk strategy",
                (*DEFAULT_STRATEGIES, "custom…"),
                index=DEFAULT_STRATEGIES.index("sentence:20"),
                disabled=busy,
                help="How the streamed answer is cut into pieces for the avatar.",
            )
            if choice == "custom…":
                chunking = b2.text_input(
                    "Custom strategy", "sentence:30+wait:700", disabled=busy
                ).strip()
            else:
                chunking = choice
            try:
                parse_strategy(chunking)
            except StrategyError as exc:
                st.error(f"Chunk strategy: {exc}")
                return None
            if mode == "listen":
                st.caption(
                    "The avatar's own speech recognition hears you (HeyGen voice chat, "
                    "LiveAvatar FULL, or the local server); a streaming text model answers "
                    "(Chat Completions) and the avatar speaks it."
                )
        else:
            a1, a2 = b2.columns(2)
            first_ms = int(
                a1.number_input("First audio piece (ms)", 40, 2000, 200, 20, disabled=busy)
            )
            next_ms = int(
                a2.number_input("Later audio pieces (ms)", 100, 4000, 1000, 100, disabled=busy)
            )
            st.caption(
                "The model answers in audio; the avatar lip-syncs it (LiveAvatar LITE or the "
                "local server)."
            )

        t1, t2, t3 = st.columns(3)
        kind = TURN_KINDS[t1.radio("Turns", list(TURN_KINDS), disabled=busy)]
        barge_in = t2.checkbox(
            "Barge-in", value=True, disabled=busy, help="Speaking over the avatar stops it."
        )
        hold_mic = t3.checkbox(
            "Hold the mic while the avatar speaks",
            value=False,
            disabled=busy or kind == "push_to_talk",
            help="Half duplex: nothing you say while it talks is sent.",
        )
        with st.expander("Voice model and turn detection", expanded=False):
            m1, m2 = st.columns(2)
            model = m1.selectbox("Model", MODELS, disabled=busy)
            transcribe = m2.selectbox(
                "Transcription",
                (*TRANSCRIPTION_MODELS, None),
                disabled=busy,
                format_func=lambda m: m or "off",
            )
            v1, v2, v3 = st.columns(3)
            vad_off = busy or kind != "server_vad"
            threshold = v1.slider("VAD threshold", 0.0, 1.0, 0.5, 0.05, disabled=vad_off)
            silence = v2.slider("Silence to end a turn (ms)", 100, 2000, 500, 50, disabled=vad_off)
            prefix = v3.slider("Prefix padding (ms)", 0, 1000, 300, 50, disabled=vad_off)
        questions: tuple[str, ...] = ()
        if persona == "interviewer":
            raw = st.text_area(
                "Interview questions (one per line, asked in order)",
                "\n".join(DEFAULT_QUESTIONS),
                height=140,
                disabled=busy,
            )
            questions = tuple(q.strip() for q in raw.splitlines() if q.strip())
            if not questions:
                st.error("Add at least one interview question.")
                return None
            too_long = [q for q in questions if len(q) > 300]
            if too_long:
                st.error(f"Keep each question under 300 characters: “{too_long[0][:60]}…”")
                return None
        agents = agents_for(persona, interview_questions=questions)
        picked = pick_avatars(provider, agents) if not busy else agents
        if picked is None:
            return None
    return ConversationConfig(
        avatar=provider,
        bridge=BridgeConfig(
            mode=mode,
            chunking=chunking,
            audio_first_ms=first_ms,
            audio_next_ms=next_ms,
            barge_in=barge_in,
        ),
        persona=persona,
        agents=tuple(picked),
        quality=quality,
        turn=TurnDetection(
            kind=kind, threshold=threshold, silence_duration_ms=silence, prefix_padding_ms=prefix
        ),
        transcription_model=transcribe,
        model=model,
        hold_mic_while_speaking=hold_mic,
        interview_questions=questions,
    )


conversation = get_conversation()
cfg = settings_form(busy=conversation is not None)


def on_start() -> None:
    if cfg is None:
        return
    try:
        store = open_store()
        new = Conversation(store, cfg, tab_open=tab_open_check())
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
    if snap.banner:
        st.warning(snap.banner)
    if snap.brain.problem:
        st.warning(snap.brain.problem.message)
        if snap.brain.problem.hint:
            st.caption(f"What to do: {snap.brain.problem.hint}")
    if snap.avatar.video_problem and snap.state != "audio_only":
        st.warning(snap.avatar.video_problem)
    if snap.avatar.problem and snap.state != "audio_only":
        st.error(snap.avatar.problem.message)
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
    mount: StageMount | None = st.session_state.get(MOUNTED_KEY)
    if (
        mount is not None
        and mount.record_id == current.record_id
        and not mount.played
        and time.monotonic() - mount.drawn_at > 1.5
    ):
        # Drawn stopped, and no run has asked it to play since (the mount's value change
        # normally reruns the page within ~0.2 s): ask now.
        st.rerun(scope="app")
    if streamer_needs_run(st.session_state, "conversation", time.monotonic()):
        st.rerun(scope="app")  # hand the browser its answer, or restart (see the function)
    render_live(current)


def stage_should_play(record_id: str) -> bool:
    """False on the run that first draws the streamer, True from the next run on.

    streamlit-webrtc's frontend starts a peer connection for every render it receives while
    stopped and still loading, and a freshly mounted component gets three renders within
    ~50 ms: three offers, and the answer to the first lands on the last, so ICE fails and
    retries every 15 s (18–53 s to connect). Mounted stopped, it gets one render that asks
    it to play (the mount's own value change reruns the page; the live fragment makes sure).
    """
    mount: StageMount | None = st.session_state.get(MOUNTED_KEY)
    if mount is not None and mount.record_id == record_id:
        mount.played = True
        return True
    st.session_state[MOUNTED_KEY] = StageMount(record_id, False, time.monotonic())
    return False


if conversation is not None:
    stage, panel = st.columns([2, 3], gap="large")
    with stage:
        held = settle_streamer(st.session_state, "conversation")
        play = stage_should_play(conversation.record_id)
        webrtc_streamer(
            key="conversation",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration=RTC_CONFIGURATION,
            media_stream_constraints={"audio": True, "video": False},
            sink_audio_track=create_audio_sink_track(conversation.mic, key="conversation-mic"),
            source_audio_track=cached_audio_track(
                st.session_state, "conversation_audio", conversation.media
            ),
            source_video_track=cached_video_track(
                st.session_state, "conversation_video", conversation.media
            ),
            desired_playing_state=play and not held,
            video_html_attrs=VIDEO_HTML_ATTRS,
            audio_html_attrs=AUDIO_HTML_ATTRS,
        )
        conv = conversation  # a plain name keeps the narrowing inside the callbacks
        i1, i2, i3 = st.columns(3)
        i1.button("Interrupt", on_click=conv.interrupt, width="stretch")
        if conv.config.turn.kind == "push_to_talk":
            i2.button("Talk", on_click=conv.talk_pressed, width="stretch", help="Press, speak…")
            i3.button("Send", type="primary", on_click=conv.talk_released, width="stretch")
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


def render_exports(record_id: str) -> None:
    try:
        turns = turn_table(open_store(), record_id)
    except StoreError as exc:
        st.error(str(exc))
        return
    if turns.empty:
        return
    with st.expander(f"Recorded turns ({len(turns)})", expanded=False):
        cols = [
            "seq",
            "agent",
            "source",
            "user_text",
            "assistant_text",
            "status",
            "chunks",
            "e2e_ms",
            "model_ttft_ms",
            "chunking_ms",
            "avatar_latency_ms",
        ]
        st.dataframe(turns[[c for c in cols if c in turns]], hide_index=True)
        interview = bool((turns["agent"] == "interviewer").any())
        answers = interview_answers(turns) if interview else None
        tables = {"turns": turns}
        if answers is not None and not answers.empty:
            st.markdown("**Interview answers**")
            st.dataframe(answers, hide_index=True)
            tables["interview"] = answers
        for name, table in tables.items():
            downloads(name, table, f"export-{name}", f"conversation-{record_id[:8]}-{name}")


last = st.session_state.get(LAST_KEY)
if last:
    render_exports(str(last))

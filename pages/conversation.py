"""Conversation: talk to the voice model (OpenAI Realtime, or the embedded server).

Data path: browser mic → WebRTC (Opus 48 kHz) → sink track → 24 kHz mono PCM16 →
`input_audio_buffer.append` → Realtime session → transcript and answer (text, or the model's
own audio played back through the same streamer).
"""

from __future__ import annotations

import json
import time

import streamlit as st
from streamlit_webrtc import (
    WebRtcMode,
    create_audio_sink_track,
    create_pcm_audio_source_track,
    webrtc_streamer,
)

from lib.brain.providers import brain_status
from lib.brain.realtime import BrainSnapshot
from lib.brain.settings import (
    TRANSCRIPTION_MODELS,
    VOICES,
    RealtimeSettings,
    TurnDetection,
    TurnKind,
)
from lib.media import cached_video_track
from lib.page_lifecycle import current_page, on_leave
from lib.store import StoreError, open_store
from lib.voice_chat import VoiceChat
from lib.webrtc import RTC_CONFIGURATION, prepare

CHAT_KEY = "voice_chat"
PERSONAS = {
    "concierge": "Answers questions from a small FAQ (hours, prices, location…).",
    "interviewer": "Asks the questions below in order and acknowledges each answer.",
    "echo": "Repeats what you said (for latency tests).",
    "lookup": "Looks up an order with a tool call.",
    "greeter": "Greets you and hands off to a specialist.",
}
TURN_KINDS: dict[str, TurnKind] = {
    "Server VAD": "server_vad",
    "Semantic VAD": "semantic_vad",
    "Push to talk": "push_to_talk",
}
STATE_LABELS = {
    "offline": "Not connected",
    "connecting": "Connecting…",
    "listening": "Listening",
    "user_speaking": "You are speaking",
    "thinking": "Thinking…",
    "responding": "Answering",
    "reconnecting": "Reconnecting…",
    "failed": "Stopped",
}

st.title("Conversation")
status = brain_status()
st.caption(f"Voice model: **{status.label}** — {status.reason}. Avatar bridge: next step.")
prepare()


def get_chat() -> VoiceChat | None:
    chat: VoiceChat | None = st.session_state.get(CHAT_KEY)
    return chat


def settings_form() -> RealtimeSettings:
    with st.expander("Session settings", expanded=get_chat() is None):
        c1, c2, c3 = st.columns(3)
        output_choice = c1.radio(
            "Answer as",
            ("text", "audio"),
            horizontal=True,
            help="text: for the avatar to speak; audio: the model's own voice",
        )
        voice = c2.selectbox("Voice", VOICES, index=VOICES.index("marin"))
        transcribe = c3.selectbox(
            "Transcription", (*TRANSCRIPTION_MODELS, None), format_func=lambda m: m or "off"
        )
        persona = "concierge"
        if status.name == "local":
            persona = st.selectbox(
                "Embedded agent", list(PERSONAS), format_func=lambda p: f"{p} — {PERSONAS[p]}"
            )
        instructions = st.text_area(
            "Instructions",
            height=80,
            value=f"You are a friendly, concise assistant for Avatar Lab. persona:{persona}",
            help="The embedded server picks its agent from `persona:<name>`.",
        )
        kind = TURN_KINDS[st.radio("Turns", list(TURN_KINDS), horizontal=True)]
        t1, t2, t3 = st.columns(3)
        threshold = t1.slider("VAD threshold", 0.0, 1.0, 0.5, 0.05, disabled=kind != "server_vad")
        silence = t2.slider(
            "Silence to end a turn (ms)", 100, 2000, 500, 50, disabled=kind != "server_vad"
        )
        prefix = t3.slider("Prefix padding (ms)", 0, 1000, 300, 50, disabled=kind != "server_vad")
    return RealtimeSettings(
        output="audio" if output_choice == "audio" else "text",
        voice=voice,
        instructions=instructions,
        transcription_model=transcribe,
        turn=TurnDetection(
            kind=kind, threshold=threshold, silence_duration_ms=silence, prefix_padding_ms=prefix
        ),
    )


settings = settings_form()
chat = get_chat()


def on_start() -> None:
    try:
        store = open_store()
    except StoreError as exc:
        st.session_state["conversation_error"] = str(exc)
        return
    new = VoiceChat(store)
    st.session_state[CHAT_KEY] = new
    on_leave(st.session_state, current_page(st.session_state), "voice-chat", new.shutdown)
    new.start(settings)


def on_stop() -> None:
    old = st.session_state.pop(CHAT_KEY, None)
    if old is not None:
        old.shutdown()


b1, b2, b3 = st.columns([1, 1, 2])
b1.button("Start", type="primary", on_click=on_start, disabled=chat is not None, width="stretch")
b2.button("Stop", on_click=on_stop, disabled=chat is None, width="stretch")
if "conversation_error" in st.session_state:
    st.error(st.session_state.pop("conversation_error"))

if chat is not None:
    voice_out = create_pcm_audio_source_track(key="conversation-voice", sample_rate=24000)
    chat.set_audio_out(voice_out.push, voice_out.clear)
    webrtc_streamer(
        key="conversation",
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=RTC_CONFIGURATION,
        media_stream_constraints={"audio": True, "video": False},
        sink_audio_track=create_audio_sink_track(chat.mic, key="conversation-mic"),
        source_audio_track=voice_out.track,
        source_video_track=cached_video_track(st.session_state, "conversation_video", chat.media),
        desired_playing_state=True,
        video_html_attrs={
            "autoPlay": True,
            "playsInline": True,
            "controls": False,
            "style": {"width": "100%", "maxHeight": "240px", "borderRadius": "12px"},
        },
    )
    if settings.turn.kind == "push_to_talk":
        p1, p2 = st.columns(2)
        p1.button(
            "Talk",
            on_click=chat.talk_pressed,
            width="stretch",
            help="Press, speak, then press Send.",
        )
        p2.button("Send", type="primary", on_click=chat.talk_released, width="stretch")
    typed = st.chat_input("…or type a message")
    if typed:
        chat.session.send_text(typed)


def render_line(role: str, text: str, final: bool, status_: str) -> None:
    with st.chat_message("user" if role == "user" else "assistant"):
        suffix = "" if final else " …"
        if status_ == "cancelled":
            suffix = " *(interrupted)*"
        st.markdown((text or "…") + suffix)


def render(snap: BrainSnapshot, mic_level: float, mic_frames: int) -> None:
    label = STATE_LABELS.get(snap.state, snap.state)
    meter = "▮" * min(10, int(mic_level * 40))
    st.markdown(
        f"**{label}** · mic {meter or '·'} ({mic_frames} frames) · "
        f"{snap.audio_in_s:.1f} s sent · {snap.responses} answers"
        + (f" · {snap.reconnects} reconnects" if snap.reconnects else "")
    )
    if snap.problem:
        st.warning(snap.problem.message)
        if snap.problem.hint:
            st.caption(f"What to do: {snap.problem.hint}")
    for line in snap.lines[-20:]:
        render_line(line.role, line.text, line.final, line.status)
    with st.expander("Effective session (from the server)"):
        st.code(json.dumps(snap.session, indent=2)[:4000] or "{}", language="json")


@st.fragment(run_every="500ms")
def live() -> None:
    current = get_chat()
    if current is None:
        st.info(
            "Press Start, allow the microphone, and ask something — for example "
            "“What are your opening hours?”"
        )
        return
    render(current.session.snapshot(), current.mic.level, current.mic.frames)
    st.caption(f"Updated {time.strftime('%H:%M:%S')}")


live()

"""The Conversation page's settings: avatar provider, agent, its avatars and voice (see
`avatar_form`), bridge and chunking, turn detection and the voice model, checked into a
ConversationConfig and remembered for the browser session."""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from lib.brain.settings import MODELS, TRANSCRIPTION_MODELS, TurnDetection, TurnKind
from lib.bridge.agents import DEFAULT_QUESTIONS, PERSONA_ABOUT, PERSONAS, agents_for
from lib.bridge.chunking import DEFAULT_STRATEGIES, StrategyError, parse_strategy
from lib.bridge.config import BRIDGE_MODES, BridgeConfig, BridgeMode
from lib.core import config
from lib.runtime.conversation import ConversationConfig
from lib.ui.avatar_form import avatar_form
from lib.ui.form_memory import FormMemory

MEMORY_KEY = "conversation_settings"
TURN_KINDS: dict[str, TurnKind] = {
    "Server VAD": "server_vad",
    "Semantic VAD": "semantic_vad",
    "Push to talk": "push_to_talk",
}


def settings_form(busy: bool) -> ConversationConfig | None:
    """The conversation's configuration, or None (with the reason shown) if it is not valid.
    Every choice is remembered for this browser session (`MEMORY_KEY`)."""
    memory = FormMemory(st.session_state, MEMORY_KEY)
    usable = [n for n in config.PROVIDERS if config.provider_status(n).usable]
    with st.expander("Conversation settings", expanded=not busy):
        c1, c2 = st.columns(2)
        provider = c1.selectbox(
            "Avatar provider",
            usable,
            disabled=busy,
            format_func=lambda n: config.PROVIDERS[n].label,
            help="Providers without a key are listed on the Settings page.",
            key=memory.key("provider", usable[0], options=usable),
        )
        persona = c2.selectbox(
            "Agent",
            PERSONAS,
            disabled=busy,
            format_func=lambda p: f"{p} — {PERSONA_ABOUT.get(p, '')}",
            key=memory.key("persona", PERSONAS[0], options=PERSONAS),
        )
        questions = _questions(persona, memory, busy)
        with st.expander("Avatar and voice", expanded=True):
            agents = agents_for(persona, interview_questions=questions or ())
            picks = avatar_form(provider, agents, memory, busy)
        bridge = _bridge(provider, memory, busy)
        turns = _turns(memory, busy)
        if questions is None or picks is None or bridge is None:
            return None
    return ConversationConfig(
        avatar=provider,
        # A chosen emotion holds for every piece; none: each piece's own, from its words.
        bridge=replace(bridge, barge_in=turns.barge_in, emotion_per_chunk=picks.emotion is None),
        persona=persona,
        agents=picks.agents,
        quality=picks.quality,
        emotion=picks.emotion,
        rate=picks.rate,
        language=picks.language,
        turn=turns.detection,
        transcription_model=turns.transcription,
        model=turns.model,
        hold_mic_while_speaking=turns.hold_mic,
        interview_questions=questions,
    )


def _bridge(provider: str, memory: FormMemory, busy: bool) -> BridgeConfig | None:
    """The bridge mode (those the provider can show) and how answers are cut into pieces
    (None: a strategy that does not parse, said on the page)."""
    b1, b2 = st.columns([1, 2])
    can = [m for m in BRIDGE_MODES if m in config.PROVIDERS[provider].bridges]
    mode: BridgeMode = b1.radio(
        "Bridge",
        can,
        disabled=busy,
        format_func=config.BRIDGE_NAMES.__getitem__,
        key=memory.key(f"bridge.{provider}", can[0], options=can),
    )
    if mode == "connector":
        st.caption(
            "LiveAvatar runs the voice model itself (its OpenAI Realtime connector): it hears "
            "you in its room, answers and lip-syncs. Our model and bridge stand aside; each turn "
            "is recorded from the events LiveAvatar reports, so it compares with our bridge."
        )
        return BridgeConfig(mode=mode)
    if mode == "audio":
        a1, a2 = b2.columns(2)
        first_ms = a1.number_input(
            "First audio piece (ms)",
            40,
            2000,
            step=20,
            disabled=busy,
            key=memory.key("audio_first_ms", 200, bounds=(40, 2000)),
        )
        next_ms = a2.number_input(
            "Later audio pieces (ms)",
            100,
            4000,
            step=100,
            disabled=busy,
            key=memory.key("audio_next_ms", 1000, bounds=(100, 4000)),
        )
        st.caption(
            "The model answers in audio; the avatar lip-syncs it, streamed in a short first "
            "piece, then longer ones, one reply at a time (LiveAvatar LITE, HeyGen's realtime "
            "audio, or the local server)."
        )
        return BridgeConfig(mode=mode, audio_first_ms=int(first_ms), audio_next_ms=int(next_ms))
    strategies = (*DEFAULT_STRATEGIES, "custom…")
    choice = b2.selectbox(
        "Chunk strategy",
        strategies,
        disabled=busy,
        help="How the streamed answer is cut into pieces for the avatar.",
        key=memory.key("chunking", "sentence:20", options=strategies),
    )
    chunking = choice
    if choice == "custom…":
        chunking = b2.text_input(
            "Custom strategy",
            disabled=busy,
            key=memory.key("custom_chunking", "sentence:30+wait:700"),
        ).strip()
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
    return BridgeConfig(mode=mode, chunking=chunking)


@dataclass(frozen=True)
class _Turns:
    detection: TurnDetection
    barge_in: bool
    hold_mic: bool
    model: str
    transcription: str | None


def _turns(memory: FormMemory, busy: bool) -> _Turns:
    """How turns end, barge-in and half duplex, the voice model and its transcription."""
    t1, t2, t3 = st.columns(3)
    kinds = list(TURN_KINDS)
    kind = TURN_KINDS[
        t1.radio(
            "Turns",
            kinds,
            disabled=busy,
            help="Push to talk: hold the Talk button, or the space bar, while you speak.",
            key=memory.key("turns", kinds[0], options=kinds),
        )
    ]
    barge_in = t2.checkbox(
        "Barge-in",
        disabled=busy,
        help="Speaking over the avatar stops it.",
        key=memory.key("barge_in", True, options=(True, False)),
    )
    hold_mic = t3.checkbox(
        "Hold the mic while the avatar speaks",
        disabled=busy or kind == "push_to_talk",
        help="Half duplex: nothing you say while it talks is sent.",
        key=memory.key("hold_mic", False, options=(True, False)),
    )
    with st.expander("Voice model and turn detection", expanded=False):
        m1, m2 = st.columns(2)
        model = m1.selectbox(
            "Model", MODELS, disabled=busy, key=memory.key("model", MODELS[0], options=MODELS)
        )
        transcribers = (*TRANSCRIPTION_MODELS, None)
        transcribe = m2.selectbox(
            "Transcription",
            transcribers,
            disabled=busy,
            format_func=lambda m: m or "off",
            key=memory.key("transcription", transcribers[0], options=transcribers),
        )
        v1, v2, v3 = st.columns(3)
        vad_off = busy or kind != "server_vad"
        threshold = v1.slider(
            "VAD threshold",
            0.0,
            1.0,
            step=0.05,
            disabled=vad_off,
            key=memory.key("vad_threshold", 0.5, bounds=(0.0, 1.0)),
        )
        silence = v2.slider(
            "Silence to end a turn (ms)",
            100,
            2000,
            step=50,
            disabled=vad_off,
            key=memory.key("vad_silence_ms", 500, bounds=(100, 2000)),
        )
        prefix = v3.slider(
            "Prefix padding (ms)",
            0,
            1000,
            step=50,
            disabled=vad_off,
            key=memory.key("vad_prefix_ms", 300, bounds=(0, 1000)),
        )
    detection = TurnDetection(
        kind=kind, threshold=threshold, silence_duration_ms=silence, prefix_padding_ms=prefix
    )
    return _Turns(detection, barge_in, hold_mic, model, transcribe)


def _questions(persona: str, memory: FormMemory, busy: bool) -> tuple[str, ...] | None:
    """The interviewer's questions, as the user edited them (None: not usable, said why)."""
    if persona != "interviewer":
        return ()
    raw = st.text_area(
        "Interview questions (one per line, asked in order)",
        height=140,
        disabled=busy,
        key=memory.key("questions", "\n".join(DEFAULT_QUESTIONS)),
    )
    questions = tuple(q.strip() for q in raw.splitlines() if q.strip())
    if not questions:
        st.error("Add at least one interview question.")
        return None
    too_long = [q for q in questions if len(q) > 300]
    if too_long:
        st.error(f"Keep each question under 300 characters: “{too_long[0][:60]}…”")
        return None
    return questions

"""The Conversation page's settings: avatar provider, agent, bridge and chunking, turn
detection and the voice model, checked into a ConversationConfig."""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from lib.avatar.base import QUALITIES
from lib.brain.settings import MODELS, TRANSCRIPTION_MODELS, TurnDetection, TurnKind
from lib.bridge.agents import DEFAULT_QUESTIONS, PERSONAS, Agent, agents_for, with_avatar
from lib.bridge.chunking import DEFAULT_STRATEGIES, StrategyError, parse_strategy
from lib.bridge.config import BRIDGE_MODES, BridgeConfig, BridgeMode
from lib.core import config
from lib.runtime.avatar_problem import problem_of
from lib.runtime.avatar_runner import AvatarRunner
from lib.runtime.conversation import ConversationConfig
from lib.store.database import open_store
from lib.ui.studio_panel import show_problem

CATALOG_KEY = "conversation_catalog_runner"
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


def pick_avatars(provider: str, agents: list[Agent]) -> list[Agent] | None:
    """Local agents come with their own avatars; with a real provider, pick from its list."""
    if config.PROVIDERS[provider].embedded:
        return agents
    runner: AvatarRunner | None = st.session_state.get(CATALOG_KEY)
    try:
        if runner is None or not runner.alive:
            runner = AvatarRunner(open_store(), heartbeat_timeout_s=None)
            st.session_state[CATALOG_KEY] = runner
        avatars, voices = runner.catalog(provider)
    except Exception as exc:  # noqa: BLE001 - shown with what to do
        show_problem(problem_of(exc))
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
        bridge = _bridge(provider, busy)
        if bridge is None:
            return None
        turns = _turns(busy)
        questions = _questions(persona, busy)
        if questions is None:
            return None
        agents = agents_for(persona, interview_questions=questions)
        picked = pick_avatars(provider, agents) if not busy else agents
        if picked is None:
            return None
    return ConversationConfig(
        avatar=provider,
        bridge=replace(bridge, barge_in=turns.barge_in),
        persona=persona,
        agents=tuple(picked),
        quality=quality,
        turn=turns.detection,
        transcription_model=turns.transcription,
        model=turns.model,
        hold_mic_while_speaking=turns.hold_mic,
        interview_questions=questions,
    )


def _bridge(provider: str, busy: bool) -> BridgeConfig | None:
    """The bridge mode (those the provider can show) and how answers are cut into pieces
    (None: a strategy that does not parse, said on the page)."""
    b1, b2 = st.columns([1, 2])
    can = [m for m in BRIDGE_MODES if m in config.PROVIDERS[provider].bridges]
    mode: BridgeMode = b1.radio(
        "Bridge", can, disabled=busy, format_func=config.BRIDGE_NAMES.__getitem__
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
        first_ms = int(a1.number_input("First audio piece (ms)", 40, 2000, 200, 20, disabled=busy))
        next_ms = int(
            a2.number_input("Later audio pieces (ms)", 100, 4000, 1000, 100, disabled=busy)
        )
        st.caption(
            "The model answers in audio; the avatar lip-syncs it, streamed in a short first "
            "piece, then longer ones, one reply at a time (LiveAvatar LITE, HeyGen's realtime "
            "audio, or the local server)."
        )
        return BridgeConfig(mode=mode, audio_first_ms=first_ms, audio_next_ms=next_ms)
    choice = b2.selectbox(
        "Chunk strategy",
        (*DEFAULT_STRATEGIES, "custom…"),
        index=DEFAULT_STRATEGIES.index("sentence:20"),
        disabled=busy,
        help="How the streamed answer is cut into pieces for the avatar.",
    )
    chunking = choice
    if choice == "custom…":
        chunking = b2.text_input("Custom strategy", "sentence:30+wait:700", disabled=busy).strip()
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


def _turns(busy: bool) -> _Turns:
    """How turns end, barge-in and half duplex, the voice model and its transcription."""
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
    detection = TurnDetection(
        kind=kind, threshold=threshold, silence_duration_ms=silence, prefix_padding_ms=prefix
    )
    return _Turns(detection, barge_in, hold_mic, model, transcribe)


def _questions(persona: str, busy: bool) -> tuple[str, ...] | None:
    """The interviewer's questions, as the user edited them (None: not usable, said why)."""
    if persona != "interviewer":
        return ()
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
    return questions

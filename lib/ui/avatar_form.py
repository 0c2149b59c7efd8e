"""The Conversation page's avatar settings: one avatar and voice per agent, from the provider's
own lists (the embedded servers list theirs like the real APIs), and the quality, emotion,
language and speaking rate the provider's session takes."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from lib.avatar.base import (
    EMOTIONS,
    LANGUAGES,
    QUALITIES,
    AvatarInfo,
    Emotion,
    Quality,
    SessionControls,
    VoiceInfo,
)
from lib.avatar.providers import session_controls
from lib.bridge.agents import Agent, own_avatar, with_avatar
from lib.runtime.avatar_problem import problem_of
from lib.runtime.avatar_runner import AvatarRunner
from lib.store.database import StoreError, open_store
from lib.ui.form_memory import FormMemory
from lib.ui.identity import current_user
from lib.ui.studio_panel import show_problem

CATALOG_KEY = "conversation_catalog_runner"


@dataclass(frozen=True)
class AvatarPicks:
    agents: tuple[Agent, ...]
    quality: Quality
    emotion: Emotion | None  # None: the provider's own (or each piece's, where it takes one)
    rate: float
    language: str


def avatar_form(
    provider: str, agents: list[Agent], memory: FormMemory, busy: bool
) -> AvatarPicks | None:
    """The agents on their picked avatars and voices, and the session's voice settings (None:
    the provider's lists could not be had, said on the page)."""
    catalog = _catalog(provider)
    if catalog is None:
        return None
    avatars, voices = catalog
    controls = session_controls(provider)
    picked = tuple(
        _pick(agent, i, provider, avatars, voices if controls.voice else [], memory, busy)
        for i, agent in enumerate(agents)
    )
    c1, c2, c3 = st.columns(3)
    quality: Quality = c1.selectbox(
        "Avatar quality",
        QUALITIES,
        disabled=busy,
        help="low 360p · medium 480p · high 720p",
        key=memory.key("quality", "medium", options=QUALITIES),
    )
    emotion, rate, language = _voice(controls, memory, busy, c2, c3)
    return AvatarPicks(picked, quality, emotion, rate, language)


def _catalog(provider: str) -> tuple[list[AvatarInfo], list[VoiceInfo]] | None:
    runner: AvatarRunner | None = st.session_state.get(CATALOG_KEY)
    try:
        if runner is None or not runner.alive:
            runner = AvatarRunner(open_store(), heartbeat_timeout_s=None, created_by=current_user())
            st.session_state[CATALOG_KEY] = runner
        with st.spinner("Loading avatars and voices from the provider…"):
            avatars, voices = runner.catalog(provider)
    except StoreError as exc:
        st.error(str(exc))
        return None
    except Exception as exc:  # noqa: BLE001 - shown with what to do
        show_problem(problem_of(exc))
        return None
    if not avatars:
        st.warning("The provider returned no streaming avatars.")
        return None
    return avatars, voices


def _pick(
    agent: Agent,
    i: int,
    provider: str,
    avatars: list[AvatarInfo],
    voices: list[VoiceInfo],
    memory: FormMemory,
    busy: bool,
) -> Agent:
    """The agent's avatar (its own by default) and the voice (the agent's own with its own
    avatar, else the avatar's default); each avatar remembers its voice."""
    own = own_avatar(agent, avatars)
    by_id = {a.avatar_id: a for a in avatars}
    ids = list(by_id)
    first = own or avatars[i % len(avatars)]
    a1, a2 = st.columns(2)
    avatar = by_id[
        a1.selectbox(
            f"Avatar for {agent.name}",
            ids,
            format_func=lambda x: by_id[x].name,
            disabled=busy,
            key=memory.key(f"avatar.{provider}.{agent.name}", first.avatar_id, options=ids),
        )
    ]
    if not voices:
        return with_avatar(agent, avatar, None)
    names = {v.voice_id: v.name for v in voices}
    if avatar == own and agent.avatar_voice in names:
        default = agent.avatar_voice
    else:
        default = avatar.default_voice if avatar.default_voice in names else voices[0].voice_id
    voice = a2.selectbox(
        f"Voice for {agent.name}",
        list(names),
        format_func=names.__getitem__,
        disabled=busy,
        key=memory.key(f"voice.{provider}.{agent.name}.{avatar.avatar_id}", default, options=names),
    )
    return with_avatar(agent, avatar, voice)


def _voice(
    controls: SessionControls,
    memory: FormMemory,
    busy: bool,
    emotion_at: DeltaGenerator,
    language_at: DeltaGenerator,
) -> tuple[Emotion | None, float, str]:
    """Emotion, speaking rate and language, those the provider takes (else its defaults)."""
    emotion: Emotion | None = None
    if controls.emotion:
        # Where the provider takes an emotion per piece, the bridge picks one from its words.
        unset = "from each piece's words" if controls.emotion_per_piece else "neutral"
        choices = (None, *EMOTIONS)
        emotion = emotion_at.selectbox(
            "Emotion",
            choices,
            format_func=lambda e: e or unset,
            disabled=busy,
            key=memory.key("emotion", None, options=choices),
        )
    language = "en"
    if controls.language:
        language = language_at.selectbox(
            "Language",
            LANGUAGES,
            disabled=busy,
            help="The language the avatar speaks and hears.",
            key=memory.key("language", "en", options=LANGUAGES),
        )
    rate = 1.0
    if controls.rate is not None:
        rate = st.slider(
            "Speaking rate",
            *controls.rate,
            step=0.05,
            disabled=busy,
            key=memory.key("rate", 1.0, bounds=controls.rate),
        )
    return emotion, float(rate), language

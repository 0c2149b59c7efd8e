"""Agents: who answers, with which instructions, tools, voice, and which avatar shows them.

One avatar per agent: a handoff switches the avatar as well as the instructions. The embedded
server picks its scripted persona from `persona:<name>` in the instructions; a real model reads
the same instructions as prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from lib.avatar.base import AvatarInfo
from lib.bridge.tools import LOOKUP_TOOLS, transfer_tool


@dataclass(frozen=True)
class Agent:
    name: str
    instructions: str
    avatar_id: str
    avatar_voice: str | None = None  # the avatar provider's voice (text bridge)
    model_voice: str = "marin"  # the Realtime voice (audio bridge, audio-only fallback)
    tools: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # The avatar's name where a provider lists it under another id (LiveAvatar's are UUIDs).
    avatar_name: str = ""


_BASE = "You are a friendly, concise assistant for Avatar Lab. Answer in one to three sentences."

# Default avatars are the embedded server's (HeyGen ids; its LiveAvatar side lists them by name
# under UUIDs); the page lets the user pick another from the provider's own list.
_AGENTS: Final[dict[str, tuple[Agent, ...]]] = {
    "concierge": (
        Agent(
            "concierge",
            f"{_BASE} persona:concierge",
            "Ava_Studio_public",
            "ava-us",
            "marin",
            avatar_name="Ava (studio)",
        ),
    ),
    "interviewer": (
        Agent(
            "interviewer",
            f"{_BASE} You interview the user, one question at a time. persona:interviewer",
            "Priya_Newsroom_public",
            "olivia-gb",
            "shimmer",
            avatar_name="Priya (newsroom)",
        ),
    ),
    "echo": (
        Agent(
            "echo",
            f"{_BASE} persona:echo",
            "Kenji_Casual_public",
            "joe-us",
            "ash",
            avatar_name="Kenji (casual)",
        ),
    ),
    "lookup": (
        Agent(
            "lookup",
            f"{_BASE} Use the tools to look things up. persona:lookup",
            "Isla_Garden_public",
            "isla-scot",
            "coral",
            LOOKUP_TOOLS,
            avatar_name="Isla (garden)",
        ),
    ),
    "greeter": (
        Agent(
            "greeter",
            f"{_BASE} You greet visitors and hand billing or technical questions to the "
            "specialist. persona:greeter",
            "Ava_Studio_public",
            "ava-us",
            "marin",
            (transfer_tool("specialist", "billing or technical questions"),),
            avatar_name="Ava (studio)",
        ),
        Agent(
            "specialist",
            f"{_BASE} You are the billing and technical specialist. persona:specialist",
            "Marcus_Office_public",
            "joe-us",
            "cedar",
            avatar_name="Marcus (office)",
        ),
    ),
}
PERSONAS: Final = tuple(_AGENTS)
PERSONA_ABOUT: Final = {
    "concierge": "answers from a small FAQ (hours, prices, location…)",
    "interviewer": "asks your questions in order and acknowledges each answer",
    "echo": "repeats what you said (latency tests)",
    "lookup": "looks orders, weather and stocks up with tool calls",
    "greeter": "greets you and hands off to a specialist (avatar switch)",
}
# The interviewer's questions until the user writes their own (sent in its instructions; the
# embedded server's interviewer keeps the same list for a model asked with none).
DEFAULT_QUESTIONS: Final = (
    "To start, could you tell me a little about yourself?",
    "What is a project you're especially proud of?",
    "Tell me about a challenge you faced at work and how you handled it.",
    "What are you looking for in your next role?",
)


def agents_for(persona: str, *, interview_questions: tuple[str, ...] = ()) -> list[Agent]:
    """The agents of a persona, the first one answering first."""
    agents = list(_AGENTS.get(persona) or _AGENTS["concierge"])
    if persona == "interviewer" and interview_questions:
        listed = " | ".join(q.strip() for q in interview_questions if q.strip())
        agents[0] = replace(agents[0], instructions=f"{agents[0].instructions} questions: {listed}")
    return agents


def with_avatar(agent: Agent, avatar: AvatarInfo, voice: str | None) -> Agent:
    """The same agent on a picked avatar and voice (None: the provider takes no voice)."""
    return replace(agent, avatar_id=avatar.avatar_id, avatar_name=avatar.name, avatar_voice=voice)


def own_avatar(agent: Agent, avatars: list[AvatarInfo]) -> AvatarInfo | None:
    """The agent's own avatar in a provider's list: by id, or by name where the provider lists
    it under another id (None: the provider has no such avatar)."""
    by_id = next((a for a in avatars if a.avatar_id == agent.avatar_id), None)
    if by_id is not None or not agent.avatar_name:
        return by_id
    return next((a for a in avatars if a.name == agent.avatar_name), None)

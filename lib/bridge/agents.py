"""Agents: who answers, with which instructions, tools, voice, and which avatar shows them.

One avatar per agent: a handoff switches the avatar as well as the instructions. The embedded
server picks its scripted persona from `persona:<name>` in the instructions; a real model reads
the same instructions as prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final

from lib.bridge.tools import LOOKUP_TOOLS, transfer_tool


@dataclass(frozen=True)
class Agent:
    name: str
    instructions: str
    avatar_id: str
    avatar_voice: str | None = None  # the avatar provider's voice (text bridge)
    model_voice: str = "marin"  # the Realtime voice (audio bridge, audio-only fallback)
    tools: tuple[dict[str, Any], ...] = field(default_factory=tuple)


_BASE = "You are a friendly, concise assistant for Avatar Lab. Answer in one to three sentences."

# Default avatars are the embedded server's; with HeyGen or LiveAvatar the page lets the user
# pick from the provider's own list.
_AGENTS: Final[dict[str, tuple[Agent, ...]]] = {
    "concierge": (
        Agent("concierge", f"{_BASE} persona:concierge", "Ava_Studio_public", "ava-us", "marin"),
    ),
    "interviewer": (
        Agent(
            "interviewer",
            f"{_BASE} You interview the user, one question at a time. persona:interviewer",
            "Priya_Newsroom_public",
            "olivia-gb",
            "shimmer",
        ),
    ),
    "echo": (Agent("echo", f"{_BASE} persona:echo", "Kenji_Casual_public", "joe-us", "ash"),),
    "lookup": (
        Agent(
            "lookup",
            f"{_BASE} Use the tools to look things up. persona:lookup",
            "Isla_Garden_public",
            "isla-scot",
            "coral",
            LOOKUP_TOOLS,
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
        ),
        Agent(
            "specialist",
            f"{_BASE} You are the billing and technical specialist. persona:specialist",
            "Marcus_Office_public",
            "joe-us",
            "cedar",
        ),
    ),
}
PERSONAS: Final = tuple(_AGENTS)
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


def with_avatar(agent: Agent, avatar_id: str | None, voice: str | None) -> Agent:
    """The same agent on a user-picked avatar/voice (non-local providers)."""
    return replace(
        agent, avatar_id=avatar_id or agent.avatar_id, avatar_voice=voice or agent.avatar_voice
    )

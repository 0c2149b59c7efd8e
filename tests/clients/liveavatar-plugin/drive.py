"""LiveKit's LiveAvatar plugin (`livekit-plugins-liveavatar`, pinned beside this file) against a
LiveAvatar server. Runs in its own venv (make builds it); LA_API_URL, LA_API_KEY and
LA_AVATAR_ID name the server. Prints one JSON object: what the plugin did and what it heard.

The plugin's own objects run the whole protocol (its REST client, its websocket task, its
audio output); the one stand-in is the LiveKit room it would join, at the network edge: the
embedded server keeps the avatar in its own room, so no LiveKit server is involved.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
from livekit import rtc
from livekit.agents import AgentSession, utils
from livekit.agents.voice.events import AgentStateChangedEvent, CloseEvent, CloseReason
from livekit.plugins import liveavatar
from livekit.plugins.liveavatar import avatar as plugin_avatar

RATE = 24_000
FRAME_MS = 20


class EdgeRoom(rtc.EventEmitter):  # type: ignore[type-arg]
    """What the plugin reads of its LiveKit room: a name, a connected local participant."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "avatarlab-test-room"
        self.local_participant = types.SimpleNamespace(identity="agent-1", kind=None)
        self.remote_participants: dict[str, Any] = {}

    def isconnected(self) -> bool:
        return True


def frames(seconds: float) -> Iterator[rtc.AudioFrame]:
    n = RATE * FRAME_MS // 1000
    for i in range(int(seconds * 1000 / FRAME_MS)):
        t = (np.arange(n) + i * n) / RATE
        pcm = (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)
        yield rtc.AudioFrame(pcm.tobytes(), RATE, 1, n)


def new_avatar(key: str) -> liveavatar.AvatarSession:
    return liveavatar.AvatarSession(
        avatar_id=os.environ["LA_AVATAR_ID"],
        api_url=os.environ["LA_API_URL"].rstrip("/") + "/v1/sessions",
        api_key=key,
        video_quality="medium",
    )


async def start(avatar: liveavatar.AvatarSession, agent: AgentSession) -> None:
    await avatar.start(
        agent,
        EdgeRoom(),  # type: ignore[arg-type]
        livekit_url="ws://127.0.0.1:9",  # only written into the token request
        livekit_api_key="avatarlab",  # signs the room token locally; never sent to LiveKit
        livekit_api_secret="avatarlab-test-secret-avatarlab-test",
    )


async def main() -> dict[str, Any]:
    out: dict[str, Any] = {}
    plugin_avatar.KEEP_ALIVE_INTERVAL = 0.5  # read at run time: let keep-alives happen here
    began = time.monotonic()

    def at() -> float:
        return round((time.monotonic() - began) * 1000, 1)

    async with utils.http_context.open():
        agent = AgentSession()  # the plugin's counterpart; never started (no models)
        avatar = new_avatar(os.environ["LA_API_KEY"])
        heard: list[tuple[float, str]] = []
        handle = avatar._handle_server_event

        def record(event: dict[str, Any]) -> None:  # observe, then let the plugin handle it
            heard.append((at(), str(event.get("type"))))
            handle(event)

        avatar._handle_server_event = record  # type: ignore[method-assign]
        await start(avatar, agent)
        out["session_id"] = avatar._session_id
        audio = agent.output.audio
        assert audio is not None
        playback: list[tuple[float, str]] = []
        audio.on("playback_started", lambda _e: playback.append((at(), "started")))

        # A 1.5 s reply, played out.
        sent = at()
        for frame in frames(1.5):
            await audio.capture_frame(frame)
        audio.flush()
        done = await asyncio.wait_for(audio.wait_for_playout(), 10)
        out["reply"] = {
            "sent_at": sent,
            "started_at": playback[0][0] if playback else None,
            "finished_at": at(),
            "position_s": done.playback_position,
            "interrupted": done.interrupted,
        }
        agent.emit(
            "agent_state_changed",
            AgentStateChangedEvent(old_state="speaking", new_state="listening"),
        )
        agent.emit(
            "agent_state_changed", AgentStateChangedEvent(old_state="listening", new_state="idle")
        )

        # A 3 s reply cut short 0.3 s after the avatar starts it (as a barge-in does).
        playback.clear()
        for frame in frames(3.0):
            await audio.capture_frame(frame)
        while not playback:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        cut = at()
        audio.flush()
        audio.clear_buffer()
        done = await asyncio.wait_for(audio.wait_for_playout(), 10)
        await asyncio.sleep(1.0)  # the server's answer to the interrupt, and a few keep-alives
        out["interrupt"] = {
            "cut_at": cut,
            "position_s": done.playback_position,
            "interrupted": done.interrupted,
        }
        out["heard"] = heard

        agent.emit("close", CloseEvent(reason=CloseReason.USER_INITIATED))
        await asyncio.wait_for(avatar._main_atask, 10)
        await avatar.aclose()

        # A key the server does not know.
        refused = new_avatar("not-the-key")
        try:
            await start(refused, AgentSession())
            out["refused"] = None
        except Exception as exc:  # noqa: BLE001 - the plugin's own error is what we report
            out["refused"] = {
                "class": type(exc).__name__,
                "status": getattr(exc, "status_code", None),
            }
        finally:
            await refused.aclose()
    return out


if __name__ == "__main__":
    result = asyncio.run(main())
    sys.stdout.write(json.dumps(result) + "\n")

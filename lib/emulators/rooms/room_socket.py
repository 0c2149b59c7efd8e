"""`GET ws /v1/local-room/{session_id}?token=...`: the local media room (wire format in
`lib/wire/localroom.py`), the stand-in for the LiveKit room of HeyGen and LiveAvatar.

Viewers receive media and data-channel JSON. What they send is treated like LiveKit data
they would publish: LiveAvatar FULL commands (`avatar.speak_text`, ...) and, for HeyGen, the
SDK's TALK text (a JSON string).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

from lib.emulators.rooms.api_errors import ApiError
from lib.emulators.rooms.bounds import clip, load_json
from lib.emulators.rooms.ears import UserEars, shared_listener, warm_ears
from lib.emulators.rooms.room_client import RoomClient
from lib.emulators.rooms.sessions import Registry, Session, same_secret
from lib.emulators.rooms.speaking import canned_reply, speak_text
from lib.emulators.rooms.speech import SpeechListener
from lib.emulators.rooms.speech_events import HeyGenRoomEvents, LiveAvatarRoomEvents
from lib.wire import localroom

# Strong references to fire-and-forget speak tasks (asyncio keeps only weak ones).
_BACKGROUND: set[asyncio.Task[None]] = set()


async def refuse(websocket: WebSocket) -> None:
    """Refuse the handshake: closing before accepting makes the server answer HTTP 403, so a
    client sees a failed join rather than a room that opens and closes."""
    await websocket.close(code=1008)


async def admit(
    websocket: WebSocket,
    *,
    fits: Callable[[Session], bool] = lambda _s: True,
    token_of: Callable[[Session], str] | None = None,
) -> Session | None:
    """The session a socket asks for (path `session_id`), or None once its handshake is
    refused: no such session, not one this socket serves, or not the `token` it handed out."""
    registry: Registry = websocket.app.state.registry
    session = registry.find(websocket.path_params["session_id"])
    if session is None or not fits(session):
        await refuse(websocket)
        return None
    if token_of is not None:
        token = websocket.query_params.get("token", "")
        if not token or not same_secret(token, token_of(session)):
            await refuse(websocket)
            return None
    return session


async def dispatch_received(
    websocket: WebSocket,
    session: Session,
    on_text: Callable[[str], None],
    on_bytes: Callable[[bytes], Awaitable[None]] | None = None,
) -> None:
    """Hand on what the client sends until it disconnects; nothing once the session closed."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            break
        text = message.get("text")
        if text is not None and not session.closed:
            on_text(text)
        data = message.get("bytes")
        if on_bytes is not None and data is not None and not session.closed:
            await on_bytes(data)


async def endpoint(websocket: WebSocket) -> None:
    # The room token is the session's access_token.
    session = await admit(websocket, token_of=lambda s: s.room_token)
    if session is None:
        return
    await websocket.accept()
    if session.closed:
        await websocket.close(localroom.close_code(5), "ROOM_DELETED")
        return
    stream = session.stream
    client = stream.add_client(websocket)
    session.ever_joined = True
    sender = asyncio.create_task(client.run_sender(), name="room-sender")
    try:
        await dispatch_received(
            websocket,
            session,
            lambda text: _on_data(session, client, text),
            lambda data: _on_media(session, data),
        )
    finally:
        stream.remove_client(client)
        if not client.finished.is_set():
            sender.cancel()


async def _on_media(session: Session, data: bytes) -> None:
    """The user's microphone published into the room: the avatar hears it while listening."""
    try:
        media = localroom.unpack(data)
    except ValueError:
        return
    if media.audio is None:
        return
    if session.connector is not None:  # LiveAvatar's connector hears the user itself
        session.touch()
        await session.connector.hear(media.audio, media.sample_rate)
        return
    if not session.listening:
        return
    session.touch()
    if session.ears is None:
        session.ears = UserEars(session, shared_listener())
    await session.ears.feed(media.audio, media.sample_rate)


def _on_data(session: Session, client: RoomClient, text: str) -> None:
    try:
        data: Any = load_json(text)
    except ValueError:  # not JSON, or nested absurdly deep
        return  # LiveKit would deliver it; nobody on the avatar side would understand it
    session.touch()
    if session.connector is not None and isinstance(data, dict):
        session.connector.control(data)  # LiveAvatar's connector: its model answers
    elif session.mode == "FULL" and isinstance(data, dict):
        _on_agent_control(session, client, data)
    elif _is_heygen_talk(session, data):
        # The SDK's TALK + ASYNC path publishes the text itself on the data channel.
        stream = session.stream
        _spawn(session, client, canned_reply(data), lambda _t: HeyGenRoomEvents(stream))


def _is_heygen_talk(session: Session, data: Any) -> bool:
    return (
        session.mode == "HEYGEN"
        and session.started_mono is not None
        and isinstance(data, str)
        and bool(data.strip())
        and not data.startswith("push_to_talk:")
    )


def _on_agent_control(session: Session, client: RoomClient, data: dict[str, Any]) -> None:
    """LiveAvatar FULL commands (LiveKit topic `agent-control`)."""
    kind = str(data.get("event_type", ""))
    source_id = clip(str(data.get("event_id") or ""))  # echoed in events and errors
    if kind in ("avatar.speak_text", "avatar.speak_response"):
        text = str(data.get("text") or "")
        if not text.strip():
            _reply_error(session, client, source_id, f"{kind} needs a non-empty 'text'")
            return
        spoken = text if kind == "avatar.speak_text" else canned_reply(text)
        stream, sid = session.stream, session.session_id
        _spawn(
            session,
            client,
            spoken,
            lambda t: LiveAvatarRoomEvents(stream, sid, source_id, t),
            source_id,
        )
    elif kind == "avatar.interrupt":
        session.stream.interrupt()
    elif kind == "avatar.start_listening":
        session.listening = True
        warm_ears()
    elif kind == "avatar.stop_listening":
        session.listening = False


def _spawn(
    session: Session,
    client: RoomClient,
    text: str,
    make_listener: Callable[[str], SpeechListener],
    source_id: str = "",
) -> None:
    async def run() -> None:
        try:
            await speak_text(session, text, make_listener)
        except ApiError as exc:
            _reply_error(session, client, source_id, str(exc.body.get("message", exc)))

    task = asyncio.create_task(run())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def _reply_error(session: Session, client: RoomClient, source_id: str, message: str) -> None:
    key = "event_type" if session.mode == "FULL" else "type"
    client.offer_text(
        json.dumps(
            {
                key: "error",
                "session_id": session.session_id,
                "source_event_id": source_id,
                "message": message,
            }
        )
    )

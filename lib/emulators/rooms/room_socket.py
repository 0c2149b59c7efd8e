"""`GET ws /v1/local-room/{session_id}?token=...`: the local media room (wire format in
`lib/localroom.py`), the stand-in for the LiveKit room of HeyGen and LiveAvatar.

Viewers receive media and data-channel JSON. What they send is treated like LiveKit data
they would publish: LiveAvatar FULL commands (`avatar.speak_text`, ...) and, for HeyGen, the
SDK's TALK text (a JSON string).
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket

from lib.emulators.rooms.api_errors import ApiError
from lib.emulators.rooms.ears import UserEars, shared_listener, warm_ears
from lib.emulators.rooms.room_client import RoomClient
from lib.emulators.rooms.sessions import Registry, Session
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


async def endpoint(websocket: WebSocket) -> None:
    registry: Registry = websocket.app.state.registry
    session_id = websocket.path_params["session_id"]
    token = websocket.query_params.get("token", "")
    session = registry.find(session_id)
    if session is None:
        await refuse(websocket)
        return
    if not token or not hmac.compare_digest(token, session.room_token):
        await refuse(websocket)  # the room token is the session's access_token
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
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            text = message.get("text")
            if text is not None and not session.closed:
                _on_data(session, client, text)
            data = message.get("bytes")
            if data is not None and not session.closed:
                await _on_media(session, data)
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
    if media.audio is None or not session.listening:
        return
    session.touch()
    if session.ears is None:
        session.ears = UserEars(session, shared_listener())
    await session.ears.feed(media.audio, media.sample_rate)


def _on_data(session: Session, client: RoomClient, text: str) -> None:
    try:
        data: Any = json.loads(text)
    except ValueError:
        return  # LiveKit would deliver it; nobody on the avatar side would understand it
    session.touch()
    if session.mode == "FULL" and isinstance(data, dict):
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
    source_id = str(data.get("event_id") or "")
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

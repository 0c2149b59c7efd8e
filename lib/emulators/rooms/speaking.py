"""Turning text into queued speech for a session (HeyGen tasks and LiveAvatar FULL commands)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lib.emulators.engines.tts import Synthesizer, TTSError
from lib.emulators.rooms import api_errors
from lib.emulators.rooms.sessions import Session
from lib.emulators.rooms.speech import SpeechListener, TtsSpeech

_SYNTH = Synthesizer()  # thread-safe; eSpeak itself is serialised inside


def canned_reply(text: str) -> str:
    """`talk`/`chat` tasks (and LiveAvatar `avatar.speak_response`) would go to HeyGen's LLM.
    There is no LLM here: the avatar answers with a fixed, clearly marked echo instead."""
    return f"You said: {text.strip()}"


async def speak_text(
    session: Session,
    text: str,
    make_listener: Callable[[str], SpeechListener],
    *,
    emotion: str | None = None,
) -> TtsSpeech:
    """Synthesise off the event loop, then queue. `make_listener(spoken_text)` builds the
    events. Tasks are queued in request order even though synthesis takes a while."""
    session.stream.anticipate()  # the lips part while the voice is being made
    async with session.speak_lock:
        try:
            utterance = await asyncio.to_thread(
                _SYNTH.synthesize,
                text,
                session.voice,
                emotion=emotion or session.emotion,
                rate=session.rate,
                language=session.language,
            )
        except TTSError as exc:
            session.stream.cancel_anticipation()
            raise api_errors.tts_failed(str(exc)) from None
        speech = TtsSpeech(utterance, make_listener(text), text=text, emotion=emotion)
        if session.closed:
            raise api_errors.session_closed()
        session.stream.enqueue(speech)
        return speech

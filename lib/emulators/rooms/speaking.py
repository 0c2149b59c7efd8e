"""Turning text into queued speech for a session (HeyGen tasks and LiveAvatar FULL commands)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lib.emulators.engines.tts import Synthesizer, TTSError, VoiceSpec
from lib.emulators.rooms import api_errors
from lib.emulators.rooms.bounds import MAX_PENDING_SPEAKS, MAX_QUEUED_SPEECH_S
from lib.emulators.rooms.sessions import Session
from lib.emulators.rooms.speech import SpeechListener, TtsSpeech

log = logging.getLogger(__name__)

_SYNTH = Synthesizer()  # thread-safe; each engine is serialised inside


def warm_voice(voice: VoiceSpec) -> None:
    """A session will speak with this voice: load its neural model, if any, in the background
    (~1.3 s), so the first speak request does not wait for it."""
    _SYNTH.warm(voice)


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
    events. Tasks are queued in request order even though synthesis takes a while. Refused
    (429) while too much speech is already waiting for this session."""
    check_backlog(session)
    if session.pending_speaks >= MAX_PENDING_SPEAKS:
        raise api_errors.speech_backlog(
            f"{MAX_PENDING_SPEAKS} speak requests are already waiting for their voice"
        )
    session.pending_speaks += 1
    try:
        return await _speak(session, text, make_listener, emotion)
    finally:
        session.pending_speaks -= 1


def check_backlog(session: Session) -> None:
    """Raise the 429 if the session already has MAX_QUEUED_SPEECH_S of speech to play."""
    queued = session.stream.queued_s()
    if queued >= MAX_QUEUED_SPEECH_S:
        raise api_errors.speech_backlog(
            f"{queued:.0f} s of speech are waiting to be played (at most "
            f"{MAX_QUEUED_SPEECH_S:.0f} s)"
        )


async def _speak(
    session: Session,
    text: str,
    make_listener: Callable[[str], SpeechListener],
    emotion: str | None,
) -> TtsSpeech:
    session.stream.anticipate()  # the lips part while the voice is being made
    async with session.speak_lock:
        try:
            pieces = await asyncio.to_thread(
                _SYNTH.stream,
                text,
                session.voice,
                emotion=emotion or session.emotion,
                rate=session.rate,
                language=session.language,
            )
            first, last = await asyncio.to_thread(next, pieces)
        except TTSError as exc:
            session.stream.cancel_anticipation()
            raise api_errors.tts_failed(str(exc)) from None
        speech = TtsSpeech(first, make_listener(text), text=text, emotion=emotion, more=not last)
        if session.closed:
            raise api_errors.session_closed()
        session.stream.enqueue(speech)
        # A neural voice's later sentences are made while the first ones play. The reply
        # waits for them all: it carries the whole duration, as HeyGen's does.
        try:
            while not last and not speech.done.done():  # done early: interrupted or closed
                piece, last = await asyncio.to_thread(next, pieces)
                speech.add(piece, last=last)
        except Exception:  # the voice stops where it got to rather than failing the request
            log.exception("synthesis failed part way through a task")
        finally:
            speech.end_input()
        return speech

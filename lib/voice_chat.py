"""Voice in, voice (or text) out, before the avatar bridge: one Realtime session, the mic that
feeds it, and where the model's own audio goes. The page owns one of these per browser tab."""

from __future__ import annotations

import atexit
import threading
import weakref
from collections.abc import Callable

import numpy as np

from lib.brain.events import AudioDelta, BrainEvent, SpeechStarted
from lib.brain.providers import build_session
from lib.brain.realtime import RealtimeSession
from lib.brain.settings import RealtimeSettings
from lib.media import AvatarMedia
from lib.mic import MicForwarder
from lib.store import Store

AudioOut = Callable[[np.ndarray], None]


class VoiceChat:
    def __init__(self, store: Store, *, provider: str | None = None) -> None:
        self.session: RealtimeSession = build_session(store, provider=provider)
        self.mic = MicForwarder(self.session.append_audio)
        self.media = AvatarMedia()  # the stage: a card until the avatar bridge joins
        self.media.reset("Voice only: the avatar joins with the bridge")
        self._audio_out: AudioOut | None = None
        self._clear_out: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self.session.subscribe(self._on_event)
        _CHATS.add(self)

    def set_audio_out(self, push: AudioOut, clear: Callable[[], None]) -> None:
        """Where the model's audio plays (the page's PCM source track; replaced per rerun)."""
        with self._lock:
            self._audio_out, self._clear_out = push, clear

    def start(self, settings: RealtimeSettings) -> None:
        self.mic.enabled = settings.turn.kind != "push_to_talk"
        self.session.start(settings)

    def talk_pressed(self) -> None:
        self._clear_output()
        self.session.push_to_talk_start()
        self.mic.enabled = True

    def talk_released(self) -> None:
        self.mic.flush()
        self.mic.enabled = False
        self.session.push_to_talk_end()

    def _clear_output(self) -> None:
        with self._lock:
            clear = self._clear_out
        if clear is not None:
            clear()

    def _on_event(self, ev: BrainEvent) -> None:
        if isinstance(ev, AudioDelta):
            with self._lock:
                push = self._audio_out
            if push is not None and ev.pcm:
                push(np.frombuffer(ev.pcm, dtype=np.int16))
        elif isinstance(ev, SpeechStarted):
            self._clear_output()  # barge-in: the user talks over the answer

    def shutdown(self) -> None:
        self.mic.enabled = False
        self.session.shutdown()
        _CHATS.discard(self)


_CHATS: weakref.WeakSet[VoiceChat] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for chat in list(_CHATS):
        chat.shutdown()

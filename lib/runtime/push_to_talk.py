"""Push to talk for one conversation: the user holds the Talk control while speaking.

No VAD marks these turns, so the press and the release do: the press is when the turn's speech
starts, the release when it ends (the end-to-end figure and the interview answer's duration
count from them). The mic is open only while held, and a little longer (see `RELEASE_TAIL_S`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from lib.brain.base import Brain
from lib.brain.events import BrainEvent, SpeechStarted, SpeechStopped
from lib.media.mic import MicForwarder

# The user's last words before the release are still on their way when it arrives (browser
# encoder, network, the receiver's jitter buffer: about 0.1-0.2 s over WebRTC): the mic stays
# open this long past the release before the turn is sent.
RELEASE_TAIL_S: Final = 0.3


class PushToTalk:
    def __init__(
        self,
        mic: MicForwarder,
        brain: Brain,
        *,
        stop_answer: Callable[[], None],
        mark_turn: Callable[[BrainEvent], None] | None,
    ) -> None:
        """`stop_answer`: the press cuts the avatar's answer off. `mark_turn`: where the press
        and release go as the turn's speech start and end (None: something else marks the
        turns, e.g. the avatar's own ears)."""
        self._mic, self._brain = mic, brain
        self._stop_answer, self._mark_turn = stop_answer, mark_turn
        self._lock = threading.RLock()  # press, release and send, in order
        self._held = False  # pressed and not yet released
        self._pending = False  # released; its audio not yet sent
        self._released_at = 0.0
        self._releases = 0  # which release a tail's timer belongs to
        self._closed = False

    def press(self, at: float | None = None) -> None:
        """Held from `at` (this server's clock; None: now). Pressed again within the tail of
        the last release, the hold is taken up again: the same turn goes on (a pause, not a
        new turn whose audio could not be told apart from the last one's)."""
        at = time.time() if at is None else at
        with self._lock:
            if self._closed or self._held:
                return
            self._held = True
            if self._pending:
                self._pending = False
                return
            self._stop_answer()
            self._brain.clear_audio()
            if self._mark_turn is not None:
                self._mark_turn(SpeechStarted("push_to_talk.press", 0, "", at=at))
            self._mic.enabled = True

    def release(self, at: float | None = None) -> None:
        """Let go at `at` (this server's clock; None: now): the turn's speech ends then; it is
        sent RELEASE_TAIL_S after. A release without a press is ignored."""
        at = time.time() if at is None else at
        with self._lock:
            if not self._held:
                return
            self._held = False
            self._pending = True
            self._released_at = at
            self._releases += 1
            n = self._releases
        tail = threading.Timer(max(0.0, at + RELEASE_TAIL_S - time.time()), self._send, (n,))
        tail.daemon = True
        tail.start()

    def close(self) -> None:
        """The conversation ends: nothing more is sent."""
        with self._lock:
            self._closed = True
            self._held = self._pending = False
            self._mic.enabled = False

    def _send(self, release: int) -> None:
        """The released turn: its speech end marked, its audio to the model, its answer asked
        for (unless the hold was taken up again since)."""
        with self._lock:
            if not self._pending or release != self._releases:
                return
            self._pending = False
            self._mic.enabled = False
            self._mic.flush()
            if self._mark_turn is not None:
                self._mark_turn(SpeechStopped("push_to_talk.release", 0, "", at=self._released_at))
            self._brain.push_to_talk_end()

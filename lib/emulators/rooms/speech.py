"""Things the avatar says, as the media producer consumes them: 48 kHz PCM, a mouth pose for
the current position, and word marks.

Two kinds: `TtsSpeech` (text we synthesised; mouth from its phoneme timeline) and
`StreamedSpeech` (PCM16 24 kHz audio a client streams in with `agent.speak`; mouth from the
audio's energy). The producer reads both the same way, so audio and mouth stay in sync at the
source (the mouth one video frame ahead, as lips lead their sound). Protocol events (HeyGen
data-channel, LiveAvatar room or websocket) are emitted by a `SpeechListener` chosen by whoever
queued the speech.
"""

from __future__ import annotations

import asyncio
import bisect
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.tts import Utterance
from lib.emulators.engines.visemes import REST, MouthPose, pose_from_audio

SAMPLE_RATE = 48000
SAMPLES_PER_MS = SAMPLE_RATE // 1000
MOUTH_WINDOW = SAMPLE_RATE * 40 // 1000  # one video frame of audio drives the mouth
# The mouth shows the sound one video frame ahead: lips move before the sound they make (the
# animators' rule of leading the track by a frame or two), and a picture a little ahead of its
# sound is the direction viewers do not notice (ITU-R BT.1359: up to 45 ms of audio lag is
# undetectable; audio ahead of the picture is noticed much sooner).
MOUTH_LEAD_MS = 40.0
MOUTH_LEAD = SAMPLE_RATE * int(MOUTH_LEAD_MS) // 1000


class SpeechListener(Protocol):
    """Turns speech progress into one API's events. Called from the event loop; must not block."""

    def started(self, speech: Speech) -> None: ...

    def word(self, speech: Speech, text: str) -> None: ...

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None: ...


@dataclass(frozen=True)
class Word:
    start_ms: float
    text: str


class Speech:
    """Base: a PCM buffer read forward in 20 ms steps by the producer."""

    def __init__(self, listener: SpeechListener, *, task_id: str | None = None) -> None:
        self.task_id = task_id or uuid.uuid4().hex
        self.listener = listener
        self.words: list[Word] = []
        self.started = False
        self._next_word = 0
        self._pos = 0  # samples already played
        # Resolves with the milliseconds actually spoken (sync tasks wait on it).
        self.done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    # -- what subclasses provide ------------------------------------------------------------
    def _available(self) -> int:
        raise NotImplementedError

    def _take(self, n: int) -> npt.NDArray[np.int16]:
        raise NotImplementedError

    @property
    def input_done(self) -> bool:
        """No more audio will be added."""
        raise NotImplementedError

    def mouth_now(self) -> MouthPose:
        raise NotImplementedError

    # -- what the producer uses --------------------------------------------------------------
    @property
    def spoken_ms(self) -> float:
        return self._pos / SAMPLES_PER_MS

    @property
    def remaining(self) -> int:
        """Samples known and not yet played."""
        return self._available()

    @property
    def exhausted(self) -> bool:
        return self.input_done and self._available() == 0

    def read(self, n: int) -> npt.NDArray[np.int16]:
        """Up to `n` samples from the current position (fewer if the input is behind)."""
        out = self._take(min(n, self._available()))
        self._pos += len(out)
        return out

    def due_words(self) -> list[str]:
        """Words whose start the playback position has now passed (each returned once)."""
        due = []
        while self._next_word < len(self.words) and self.words[self._next_word].start_ms <= (
            self.spoken_ms
        ):
            due.append(self.words[self._next_word].text)
            self._next_word += 1
        return due

    def finish(self, spoken_ms: float) -> None:
        if not self.done.done():
            self.done.set_result(spoken_ms)


class TtsSpeech(Speech):
    """A synthesised utterance: mouth from its phoneme timeline. It may come in pieces (a
    neural voice's sentences, `Synthesizer.stream`): the first plays while the rest is made,
    each `add`ed as it is ready, then `end_input`. Built with `more=False` it is complete."""

    def __init__(
        self,
        first: Utterance,
        listener: SpeechListener,
        *,
        text: str,
        task_id: str | None = None,
        emotion: str | None = None,
        more: bool = False,
    ) -> None:
        super().__init__(listener, task_id=task_id)
        self.text = text
        self.emotion = emotion  # this utterance's own, if any (else the session's)
        self.duration_ms = 0.0  # of the pieces so far
        self._pieces: list[Utterance] = []
        self._starts_ms: list[float] = []  # where each piece begins
        self._pcm = np.zeros(0, dtype=np.int16)
        self._text_done = 0  # text before here is in the word chunks already
        self._ended = False
        self.add(first, last=not more)

    def add(self, piece: Utterance, *, last: bool = False) -> None:
        """The next piece, played right after the ones before (few and short: one copy each)."""
        if self._ended:
            return
        self._pieces.append(piece)
        self._starts_ms.append(self.duration_ms)
        self._pcm = np.concatenate([self._pcm, np.asarray(piece.pcm, dtype=np.int16).ravel()])
        chunks, self._text_done = _phrase_chunks(
            self.text, piece, self.duration_ms, self._text_done, last=last
        )
        self.words.extend(chunks)
        self.duration_ms += float(piece.duration_ms)
        self._ended = last

    def end_input(self) -> None:
        """No more pieces (the last one was added, or the rest will not come)."""
        self._ended = True

    def _available(self) -> int:
        return len(self._pcm) - self._pos

    def _take(self, n: int) -> npt.NDArray[np.int16]:
        return self._pcm[self._pos : self._pos + n]

    @property
    def input_done(self) -> bool:
        return self._ended

    def mouth_now(self) -> MouthPose:
        t = self.spoken_ms + MOUTH_LEAD_MS
        i = max(0, bisect.bisect_right(self._starts_ms, t) - 1)
        return self._pieces[i].mouth_at(t - self._starts_ms[i])


def _phrase_chunks(
    text: str, piece: Utterance, offset_ms: float, done: int, *, last: bool
) -> tuple[list[Word], int]:
    """One chunk per spoken word, cut from the caller's text so that the chunks of all pieces
    concatenate back to it exactly (spaces and punctuation included), like HeyGen's talking
    messages. `done`: where the piece's text begins; returns where the next one begins."""
    marks = sorted(piece.words, key=lambda w: w.char_offset)
    chunks: list[Word] = []
    prev_end = done
    for i, mark in enumerate(marks):
        end = len(text) if last and i == len(marks) - 1 else mark.char_offset + mark.char_len
        if end <= prev_end:
            continue
        chunks.append(Word(offset_ms + float(mark.start_ms), text[prev_end:end]))
        prev_end = end
    return chunks, prev_end


class StreamedSpeech(Speech):
    """Audio streamed in by a client (`agent.speak`), PCM16 24 kHz, played out at 48 kHz.
    Kept as the chunks that arrived (joining them on every append would copy the whole
    backlog each time); whoever appends bounds the backlog (bounds.MAX_QUEUED_SPEECH_S)."""

    def __init__(self, listener: SpeechListener, *, event_id: str) -> None:
        super().__init__(listener)
        self.event_id = event_id
        self._chunks: deque[npt.NDArray[np.int16]] = deque()  # unplayed 48 kHz samples only
        self._buffered = 0
        self._last: int | None = None  # last 24 kHz input sample, for seamless upsampling
        self._ended = False

    def append_24k(self, pcm24k: npt.NDArray[np.int16]) -> None:
        if self._ended or pcm24k.size == 0:
            return
        self._push(self._upsample(pcm24k))

    def _push(self, samples: npt.NDArray[np.int16]) -> None:
        if samples.size:
            self._chunks.append(samples)
            self._buffered += samples.size

    def _upsample(self, x: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """2x linear interpolation, continuous across chunk boundaries: each input sample is
        emitted with the midpoint towards the next one, so we hold back one sample per chunk."""
        xs = x.astype(np.int32)
        if self._last is not None:
            xs = np.concatenate([np.array([self._last], dtype=np.int32), xs])
        self._last = int(xs[-1])
        if xs.size < 2:
            return np.zeros(0, dtype=np.int16)
        out = np.empty(2 * (xs.size - 1), dtype=np.int32)
        out[0::2] = xs[:-1]
        out[1::2] = (xs[:-1] + xs[1:]) // 2
        return out.astype(np.int16)

    def end_input(self) -> None:
        if not self._ended and self._last is not None:
            # Flush the held-back sample (twice: it covers one 24 kHz period).
            self._push(np.array([self._last, self._last], dtype=np.int16))
        self._ended = True

    def _available(self) -> int:
        return self._buffered

    def _peek(self, start: int, stop: int) -> npt.NDArray[np.int16]:
        """Unplayed samples [start, stop) without taking them."""
        parts: list[npt.NDArray[np.int16]] = []
        offset = 0
        for chunk in self._chunks:
            if offset >= stop:
                break
            lo, hi = max(start - offset, 0), min(stop - offset, chunk.size)
            if lo < hi:
                parts.append(chunk[lo:hi])
            offset += chunk.size
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def _take(self, n: int) -> npt.NDArray[np.int16]:
        out = self._peek(0, n).copy()
        left = out.size
        self._buffered -= left
        while left:
            head = self._chunks[0]
            if head.size <= left:
                self._chunks.popleft()
                left -= head.size
            else:
                self._chunks[0] = head[left:]
                left = 0
        return out

    @property
    def input_done(self) -> bool:
        return self._ended

    def mouth_now(self) -> MouthPose:
        # The video frame's worth of audio centred MOUTH_LEAD_MS ahead (as much as has arrived;
        # with less than that, all of it).
        start = max(0, MOUTH_LEAD - MOUTH_WINDOW // 2)
        if self._buffered <= start:
            start = max(0, self._buffered - MOUTH_WINDOW)
        window = self._peek(start, start + MOUTH_WINDOW)
        if len(window) == 0:
            return REST
        return pose_from_audio(window, SAMPLE_RATE)

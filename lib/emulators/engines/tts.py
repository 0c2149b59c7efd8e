"""Offline text-to-speech: eSpeak NG (bundled by `espeakng-loader`) called through ctypes.

Why eSpeak: it ships as a pip wheel (no apt), has many voices, runs at ~500x realtime, and
reports word and IPA phoneme events with exact audio times, which drive the lip-sync.

eSpeak is one global C state, so every call into it holds `_ESPEAK_LOCK`. The engine is created
lazily; the library itself is reloaded per utterance for repeatable output (see `_Engine`).
Nothing else in the process should load this libespeak-ng copy: it would share the state.
"""

from __future__ import annotations

import _ctypes
import ctypes
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import espeakng_loader
import numpy as np
import numpy.typing as npt

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


# --- eSpeak C interface ---------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000  # report errors instead of calling exit()
# Audio per callback. The default (0 → tens of ms) calls back into Python ~40 times a sentence,
# and each call waits for the GIL in a busy server; one call a second is enough for us.
_BUFFER_MS = 1000
_POS_CHARACTER = 1
_CHARS_UTF8 = 0x1  # SSML (0x10) stays off, so "<" in text is spoken literally
_ENDPAUSE = 0x1000
_EV_LIST_TERMINATED, _EV_WORD, _EV_PHONEME = 0, 1, 7
_P_RATE, _P_VOLUME, _P_PITCH, _P_RANGE = 1, 2, 3, 4
_RAND_SEED = 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),  # 1-based, in characters (verified with UTF-8 input)
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Capture:
    """What one espeak_Synth call produced (filled by the C callback)."""

    def __init__(self) -> None:
        self.chunks: list[npt.NDArray[np.int16]] = []
        self.words: list[tuple[int, int, int]] = []  # (ms, 1-based char pos, length)
        self.phonemes: list[tuple[int, str]] = []


class _Engine:
    """eSpeak NG, loaded fresh for every utterance. Only use it while holding _ESPEAK_LOCK.

    Why reload: eSpeak keeps function-static synthesis state (pitch-flutter phase, gain control)
    that no API call resets, and draws noise from libc rand(). The same request would then sound
    slightly different depending on what was spoken before. Reloading (~4 ms) and reseeding make
    the output a pure function of the request, so it can be cached and tested. If the library
    cannot be unloaded (something else in the process holds it) synthesis still works, just
    without bit-exact repeatability.
    """

    def __init__(self) -> None:
        self._path = espeakng_loader.get_library_path()
        self._data = espeakng_loader.get_data_path().encode()
        self._libc = ctypes.CDLL(None)
        self._capture = _Capture()
        self._callback = _SynthCallback(self._on_synth)  # keep a reference: C holds the pointer
        self.sample_rate = 0

    def _open(self) -> ctypes.CDLL:
        lib = ctypes.CDLL(self._path, mode=ctypes.RTLD_LOCAL)
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        options = _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, self._data, options)
        if rate <= 0:
            self._close(lib)
            raise RuntimeError(f"eSpeak NG failed to initialise (data path {self._data!r})")
        self.sample_rate = int(rate)
        lib.espeak_SetSynthCallback(self._callback)
        return lib

    @staticmethod
    def _close(lib: ctypes.CDLL) -> None:
        lib.espeak_Terminate()
        _ctypes.dlclose(lib._handle)

    def _on_synth(
        self, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]
    ) -> int:
        cap = self._capture
        if n > 0:
            cap.chunks.append(np.ctypeslib.as_array(wav, (n,)).astype(np.int16, copy=True))
        i = 0
        while events[i].type != _EV_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EV_WORD:
                cap.words.append((ev.audio_position, ev.text_position, ev.length))
            elif ev.type == _EV_PHONEME:
                raw = bytes(ev.id.string).split(b"\0", 1)[0]
                cap.phonemes.append((ev.audio_position, raw.decode("utf-8", "replace")))
            i += 1
        return 0  # 0 = continue synthesis

    def run(self, text: str, voice: str, delivery: _Delivery, wpm: int) -> _Capture:
        lib = self._open()
        try:
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise TTSError(f"eSpeak has no voice {voice!r} — pick another voice or language")
            lib.espeak_SetParameter(_P_RATE, wpm, 0)
            lib.espeak_SetParameter(_P_PITCH, delivery.pitch, 0)
            lib.espeak_SetParameter(_P_RANGE, delivery.pitch_range, 0)
            lib.espeak_SetParameter(_P_VOLUME, delivery.volume, 0)
            lib.espeak_ng_SetRandSeed(_RAND_SEED)
            self._libc.srand(_RAND_SEED)
            self._capture = _Capture()
            data = text.encode("utf-8")
            err = lib.espeak_Synth(
                data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
            lib.espeak_Synchronize()
            if err != 0:
                raise RuntimeError(f"espeak_Synth failed with code {err}")
            return self._capture
        finally:
            self._close(lib)


_ESPEAK_LOCK = threading.Lock()
_engine: _Engine | None = None


def _get_engine() -> _Engine:
    """Create the engine on first use. Caller holds _ESPEAK_LOCK."""
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


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
    pcm: npt.NDArray[np.int16], sample_rate: int
) -> tuple[npt.NDArray[np.int16], float]:
    """Cut eSpeak's lead-in (~50 ms) and end-of-utterance pause, so speech starts at once and
    the duration is the real spoken length. Returns the PCM and the ms cut from the front."""
    level = np.abs(pcm.astype(np.int32))
    peak = int(level.max()) if level.size else 0
    loud = np.flatnonzero(level > max(64, peak // 50))
    if not loud.size:
        return pcm[:0], 0.0
    start = max(0, int(loud[0]) - int(sample_rate * LEAD_MS / 1000.0))
    end = min(pcm.shape[0], int(loud[-1]) + 1 + int(sample_rate * TAIL_MS / 1000.0))
    return pcm[start:end], 1000.0 * start / sample_rate


def _word_marks(
    cap: _Capture, cleaned: str, index: list[int], at: Callable[[float], float]
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


def _resolve_voice(voice: VoiceSpec, language: str | None) -> str:
    lang = (language or voice.language).strip().lower()
    if lang in ("", "en", voice.language) or lang.startswith("en-"):
        return voice.espeak_voice
    if lang not in LANGUAGES:
        supported = ", ".join(["en", *sorted(LANGUAGES)])
        raise TTSError(f"language {language!r} is not supported — use one of: {supported}")
    _, plus, variant = voice.espeak_voice.partition("+")
    return LANGUAGES[lang] + (plus + variant if plus else "")


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
        wpm = round(min(max(BASE_WPM * rate * delivery.speed, 80.0), 450.0))

        with _ESPEAK_LOCK:
            engine = _get_engine()
            cap = engine.run(cleaned, espeak_voice, delivery, wpm)
            native_rate = engine.sample_rate

        raw = np.concatenate(cap.chunks) if cap.chunks else np.zeros(0, np.int16)
        pcm, lead_ms = _trim_silence(_resample(raw, native_rate), OUTPUT_RATE)
        pcm.flags.writeable = False
        end_ms = 1000.0 * pcm.shape[0] / OUTPUT_RATE

        def at(ms: float) -> float:
            return float(min(max(float(ms) - lead_ms, 0.0), end_ms))

        phonemes = tuple(PhonemeMark(at(ms), ph) for ms, ph in cap.phonemes)
        words = _word_marks(cap, cleaned, index, at)
        return Utterance(pcm=pcm, sample_rate=OUTPUT_RATE, words=words, phonemes=phonemes)

"""eSpeak NG (bundled by `espeakng-loader`) called through ctypes: text → native-rate PCM with
word and IPA phoneme events at exact audio times.

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
from dataclasses import dataclass

import espeakng_loader
import numpy as np
import numpy.typing as npt

__all__ = ["Capture", "Prosody", "speak"]

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


@dataclass(frozen=True)
class Prosody:
    """eSpeak's own scales: words per minute; pitch, range and volume 50/50/100-neutral."""

    wpm: int
    pitch: int
    pitch_range: int
    volume: int


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


class Capture:
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
        self._capture = Capture()
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

    def run(self, text: str, voice: str, prosody: Prosody) -> Capture:
        lib = self._open()
        try:
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise LookupError(f"eSpeak has no voice {voice!r} — pick another voice or language")
            lib.espeak_SetParameter(_P_RATE, prosody.wpm, 0)
            lib.espeak_SetParameter(_P_PITCH, prosody.pitch, 0)
            lib.espeak_SetParameter(_P_RANGE, prosody.pitch_range, 0)
            lib.espeak_SetParameter(_P_VOLUME, prosody.volume, 0)
            lib.espeak_ng_SetRandSeed(_RAND_SEED)
            self._libc.srand(_RAND_SEED)
            self._capture = Capture()
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


def speak(text: str, voice: str, prosody: Prosody) -> tuple[Capture, int]:
    """One utterance: what eSpeak produced and its native sample rate. `LookupError` if eSpeak
    has no such voice."""
    with _ESPEAK_LOCK:
        engine = _get_engine()
        capture = engine.run(text, voice, prosody)
        return capture, engine.sample_rate

"""IPA phonemes → visemes → a smooth mouth-pose timeline.

Two sources drive the avatar's mouth:
- speech we synthesise ourselves: eSpeak gives IPA phonemes with exact start times, which a
  `MouthTimeline` turns into continuous `MouthPose`s (with coarticulation, so it never snaps);
- audio we did not synthesise (a realtime model's own voice): `pose_from_audio` reads loudness
  and a crude brightness cue from the PCM window that is about to play.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

VISEMES = ("rest", "MBP", "FV", "TH", "A", "E", "I", "O", "U", "L", "S", "K")


@dataclass(frozen=True)
class PhonemeMark:
    """One phoneme as the TTS engine reported it: start time (ms from audio start) and IPA."""

    start_ms: float
    phoneme: str


@dataclass(frozen=True)
class MouthPose:
    """Continuous mouth shape, each axis 0..1."""

    open: float  # jaw/lip opening
    wide: float  # lip spread (E/I wide, O/U narrow)
    round: float  # lip rounding/pucker
    closed: bool = False  # lips pressed together (MBP)


REST = MouthPose(0.0, 0.3, 0.0)

# Target pose per viseme. Values are hand-tuned for a 2D illustrated mouth, not anatomical data.
VISEME_POSES: dict[str, MouthPose] = {
    "rest": REST,
    "MBP": MouthPose(0.0, 0.35, 0.05, closed=True),
    "FV": MouthPose(0.12, 0.5, 0.0),
    "TH": MouthPose(0.22, 0.5, 0.0),
    "A": MouthPose(0.85, 0.55, 0.05),
    "E": MouthPose(0.5, 0.8, 0.0),
    "I": MouthPose(0.3, 1.0, 0.0),
    "O": MouthPose(0.65, 0.15, 0.8),
    "U": MouthPose(0.3, 0.05, 1.0),
    "L": MouthPose(0.38, 0.55, 0.0),
    "S": MouthPose(0.15, 0.75, 0.0),
    "K": MouthPose(0.35, 0.45, 0.05),
}

# Multi-character phonemes first (affricates and diphthongs keep the shape of their onset,
# except the ones whose visible gesture is the glide).
_MULTI: dict[str, str] = {
    "tʃ": "S",
    "dʒ": "S",
    "ts": "S",
    "dz": "S",
    "tɕ": "S",
    "dʑ": "S",
    "oʊ": "O",
    "əʊ": "O",
    "ɔɪ": "O",
    "aʊ": "A",
    "aɪ": "A",
    "eɪ": "E",
}
_SINGLE: dict[str, str] = {}
for _chars, _vis in (
    ("pbmɱ", "MBP"),
    ("fvʋ", "FV"),
    ("θð", "TH"),
    ("aɑæʌɐɶ", "A"),
    ("eɛəɜɚɝɘɵ", "E"),
    ("iɪɨj", "I"),
    ("oɔɒøœɤ", "O"),
    ("uʊɯʉyʏwɥɹ", "U"),
    ("lɫɬɭʎʟtdnɾrɲɳ", "L"),
    ("szʃʒɕʑçʝʂʐ", "S"),
    ("kgɡŋqɢxɣχʁʀhɦħʕ", "K"),
):
    for _c in _chars:
        _SINGLE[_c] = _vis

# Marks that carry no segment of their own: stress, length, tie bars, secondary articulation.
_DROP = set("ˈˌːˑ͜͡ʰʲʷˠˤ̃'-_ ")


def _normalise(ipa: str) -> str:
    decomposed = unicodedata.normalize("NFD", ipa)
    return "".join(c for c in decomposed if c not in _DROP and not unicodedata.combining(c))


def viseme_for_phoneme(ipa: str) -> str:
    """Map one IPA phoneme (as eSpeak reports it, stress marks and all) to a name in VISEMES.

    Empty strings and pauses are "rest"; unknown letters get the neutral half-open "K".
    """
    core = _normalise(ipa)
    if not core:
        return "rest"
    if core[:2] in _MULTI:
        return _MULTI[core[:2]]
    if core[0] in _SINGLE:
        return _SINGLE[core[0]]
    return "K" if core[0].isalpha() else "rest"


_STRESS = "ˈˌ"


def phoneme_segments(marks: Sequence[PhonemeMark]) -> tuple[PhonemeMark, ...]:
    """Marks of single IPA code points (as a neural TTS times them) → marks of phonemes (as
    eSpeak reports them): a stress mark starts the phoneme after it; length marks, diacritics
    and the gaps between words belong to the phoneme before; a diphthong or an affricate is
    one mark. Otherwise a stress mark alone would read as a pause and shut the mouth."""
    out: list[PhonemeMark] = []
    stress, stress_at = "", 0.0
    gap = False
    for mark in marks:
        ph = mark.phoneme
        if ph.isspace():
            gap = True
            continue
        if ph in _STRESS:
            stress_at = stress_at if stress else mark.start_ms
            stress += ph
            continue
        core = _normalise(ph)
        prev = out[-1] if out else None
        if (
            prev is not None
            and not stress
            and (not core or (not gap and _normalise(prev.phoneme) + core in _MULTI))
        ):
            out[-1] = PhonemeMark(prev.start_ms, prev.phoneme + ph)
        else:
            out.append(PhonemeMark(stress_at if stress else mark.start_ms, stress + ph))
            stress = ""
        gap = False
    return tuple(out)


def lerp(a: MouthPose, b: MouthPose, w: float) -> MouthPose:
    # Written as a*(1-w) + b*w so w == 1 reproduces b exactly (REST stays REST).
    v = 1.0 - w
    return MouthPose(
        a.open * v + b.open * w,
        a.wide * v + b.wide * w,
        a.round * v + b.round * w,
        closed=(b.closed if w >= 0.5 else a.closed),
    )


def _ease(x: float) -> float:
    """Smoothstep: zero velocity at both ends, so segment changes never look like a snap."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    return x * x * (3.0 - 2.0 * x)


class MouthTimeline:
    """Mouth poses over time for one utterance.

    Each phoneme's viseme is a target the mouth moves towards over `attack_ms` (coarticulation):
    short phonemes are only partly reached, which is what real lips do. The pose at each segment
    start is precomputed, so `mouth_at` is continuous and O(log n).
    """

    def __init__(
        self,
        phonemes: Sequence[PhonemeMark],
        duration_ms: float,
        *,
        attack_ms: float = 55.0,
        lead_ms: float = 15.0,
        last_phoneme_ms: float = 150.0,
    ) -> None:
        self._attack = attack_ms
        marks = sorted(phonemes, key=lambda m: m.start_ms)
        # Lips move slightly ahead of the sound they make.
        starts = [max(0.0, m.start_ms - lead_ms) for m in marks]
        targets = [VISEME_POSES[viseme_for_phoneme(m.phoneme)] for m in marks]
        if marks and targets[-1] != REST:
            # No closing pause reported: end the last phoneme after a typical length.
            starts.append(min(max(duration_ms, starts[-1]), starts[-1] + last_phoneme_ms))
            targets.append(REST)
        self._starts = starts
        self._targets = targets
        self._from: list[MouthPose] = []
        pose = REST
        for i, target in enumerate(targets):
            self._from.append(pose)
            nxt = starts[i + 1] if i + 1 < len(starts) else starts[i] + attack_ms
            pose = lerp(pose, target, _ease((nxt - starts[i]) / attack_ms))
        self.duration_ms = duration_ms

    def mouth_at(self, t_ms: float) -> MouthPose:
        i = bisect.bisect_right(self._starts, t_ms) - 1
        if i < 0:
            return REST
        elapsed = t_ms - self._starts[i]
        if i == len(self._starts) - 1 and elapsed >= self._attack:
            return self._targets[i]  # the final REST, exactly
        return lerp(self._from[i], self._targets[i], _ease(elapsed / self._attack))


def pose_from_audio(pcm_window: npt.NDArray[np.int16], sample_rate: int) -> MouthPose:
    """Estimate a mouth pose from the audio about to play (for voices we did not synthesise).

    Loudness (RMS in dBFS) opens the jaw. The zero-crossing rate is a cheap brightness cue:
    hissy, bright sounds (s, i, e) spread the lips; dark, low sounds (o, u) round them.
    """
    if pcm_window.size < 2:
        return REST
    x = pcm_window.astype(np.float32).reshape(-1) / 32768.0
    rms = float(np.sqrt(np.mean(x * x)))
    db = 20.0 * np.log10(max(rms, 1e-9))
    openness = float(np.clip((db + 50.0) / 34.0, 0.0, 1.0))
    if openness <= 0.0:
        return REST
    signs = np.signbit(x)
    zc_hz = float(np.count_nonzero(signs[1:] != signs[:-1])) * sample_rate / (2.0 * x.size)
    bright = float(np.clip((zc_hz - 400.0) / 2600.0, 0.0, 1.0))
    dark = float(np.clip((900.0 - zc_hz) / 700.0, 0.0, 1.0))
    # Fricatives are loud but barely open the jaw.
    openness *= 1.0 - 0.6 * bright
    return MouthPose(
        open=openness,
        wide=float(np.clip(0.3 + 0.6 * bright - 0.2 * dark, 0.0, 1.0)),
        round=float(np.clip(0.7 * dark * openness, 0.0, 1.0)),
    )

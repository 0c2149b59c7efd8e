"""Phoneme → viseme mapping, the coarticulated mouth timeline, and audio-driven poses."""

from __future__ import annotations

import numpy as np
import pytest

from lib.emulators.engines.visemes import (
    REST,
    VISEME_POSES,
    VISEMES,
    MouthTimeline,
    PhonemeMark,
    phoneme_segments,
    pose_from_audio,
    viseme_for_phoneme,
)


@pytest.mark.parametrize(
    ("ipa", "viseme"),
    [
        ("p", "MBP"),
        ("b", "MBP"),
        ("m", "MBP"),
        ("f", "FV"),
        ("v", "FV"),
        ("θ", "TH"),
        ("ð", "TH"),
        ("a", "A"),
        ("ˈɑː", "A"),
        ("æ", "A"),
        ("ʌ", "A"),
        ("aɪ", "A"),
        ("ɛ", "E"),
        ("ˈeɪ", "E"),
        ("ə", "E"),
        ("i", "I"),
        ("ˈiː", "I"),
        ("ɪ", "I"),
        ("oʊ", "O"),
        ("ˈoʊ", "O"),
        ("ɔ", "O"),
        ("ɔ̃", "O"),
        ("əʊ", "O"),
        ("u", "U"),
        ("uː", "U"),
        ("ʊ", "U"),
        ("w", "U"),
        ("l", "L"),
        ("t", "L"),
        ("n", "L"),
        ("s", "S"),
        ("z", "S"),
        ("ʃ", "S"),
        ("ʒ", "S"),
        ("tʃ", "S"),
        ("dʒ", "S"),
        ("k", "K"),
        ("ɡ", "K"),
        ("ŋ", "K"),
        ("h", "K"),
        ("ʁ", "K"),
        ("", "rest"),
        (" ", "rest"),
        ("_", "rest"),
        ("ˈ", "rest"),
    ],
)
def test_viseme_for_phoneme(ipa, viseme):
    assert viseme_for_phoneme(ipa) == viseme


def test_every_viseme_has_a_pose_and_only_mbp_is_closed():
    assert set(VISEME_POSES) == set(VISEMES)
    assert VISEME_POSES["rest"] == REST
    assert [v for v, p in VISEME_POSES.items() if p.closed] == ["MBP"]
    assert VISEME_POSES["A"].open > VISEME_POSES["E"].open > VISEME_POSES["S"].open
    assert VISEME_POSES["I"].wide > VISEME_POSES["O"].wide
    assert VISEME_POSES["U"].round > VISEME_POSES["A"].round


def marks(*pairs: tuple[float, str]) -> list[PhonemeMark]:
    return [PhonemeMark(t, p) for t, p in pairs]


HELLO = marks((10, "h"), (60, "ə"), (120, "l"), (200, "ˈoʊ"), (400, "m"), (470, "ɑː"), (650, ""))


def test_timeline_is_rest_outside_speech_and_moves_inside():
    tl = MouthTimeline(HELLO, duration_ms=800)
    assert tl.mouth_at(-100) == REST
    assert tl.mouth_at(0) == REST
    assert tl.mouth_at(750) == REST
    assert tl.mouth_at(5000) == REST
    inside = [tl.mouth_at(t) for t in range(100, 640, 10)]
    assert all(p != REST for p in inside)
    assert max(p.open for p in inside) > 0.5


def test_timeline_reaches_viseme_shapes():
    tl = MouthTimeline(HELLO, duration_ms=800)
    o = tl.mouth_at(330)  # well into "oʊ"
    assert o.round > 0.6 and o.wide < 0.3
    m = tl.mouth_at(455)  # end of "m"
    assert m.closed and m.open < 0.1
    a = tl.mouth_at(600)
    assert a.open > 0.7 and not a.closed


def test_timeline_is_continuous():
    tl = MouthTimeline(HELLO, duration_ms=800)
    prev = tl.mouth_at(-20)
    for t in np.arange(-20, 900, 1.0):
        cur = tl.mouth_at(float(t))
        for axis in ("open", "wide", "round"):
            assert abs(getattr(cur, axis) - getattr(prev, axis)) < 0.05, (t, axis)
        prev = cur
    # and over a 10 ms step (a 100 fps frame) nothing jumps far either
    for t in np.arange(0, 800, 5.0):
        a, b = tl.mouth_at(float(t)), tl.mouth_at(float(t) + 10)
        assert abs(a.open - b.open) < 0.35


def test_timeline_closes_without_a_final_pause_mark():
    tl = MouthTimeline(marks((0, "h"), (50, "ɑː")), duration_ms=2000)
    assert tl.mouth_at(120).open > 0.4
    assert tl.mouth_at(1000) == REST


def test_empty_timeline_is_always_rest():
    tl = MouthTimeline([], duration_ms=500)
    assert tl.mouth_at(0) == REST and tl.mouth_at(250) == REST


def tone(freq: float, amplitude: float, ms: float = 40, rate: int = 48_000) -> np.ndarray:
    t = np.arange(int(rate * ms / 1000)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)


def test_code_points_become_whole_phonemes():
    # "hello word church" as Piper times its code points.
    points = [
        (0, "^"), (10, "h"), (20, "ə"), (30, "l"), (40, "ˈ"), (50, "o"), (60, "ʊ"), (70, " "),
        (80, "w"), (90, "ˈ"), (100, "ɜ"), (110, "ː"), (120, "l"), (130, "d"), (140, " "),
        (150, "t"), (155, "ʃ"), (160, "ˈ"), (170, "ɜ"), (180, "ː"), (190, "t"), (200, "ʃ"),
        (210, "$"),
    ]  # fmt: skip
    got = phoneme_segments([PhonemeMark(float(t), p) for t, p in points])
    assert [(m.start_ms, m.phoneme) for m in got] == [
        (0, "^"), (10, "h"), (20, "ə"), (30, "l"),
        (40, "ˈoʊ"),  # the stress mark's time starts the vowel; the diphthong is one mark
        (80, "w"),
        (90, "ˈɜː"),  # the length mark belongs to the vowel
        (120, "l"), (130, "d"),
        (150, "tʃ"),  # an affricate is one mark
        (160, "ˈɜː"), (190, "tʃ"), (210, "$"),
    ]  # fmt: skip
    visemes = [viseme_for_phoneme(m.phoneme) for m in got]
    assert visemes == ["rest", "K", "E", "L", "O", "U", "E", "L", "L", "S", "E", "S", "rest"]


def test_word_gaps_keep_vowels_apart():
    # "a ɪ" across a word gap is two vowels, not the diphthong "aɪ".
    marks = [PhonemeMark(0.0, "a"), PhonemeMark(50.0, " "), PhonemeMark(60.0, "ɪ")]
    assert [m.phoneme for m in phoneme_segments(marks)] == ["a", "ɪ"]


def test_pose_from_audio_silence_is_rest():
    assert pose_from_audio(np.zeros(960, np.int16), 48_000) == REST
    quiet = (np.random.default_rng(0).normal(0, 20, 960)).astype(np.int16)  # ~ -64 dBFS hiss
    assert pose_from_audio(quiet, 48_000).open < 0.05
    assert pose_from_audio(np.zeros(0, np.int16), 48_000) == REST


def test_pose_from_audio_loudness_and_brightness():
    loud = pose_from_audio(tone(220, 0.5), 48_000)
    soft = pose_from_audio(tone(220, 0.02), 48_000)
    assert loud.open > 0.3 and loud.open > soft.open
    hiss = np.random.default_rng(1).normal(0, 6000, 960).astype(np.int16)  # like "s"
    s = pose_from_audio(hiss, 48_000)
    assert s.wide > loud.wide and s.round < loud.round
    assert loud.round > 0.3  # a low, dark tone reads as a rounded vowel

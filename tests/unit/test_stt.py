"""Transcriber (faster-whisper tiny.en / pocketsphinx) on the project's own utterances, and WER."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import lib.emulators.engines.stt as stt
from lib.emulators.engines.audio import resample
from lib.emulators.engines.stt import Transcriber, Transcript, normalize_words, wer
from tests.fixtures.make_speech import load_clips

CLIPS = load_clips()
KEY_WORDS = {  # words a persona needs to understand the question
    "hours": ["opening", "saturday"],
    "pricing": ["premium", "cost"],
    "parking": ["park", "car"],
    "refund": ["refund", "ticket"],
    "order": ["order", "4", "5", "7", "2"],
    "weather": ["weather", "paris"],
    "billing": ["bill"],
    "technical": ["camera", "technical"],
    "answer": ["software", "engineer"],
    "echo": ["hear", "clearly"],
}


def _slug(file: str) -> str:
    return file.split("_", 1)[1].removesuffix(".wav")


@pytest.fixture(scope="module")
def whisper() -> Transcriber:
    tr = Transcriber("whisper")
    tr.warm()
    return tr


@pytest.fixture(scope="module")
def sphinx() -> Transcriber:
    return Transcriber("pocketsphinx")


# ---- WER --------------------------------------------------------------------------------


def test_wer_counts_substitutions_insertions_and_deletions():
    assert wer("the cat sat", "the cat sat") == 0.0
    assert wer("the cat sat", "the bat sat") == pytest.approx(1 / 3)
    assert wer("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert wer("the cat sat", "cat") == pytest.approx(2 / 3)
    assert wer("a b", "c d e f") == pytest.approx(2.0)  # can exceed 1
    assert wer("", "") == 0.0 and wer("", "noise") == 1.0


def test_wer_ignores_case_punctuation_and_digit_spelling():
    assert wer("What's the status of order 4572?", "whats the status of order 4,572") == 0.0
    assert normalize_words("Order 4 5 7 2.") == ["order", "four", "five", "seven", "two"]
    assert wer("order four five seven two", "Order 4572") == 0.0


def test_deltas_concatenate_back_to_the_text():
    t = Transcript(" Hello,  can you hear me?", (), 1.0, 0.1, "whisper")
    deltas = Transcriber.deltas(t)
    assert "".join(deltas) == t.text
    assert deltas == [" Hello,", "  can", " you", " hear", " me?"]
    assert Transcriber.deltas(Transcript("", (), 0.0, 0.0, "whisper")) == []


# ---- Whisper ----------------------------------------------------------------------------


def test_whisper_transcribes_the_fixtures(whisper):
    errors = []
    for clip, pcm in CLIPS:
        result = whisper.transcribe(pcm, clip.sample_rate)
        assert result.engine == "whisper"
        assert result.audio_s == pytest.approx(pcm.size / clip.sample_rate)
        assert result.compute_s > 0
        heard = normalize_words(result.text)
        for key in KEY_WORDS[_slug(clip.file)]:
            assert normalize_words(key)[0] in heard, (clip.file, result.text)
        errors.append(wer(clip.text, result.text))
    assert sum(errors) / len(errors) < 0.15  # measured ≈ 1.4 % on this voice


def test_whisper_gives_word_timestamps_inside_the_speech(whisper):
    clip, pcm = CLIPS[0]
    words = whisper.transcribe(pcm, words=True).words
    assert not whisper.transcribe(pcm).words  # only when asked for (an extra pass)
    assert [w for w, _, _ in words][:2] == ["What", "are"]
    starts = [s for _, s, _ in words]
    assert starts == sorted(starts)
    assert all(0.0 <= s <= e <= pcm.size / clip.sample_rate for _, s, e in words)
    # Whisper tiny pins the first word to 0 s at times; the last word's end is reliable.
    assert words[-1][2] == pytest.approx(clip.speech_end_ms / 1000, abs=0.4)


def test_other_sample_rates_are_resampled(whisper):
    clip, pcm = next((c, p) for c, p in CLIPS if "parking" in c.file)
    result = whisper.transcribe(resample(pcm, clip.sample_rate, 48_000), 48_000)
    assert wer(clip.text, result.text) < 0.2
    assert result.audio_s == pytest.approx(pcm.size / clip.sample_rate, abs=0.01)


def test_empty_short_and_silent_audio_give_no_text(whisper):
    for pcm in (
        np.zeros(0, np.int16),
        np.full(1200, 3000, np.int16),  # 50 ms
        np.zeros(24_000 * 2, np.int16),
        np.random.default_rng(0).normal(0, 20, 48_000).astype(np.int16),  # −64 dBFS hiss
    ):
        result = whisper.transcribe(pcm)
        assert result.text == "" and result.words == ()


def test_prompt_is_accepted(whisper):
    clip, pcm = CLIPS[-1]
    assert wer(clip.text, whisper.transcribe(pcm, prompt="Ava, the avatar.").text) < 0.3


def test_concurrent_calls_are_serialised_and_agree(whisper):
    (c1, a), (c2, b) = CLIPS[2], CLIPS[6]
    expected = {c1.file: whisper.transcribe(a).text, c2.file: whisper.transcribe(b).text}
    got: dict[str, str] = {}

    def run(name: str, pcm: np.ndarray) -> None:
        got[name] = whisper.transcribe(pcm).text

    threads = [threading.Thread(target=run, args=x) for x in ((c1.file, a), (c2.file, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


# ---- pocketsphinx and the fallback ------------------------------------------------------


def test_pocketsphinx_when_forced(sphinx):
    assert sphinx.engine is None  # lazy until used
    errors = []
    for clip, pcm in CLIPS:
        result = sphinx.transcribe(pcm)
        assert result.engine == "pocketsphinx"
        assert "<" not in result.text and "[" not in result.text  # no filler tokens
        errors.append(wer(clip.text, result.text))
    assert sum(errors) / len(errors) < 0.4  # measured ≈ 11 %
    clip, pcm = next((c, p) for c, p in CLIPS if "parking" in c.file)
    result = sphinx.transcribe(pcm)
    assert "park" in result.text and result.words[0][0] == "where"


def test_auto_falls_back_to_pocketsphinx_when_whisper_cannot_load(monkeypatch, caplog):
    def broken() -> None:
        raise RuntimeError("no CTranslate2 for this CPU")

    monkeypatch.setattr(stt, "_Whisper", broken)
    tr = Transcriber("auto")
    tr.warm()
    assert tr.engine == "pocketsphinx"
    assert tr.fallback_reason is not None and "CTranslate2" in tr.fallback_reason
    assert "pocketsphinx" in caplog.text
    _clip, pcm = CLIPS[2]
    assert "car" in tr.transcribe(pcm).text


def test_auto_prefers_whisper():
    tr = Transcriber()
    tr.warm()
    tr.warm()  # idempotent
    assert tr.engine == "whisper" and tr.fallback_reason is None


def test_unknown_engine_is_rejected():
    with pytest.raises(ValueError, match="pocketsphinx"):
        Transcriber("vosk")  # type: ignore[arg-type]


def test_short_audio_is_encoded_in_a_15_s_window_and_long_audio_in_the_full_30_s(
    whisper, monkeypatch
):
    """The window is cut only where faster-whisper padded: a question gets 1500 frames and
    the same words; audio that would not fit with a second to spare keeps Whisper's 3000."""
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

    assert stt.encoder_window(16000 * 14) == stt.SHORT_WINDOW_FRAMES
    assert stt.encoder_window(16000 * 14 + 1) == stt.FULL_WINDOW_FRAMES
    encoded_frames: list[int] = []  # what reaches faster-whisper's own encode
    base_encode = WhisperModel.encode

    def spy(self, features):  # type: ignore[no-untyped-def]
        encoded_frames.append(int(features.shape[-1]))
        return base_encode(self, features)

    monkeypatch.setattr(WhisperModel, "encode", spy)
    clip, pcm = CLIPS[0]
    short = whisper.transcribe(pcm, clip.sample_rate, words=True)
    assert encoded_frames == [stt.SHORT_WINDOW_FRAMES]  # one encode: text and word alignment
    assert wer(clip.text, short.text) < 0.15
    gap = np.zeros(int(clip.sample_rate * 12), np.int16)  # 18 s in all
    long = whisper.transcribe(np.concatenate([pcm, gap, pcm]), clip.sample_rate)
    assert encoded_frames[-1] == stt.FULL_WINDOW_FRAMES
    assert normalize_words(long.text).count("saturday") == 2, long.text

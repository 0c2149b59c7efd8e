"""StreamingVAD on the project's own utterances (known silence around the speech)."""

from __future__ import annotations

import numpy as np
import pytest

from lib.emulators.engines.audio import StreamResampler, downmix, resample, to_float32, to_int16
from lib.emulators.engines.vad import StreamingVAD, VadEvent
from tests.fixtures.make_speech import UTTERANCES, espeak_clip, load_clips

TOL_MS = 150.0
RATE = 24_000


def _run(vad: StreamingVAD, pcm: np.ndarray, chunk: int = 480) -> list[VadEvent]:
    events: list[VadEvent] = []
    for i in range(0, pcm.size, chunk):
        events += vad.feed(pcm[i : i + chunk])
    return events


def _silence(ms: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(rate * ms / 1000), np.int16)


CLIPS = load_clips()


@pytest.mark.parametrize(("clip", "pcm"), CLIPS, ids=[c.file for c, _ in CLIPS])
def test_one_turn_per_utterance_at_the_right_times(clip, pcm):
    vad = StreamingVAD()
    events = _run(vad, np.concatenate([pcm, _silence(600)]))
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]
    # speech_started carries onset − prefix padding (OpenAI's audio_start_ms)
    assert events[0].audio_ms == pytest.approx(clip.speech_start_ms - 300, abs=TOL_MS)
    assert events[1].audio_ms == pytest.approx(clip.speech_end_ms, abs=TOL_MS)
    assert not vad.in_speech


def test_espeak_voice_is_detected_too():
    clip, pcm = espeak_clip(UTTERANCES[0])
    events = _run(StreamingVAD(), np.concatenate([pcm, _silence(600)]))
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]
    assert events[0].audio_ms == pytest.approx(clip.speech_start_ms - 300, abs=TOL_MS)
    assert events[1].audio_ms == pytest.approx(clip.speech_end_ms, abs=TOL_MS)


def test_in_speech_during_speech_and_stop_waits_for_the_silence_duration():
    clip, pcm = CLIPS[0]
    vad = StreamingVAD(silence_duration_ms=500)
    end = int(RATE * clip.speech_end_ms / 1000)
    assert [e.kind for e in _run(vad, pcm[: end - RATE // 5])] == ["speech_started"]
    assert vad.in_speech
    # 300 ms after the speech ends: not yet stopped (silence_duration is 500 ms) …
    assert _run(vad, pcm[end - RATE // 5 : end + RATE * 3 // 10]) == []
    assert vad.in_speech
    # … and after the full silence it is.
    assert [e.kind for e in _run(vad, _silence(500))] == ["speech_stopped"]


def test_chunk_size_does_not_change_the_events():
    _, pcm = CLIPS[1]
    pcm = np.concatenate([pcm, _silence(600)])
    whole = StreamingVAD().feed(pcm)
    for chunk in (1, 160, 4801):
        assert _run(StreamingVAD(), pcm, chunk) == whole


def test_reset_restarts_the_clock_and_the_state():
    _clip, pcm = CLIPS[2]
    vad = StreamingVAD()
    first = _run(vad, np.concatenate([pcm, _silence(600)]))
    _run(vad, pcm[: pcm.size // 2])  # stop mid-speech
    assert vad.in_speech
    vad.reset()
    assert not vad.in_speech
    assert _run(vad, np.concatenate([pcm, _silence(600)])) == first


def test_silence_and_noise_give_no_events():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 30, RATE * 3).astype(np.int16)
    vad = StreamingVAD()
    assert _run(vad, np.concatenate([_silence(1000), noise])) == []
    assert not vad.in_speech


def test_prefix_padding_is_clamped_at_zero():
    clip, pcm = CLIPS[3]
    cut = int(RATE * (clip.speech_start_ms - 100) / 1000)  # speech now starts at ~100 ms
    events = _run(StreamingVAD(prefix_padding_ms=300), np.concatenate([pcm[cut:], _silence(600)]))
    assert events[0] == VadEvent("speech_started", 0.0)


def test_a_short_pause_keeps_one_turn_and_a_long_pause_splits_it():
    (_c1, a), (c2, b) = CLIPS[0], CLIPS[4]
    short = np.concatenate([a, b, _silence(1600)])  # 0.5 + 0.5 s of silence between them
    assert len(_run(StreamingVAD(silence_duration_ms=1500), short)) == 2
    events = _run(StreamingVAD(silence_duration_ms=500), short)
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"] * 2
    offset = 1000 * a.size / RATE
    assert events[2].audio_ms == pytest.approx(offset + c2.speech_start_ms - 300, abs=TOL_MS)
    assert events[3].audio_ms == pytest.approx(offset + c2.speech_end_ms, abs=TOL_MS)


def test_16k_input_gives_the_same_times():
    clip, pcm = CLIPS[5]
    pcm16 = resample(np.concatenate([pcm, _silence(600)]), RATE, 16_000)
    events = _run(StreamingVAD(sample_rate=16_000), pcm16, 320)
    assert events[0].audio_ms == pytest.approx(clip.speech_start_ms - 300, abs=TOL_MS)
    assert events[1].audio_ms == pytest.approx(clip.speech_end_ms, abs=TOL_MS)


def test_bad_threshold_is_rejected():
    with pytest.raises(ValueError, match="threshold"):
        StreamingVAD(threshold=1.5)


# ---- PCM helpers ------------------------------------------------------------------------


def _tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * 12000).astype(np.int16)


def _peak_hz(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(pcm.size, 1 / rate)[spectrum.argmax()])


def test_webrtc_48k_stereo_to_16k_mono_keeps_length_and_pitch():
    left = _tone(440, 48_000)
    stereo = np.stack([left, left], axis=1).reshape(-1)  # interleaved, as av frames give it
    mono = resample(stereo, 48_000, 16_000, channels=2)
    assert mono.dtype == np.int16 and mono.size == 16_000
    assert _peak_hz(mono, 16_000) == pytest.approx(440, abs=2)


def test_stream_resampler_matches_one_shot():
    tone = _tone(300, 24_000)
    rs = StreamResampler(24_000)
    parts = [rs.process(tone[i : i + 777]) for i in range(0, tone.size, 777)]
    assert np.array_equal(np.concatenate([*parts, rs.flush()]), resample(tone, 24_000))


def test_downmix_and_float_round_trip():
    stereo = np.array([[100, 300], [-200, -400]], np.int16)
    assert downmix(stereo, 2).tolist() == [200, -300]
    x = np.array([-32768, -1, 0, 16384, 32767], np.int16)
    f = to_float32(x)
    assert f.dtype == np.float32 and f.min() >= -1.0 and f.max() < 1.0
    assert np.array_equal(to_int16(f), x)
    assert to_int16(np.array([2.0, -2.0], np.float32)).tolist() == [32767, -32768]


def test_pause_is_reported_once_at_the_silence_start_before_the_stop_when_asked():
    """`speech_paused` is opt-in: it comes after `pause_after_ms` of silence, carries the
    silence's start (= the later stop's audio_end_ms), once per silent run."""
    clip, pcm = CLIPS[0]
    vad = StreamingVAD(silence_duration_ms=500, pause_after_ms=160)
    events = _run(vad, np.concatenate([pcm, _silence(600)]))
    assert [e.kind for e in events] == ["speech_started", "speech_paused", "speech_stopped"]
    assert events[1].audio_ms == events[2].audio_ms
    # Resuming after a pause: a new pause for the next silence, one stop at the end.
    vad = StreamingVAD(silence_duration_ms=500, pause_after_ms=160)
    speech = pcm[int(RATE * clip.speech_start_ms / 1000) : int(RATE * clip.speech_end_ms / 1000)]
    events = _run(
        vad, np.concatenate([_silence(300), speech, _silence(300), speech, _silence(600)])
    )
    kinds = [e.kind for e in events]
    assert kinds.count("speech_started") == 1 and kinds.count("speech_stopped") == 1
    assert kinds.count("speech_paused") >= 2
    pauses = [e for e in events if e.kind == "speech_paused"]
    assert pauses[-1].audio_ms == events[-1].audio_ms
    # Without the option, nothing changes.
    assert "speech_paused" not in [e.kind for e in _run(StreamingVAD(), pcm)]


def _noise(ms: float, rms: float, seed: int = 3) -> np.ndarray:
    """Room noise at `rms` (fraction of full scale)."""
    n = int(RATE * ms / 1000)
    return np.random.default_rng(seed).normal(0, rms * 32768, n).astype(np.int16)


def test_quiet_stretches_skip_the_model_and_the_turns_come_out_the_same(monkeypatch):
    """Listening (a quiet room between turns) costs no model runs, and the turns found are
    those the model finds when it scores every window."""
    import lib.emulators.engines.vad as vad_module

    pcm = np.concatenate(
        [_noise(4000, 0.0005), CLIPS[0][1], _noise(3000, 0.0004, 4), CLIPS[1][1], _silence(900)]
    )
    gated = StreamingVAD()
    events = _run(gated, pcm)
    monkeypatch.setattr(vad_module, "QUIET_WINDOWS", 10**9)  # the gate never opens
    every = StreamingVAD()
    reference = _run(every, pcm)
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"] * 2
    assert [e.kind for e in events] == [e.kind for e in reference]
    for got, want in zip(events, reference, strict=True):
        assert got.audio_ms == pytest.approx(want.audio_ms, abs=2 * TOL_MS / 3)
    total = pcm.size * 16_000 // RATE // 512
    assert every.windows_scored >= total - 1
    assert gated.windows_scored < 0.6 * total  # ~7 s of the ~10.5 s were quiet


def test_quiet_but_audible_speech_still_opens_a_turn():
    """Speech well above the gate's floor even when spoken softly (-40 dBFS RMS) is scored."""
    clip, pcm = CLIPS[0]
    speech = pcm.astype(np.float32)
    scale = 0.01 / (np.sqrt(np.mean((speech / 32768) ** 2)) or 1)
    soft = (speech * scale).astype(np.int16)
    vad = StreamingVAD()
    events = _run(vad, np.concatenate([_silence(2000), soft, _silence(900)]))
    assert [e.kind for e in events] == ["speech_started", "speech_stopped"]
    assert events[0].audio_ms == pytest.approx(2000 + clip.speech_start_ms - 300, abs=TOL_MS)

import av
import numpy as np

from lib.media.mic import TARGET_RATE, MicForwarder


def stereo_frame(samples: np.ndarray) -> av.AudioFrame:
    inter = np.repeat(samples.astype(np.int16), 2).reshape(1, -1)  # packed L R L R
    frame = av.AudioFrame.from_ndarray(inter, format="s16", layout="stereo")
    frame.sample_rate = 48000
    return frame


def test_browser_frames_become_24k_mono_batches():
    sent: list[bytes] = []
    mic = MicForwarder(sent.append)
    t = np.arange(48000) / 48000
    tone = (10000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    for i in range(0, 48000, 960):  # 1 s in 20 ms frames, like the browser sends
        mic(stereo_frame(tone[i : i + 960]))
    mic.flush()
    pcm = np.frombuffer(b"".join(sent), dtype=np.int16)
    assert abs(pcm.size - TARGET_RATE) < 200  # 1 s at 24 kHz (resampler latency aside)
    assert all(len(c) >= 4000 for c in sent[:-1])  # ~100 ms batches, not 20 ms dribbles
    spectrum = np.abs(np.fft.rfft(pcm[2000:22000]))
    peak_hz = np.argmax(spectrum) * TARGET_RATE / 20000
    assert abs(peak_hz - 440) < 5  # the tone survives, at the right pitch
    assert 0.1 < mic.level < 0.5


def test_muted_mic_sends_nothing_but_still_meters():
    sent: list[bytes] = []
    mic = MicForwarder(sent.append)
    mic.enabled = False
    for _ in range(20):
        mic(stereo_frame(np.full(960, 5000, dtype=np.int16)))
    mic.flush()
    assert sent == [] and mic.level > 0.1

"""The embedded server's two text-to-speech engines side by side, in this process: real-time
factor (synthesis time ÷ audio length), the wait for the first piece of audio (what a speak
request waits before its first sound, on the server), and CPU per utterance.

Part of `python -m lib bench avatar`; run before the browser and servers start, so they do not
share the cores with it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, Final

# Replies of the lengths the avatar speaks: a word, a sentence, a few sentences.
TEXTS: Final = (
    "Hello!",
    "Testing the mouth, round 1.",
    "Our opening hours on Saturday are nine in the morning to five in the evening.",
    "Let me hand you to our specialist. One moment please. Sam will take it from here, and "
    "you can ask about billing or anything technical.",
)
REPEAT = 3
VOICES: Final = {"espeak": "ava-us", "neural": "joe-us"}


def measure(progress: Callable[[str], None] = print) -> dict[str, Any]:
    from lib.emulators.engines import neural
    from lib.emulators.engines.tts import Synthesizer, voice_by_id

    synth = Synthesizer()
    out: dict[str, Any] = {"texts": len(TEXTS), "repeat": REPEAT}
    for engine, voice_id in VOICES.items():
        voice = voice_by_id(voice_id)
        assert voice is not None, voice_id
        progress(f"text-to-speech speed: {engine} ({voice_id})")
        if voice.neural:
            t0 = time.perf_counter()
            loaded = neural.model(voice.neural) is not None
            out["neural_model_load_s"] = round(time.perf_counter() - t0, 2) if loaded else None
            if not loaded:
                out[engine] = None  # eSpeak would speak: nothing neural to measure
                continue
        synth.synthesize("Warm up.", voice)
        spent = audio = cpu = 0.0
        firsts: list[float] = []
        for text in TEXTS:
            for _ in range(REPEAT):
                t0, c0 = time.perf_counter(), time.process_time()
                pieces = synth.stream(text, voice)
                first, _ = next(pieces)
                firsts.append((time.perf_counter() - t0) * 1000)
                said = first.duration_ms + sum(p.duration_ms for p, _ in pieces)
                spent += time.perf_counter() - t0
                cpu += time.process_time() - c0
                audio += said / 1000
        n = len(TEXTS) * REPEAT
        out[engine] = {
            "voice": voice_id,
            "rtf": round(spent / audio, 4),
            "first_audio_ms_median": round(statistics.median(firsts), 1),
            "first_audio_ms_max": round(max(firsts), 1),
            "cpu_ms_per_utterance": round(cpu / n * 1000, 1),
            "audio_s_per_utterance": round(audio / n, 2),
        }
    return out

"""The soak's fake microphone: two of the project's test questions looped with pauses, and
what each of them says."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Final

import numpy as np

from lib.bench.harness import ROOT

FIXTURES: Final = ROOT / "tests" / "fixtures" / "speech"
QUESTIONS: Final = ("piper_hours.wav", "piper_parking.wav")
PAUSE_S: Final = 12.0  # after each question: the answer is spoken before the next one


def soak_wav(folder: Path) -> tuple[Path, float, int]:
    """The looping mic file: (path, loop seconds, questions per loop)."""
    rng = np.random.default_rng(1)
    parts, rate = [], 24_000
    for name in QUESTIONS:
        with wave.open(str(FIXTURES / name)) as w:
            rate = w.getframerate()
            parts.append(np.frombuffer(w.readframes(w.getnframes()), np.int16))
        parts.append(rng.normal(0, 15, int(rate * PAUSE_S)).astype(np.int16))
    pcm = np.concatenate(parts)
    path = folder / "soak.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path, len(pcm) / rate, len(QUESTIONS)


def question_texts() -> list[str]:
    """What each looped question says, in loop order (the fixtures' own transcripts)."""
    clips = json.loads((FIXTURES / "utterances.json").read_text())["clips"]
    text = {c["file"]: c["text"] for c in clips}
    return [text[name] for name in QUESTIONS]

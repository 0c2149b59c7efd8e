"""`python -m lib bench realtime --json`: voice in through the embedded Realtime server.

For each of the project's test utterances (tests/fixtures/speech), the clip is streamed in 100 ms
chunks, in real time, through `lib.brain.realtime.RealtimeClient` (the openai SDK) with server VAD
and model ttft 0. Reported: speech end (the server's `speech_stopped`) → transcription completed,
speech end → first text delta, word error rate of the server's transcripts, and the real-time factor
of transcription measured in-process on the same clips.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lib.brain.events import BrainEvent, SpeechStopped, TextDelta, TranscriptDone
from lib.brain.realtime import RealtimeClient
from lib.brain.settings import RealtimeSettings
from lib.core.config import Secret
from lib.emulators.launcher import start_emulator

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "speech"
TARGET_TRANSCRIPT_MS = 400
CHUNK_MS = 100
Progress = Callable[[str], None]


def _clips() -> list[dict[str, Any]]:
    meta = json.loads((FIXTURES / "utterances.json").read_text())
    return list(meta["clips"])


def _read(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return bytes(w.readframes(w.getnframes()))


def run(*, seconds: float = 0.0, repeat: int = 1, progress: Progress = print) -> dict[str, Any]:
    from lib.emulators.engines.stt import Transcriber, wer

    emu = start_emulator("realtime", "--ttft-ms", "0")
    to_transcript: list[float] = []
    to_delta: list[float] = []
    errors: list[float] = []
    per_clip: list[dict[str, Any]] = []
    try:
        clips = _clips()
        for n, clip in enumerate(clips * max(1, repeat)):
            progress(f"utterance {n + 1}/{len(clips) * max(1, repeat)}: {clip['text']}")
            stamps: dict[str, float] = {}
            transcript: list[str] = []
            done = threading.Event()

            def on_event(
                ev: BrainEvent,
                stamps: dict[str, float] = stamps,
                transcript: list[str] = transcript,
                done: threading.Event = done,
            ) -> None:
                if isinstance(ev, SpeechStopped):
                    stamps.setdefault("speech_stopped", ev.at)
                elif isinstance(ev, TranscriptDone):
                    stamps.setdefault("transcript", ev.at)
                    transcript.append(ev.transcript)
                elif isinstance(ev, TextDelta):
                    stamps.setdefault("first_delta", ev.at)
                if "transcript" in stamps and "first_delta" in stamps:
                    done.set()

            session = RealtimeClient(
                api_key=Secret("bench"),
                websocket_base_url=emu.base_url.replace("http://", "ws://") + "/v1",
                provider="local",
            )
            session.subscribe(on_event)
            session.start(RealtimeSettings(instructions="persona:concierge"))
            session.wait_connected()
            pcm = _read(FIXTURES / clip["file"]) + bytes(24000 * 2)  # + 1 s of silence
            step = 24000 * 2 * CHUNK_MS // 1000
            t0 = time.monotonic()
            for i, start in enumerate(range(0, len(pcm), step)):
                session.append_audio(pcm[start : start + step])
                # Pace like a microphone: chunk i is due at i × 100 ms.
                time.sleep(max(0.0, t0 + (i + 1) * CHUNK_MS / 1000 - time.monotonic()))
            done.wait(20)
            session.shutdown()
            if "speech_stopped" in stamps and "transcript" in stamps:
                to_transcript.append((stamps["transcript"] - stamps["speech_stopped"]) * 1000)
            if "speech_stopped" in stamps and "first_delta" in stamps:
                to_delta.append((stamps["first_delta"] - stamps["speech_stopped"]) * 1000)
            heard = " ".join(transcript)
            errors.append(wer(clip["text"], heard))
            per_clip.append({"text": clip["text"], "heard": heard, "wer": round(errors[-1], 3)})
    finally:
        emu.stop()

    progress("transcription real-time factor, in-process")
    transcriber = Transcriber("auto")
    transcriber.warm()
    rtfs = []
    for clip in _clips():
        audio = np.frombuffer(_read(FIXTURES / clip["file"]), dtype=np.int16)
        rtfs.append(transcriber.transcribe(audio, 24000).rtf)

    def med(xs: list[float]) -> float | None:
        return round(statistics.median(xs), 1) if xs else None

    return {
        "utterances": len(per_clip),
        "stt_engine": transcriber.engine,
        "speech_end_to_transcript_ms_median": med(to_transcript),
        "speech_end_to_transcript_ms_p90": (
            round(sorted(to_transcript)[int(0.9 * (len(to_transcript) - 1))], 1)
            if to_transcript
            else None
        ),
        "speech_end_to_first_text_delta_ms_median": med(to_delta),
        "word_error_rate_mean": round(statistics.mean(errors), 4) if errors else None,
        "transcription_rtf_median": round(statistics.median(rtfs), 3),
        "target_speech_end_to_transcript_ms": TARGET_TRANSCRIPT_MS,
        "meets_target": (med(to_transcript) or 1e9) <= TARGET_TRANSCRIPT_MS,
        "note": "speech end = the server's speech_stopped, which already waited "
        "silence_duration_ms (500 ms) after the last word; the server starts transcribing "
        "160 ms into that silence (speculatively: discarded if speech resumes); model timing "
        "is simulated (ttft 0)",
        "per_utterance": per_clip,
    }

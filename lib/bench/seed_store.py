"""A seeded store: synthetic but shaped like recorded history (conversations across providers,
bridge modes, chunk strategies and experiments; turns with every stage stamped; pieces; avatar
sessions; usage; transcripts). For the analytics benchmark and the page tests — never mixed
into a real store (the caller gives the path). Deterministic for a given seed."""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

import numpy as np

from lib.store.database import Store

CONFIGS: Final = (
    ("text", "whole"),
    ("text", "chars:50"),
    ("text", "sentence:20"),
    ("audio", "audio:200/1000"),
    ("listen", "listen/sentence:20"),
)
PROVIDERS: Final = ("local", "heygen", "liveavatar")
QUESTIONS: Final = (
    "What are your opening hours?",
    "How much does the premium plan cost?",
    "Where can I park my car?",
    "Can I get a refund if I cancel?",
)
ANSWERS: Final = (
    "We're open Monday to Friday from 9 am to 6 pm. We're closed on Sundays.",
    "The Basic plan is free. Premium is 19 dollars a month.",
    "There's a parking garage under the building. The first two hours are free.",
    "Yes, you can cancel within 14 days for a full refund.",
)
# First-piece delay (ms) per strategy: whole waits for the whole answer.
CHUNK_MS: Final = {"whole": 1400, "chars:50": 520, "sentence:20": 420, "audio:200/1000": 260}


def _id() -> str:
    return uuid.uuid4().hex


def seed(
    store: Store,
    *,
    sessions: int = 40,
    turns: int = 400,
    days: int = 14,
    now: float = 1_796_000_000.0,
    seed: int = 7,
) -> dict[str, int]:
    """Write `sessions` conversations with `turns` turns in all; returns the row counts."""
    rng = np.random.default_rng(seed)
    experiments = [_id(), _id()]
    store.insert_many(
        "experiments",
        [
            {
                "id": e,
                "name": f"seeded sweep {i + 1}",
                "plan": "{}",
                "created_at": now - 86400 * (i + 2),
                "finished_at": now - 86400 * (i + 2) + 600,
                "status": "done",
                "error": None,
            }
            for i, e in enumerate(experiments)
        ],
    )
    per_session = np.maximum(1, rng.multinomial(turns - sessions, [1 / sessions] * sessions) + 1)
    convs, turn_rows, chunk_rows, avatar_rows, brain_rows, event_rows = [], [], [], [], [], []
    for s in range(sessions):
        bridge, chunking = CONFIGS[s % len(CONFIGS)]
        provider = PROVIDERS[(s // len(CONFIGS)) % len(PROVIDERS)]
        brain = "local" if provider == "local" else "openai"
        t0 = now - rng.uniform(0, days * 86400)
        cid, bid = _id(), _id()
        t = t0 + 1.5
        model = "gpt-4.1-mini" if bridge == "listen" else "gpt-realtime"
        for n in range(int(per_session[s])):
            q = int(rng.integers(len(QUESTIONS)))
            speech = rng.uniform(1.2, 3.0)
            start = t + rng.uniform(0.5, 2.0)
            end = start + speech
            commit = end + rng.uniform(0.001, 0.02)
            transcript = end + rng.gamma(4, 30) / 1000
            created = commit + 0.005
            delta = created + (rng.gamma(6, 50) if brain == "openai" else rng.gamma(3, 20)) / 1000
            key = chunking.split("/")[-1]
            first_chunk = delta + rng.gamma(8, CHUNK_MS.get(key, 420) / 8) / 1000
            avatar_start = first_chunk + rng.gamma(4, 25 if provider == "local" else 70) / 1000
            spoken = rng.uniform(3, 8)
            interrupted = rng.random() < 0.08
            failed = not interrupted and rng.random() < 0.02
            status = "interrupted" if interrupted else ("error" if failed else "done")
            stop = avatar_start + (spoken * rng.uniform(0.2, 0.8) if interrupted else spoken)
            done = delta + rng.uniform(0.6, 1.8)
            audio_in = int(speech * 10)
            usage = {
                "total_tokens": 0,
                "input_tokens": 300 + audio_in + 60 * n,
                "output_tokens": 40,
                "input_token_details": {
                    "text_tokens": 300 + 40 * n,
                    "audio_tokens": audio_in + 20 * n,
                    "cached_tokens": 260 + 60 * n if n else 0,
                    "cached_tokens_details": {
                        "text_tokens": 260 + 40 * n if n else 0,
                        "audio_tokens": 20 * n,
                    },
                },
                "output_token_details": {
                    "text_tokens": 40 if bridge != "audio" else 10,
                    "audio_tokens": int(spoken * 20) if bridge == "audio" else 0,
                },
            }
            tid = _id()
            pieces = 1 if key == "whole" else int(rng.integers(2, 4))
            turn_rows.append(
                {
                    "id": tid,
                    "conversation_id": cid,
                    "seq": n + 1,
                    "agent": "concierge",
                    "avatar_session_id": None,
                    "source": "voice",
                    "user_text": QUESTIONS[q],
                    "assistant_text": ANSWERS[q],
                    "item_id": f"item_{tid[:8]}",
                    "response_id": f"resp_{tid[:8]}",
                    "speech_started_at": start,
                    "speech_end_at": end,
                    "committed_at": commit,
                    "transcript_at": transcript,
                    "response_created_at": created,
                    "first_delta_at": delta,
                    "first_chunk_at": first_chunk if not failed else None,
                    "avatar_start_at": avatar_start if not failed else None,
                    "avatar_stop_at": stop if status == "done" else None,
                    "response_done_at": done,
                    "interrupted_at": stop if interrupted else None,
                    "usage": json.dumps({f"resp_{tid[:8]}": usage}),
                    "chunks": pieces,
                    "status": status,
                    "error": "the avatar failed: not spoken" if failed else None,
                }
            )
            words = ANSWERS[q].split(". ")
            for k in range(pieces):
                sent = first_chunk + 0.06 * k
                begun = avatar_start + spoken * k / pieces
                chunk_rows.append(
                    {
                        "id": _id(),
                        "turn_id": tid,
                        "seq": k + 1,
                        "kind": "audio" if bridge == "audio" else "text",
                        "text": words[k % len(words)] if bridge != "audio" else None,
                        "chars": len(words[k % len(words)]) if bridge != "audio" else None,
                        "audio_ms": 1000.0 if bridge == "audio" else None,
                        "emotion": "friendly",
                        "ready_at": sent - 0.0002,
                        "sent_at": sent,
                        "accepted_at": sent + 0.02,
                        "task_id": _id(),
                        "started_at": begun,
                        "ended_at": begun + spoken / pieces,
                        "status": "interrupted" if interrupted and k == pieces - 1 else "done",
                        "error": None,
                    }
                )
            event_rows.append(
                {
                    "id": _id(),
                    "session_id": bid,
                    "kind": "conversation.item.input_audio_transcription.completed",
                    "at": transcript,
                    "item_id": f"item_{tid[:8]}",
                    "response_id": None,
                    "payload": json.dumps(
                        {
                            "transcript": QUESTIONS[q],
                            "usage": {"type": "duration", "seconds": speech},
                        }
                    ),
                }
            )
            t = stop
        end_at = t + rng.uniform(2, 20)
        avatar_rows.append(
            {
                "id": _id(),
                "provider": provider,
                "remote_session_id": _id(),
                "avatar_id": "Ava_Studio_public",
                "voice_id": "ava-us",
                "quality": "low",
                "emotion": None,
                "rate": 1.0,
                "language": "en",
                "requested_at": t0,
                "started_at": t0 + rng.uniform(0.3, 1.2),
                "first_frame_at": t0 + rng.uniform(1.2, 2.0),
                "stopped_at": end_at,
                "status": "stopped",
                "stop_reason": "CONVERSATION_ENDED",
                "error": None,
                "conversation_id": cid,
            }
        )
        brain_rows.append(
            {
                "id": bid,
                "provider": brain,
                "model": model,
                "settings": "{}",
                "started_at": t0,
                "stopped_at": end_at,
                "status": "stopped",
                "error": None,
            }
        )
        config: dict[str, Any] = {
            "model": "gpt-realtime",
            "text_model": "gpt-4.1-mini",
            "transcription_model": "whisper-1",
        }
        convs.append(
            {
                "id": cid,
                "brain_provider": brain,
                "brain_session_id": bid,
                "avatar_provider": provider,
                "bridge": bridge,
                "chunking": chunking,
                "timing": "simulated" if brain == "local" else "measured",
                "experiment_id": experiments[s % 2] if s % 3 == 0 else None,
                "config": json.dumps(config),
                "requested_at": t0,
                "brain_ready_at": t0 + 0.4,
                "avatar_ready_at": t0 + 1.5,
                "stopped_at": end_at,
                "status": "stopped",
                "error": None,
            }
        )
    counts = {
        "conversations": store.insert_many("conversations", convs),
        "turns": store.insert_many("turns", turn_rows),
        "chunks": store.insert_many("chunks", chunk_rows),
        "avatar_sessions": store.insert_many("avatar_sessions", avatar_rows),
        "brain_sessions": store.insert_many("brain_sessions", brain_rows),
        "brain_events": store.insert_many("brain_events", event_rows),
    }
    return counts

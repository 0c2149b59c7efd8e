"""A conversation's recorded turns, as tables for the page, the exports and the CLI."""

from __future__ import annotations

import itertools
import re

import pandas as pd

from lib.metrics.latency import durations_frame
from lib.store.database import Store
from lib.store.queries import conversation_chunks, conversation_turns

__all__ = ["interview_answers", "last_question", "transcript", "turn_table"]

_QUESTION = re.compile(r"[^.!?]*\?")


def turn_table(store: Store, conversation_id: str) -> pd.DataFrame:
    """One row per turn, in order, with the derived stage durations (ms) beside the stamps."""
    turns = conversation_turns(store, conversation_id)
    if turns.empty:
        return turns
    return pd.concat([turns, durations_frame(turns).add_suffix("_ms")], axis=1)


def last_question(text: str) -> str:
    """The question an assistant turn ends on ("Thanks. … What drew you to this role?")."""
    found = _QUESTION.findall(text or "")
    return found[-1].strip() if found else (text or "").strip()


def interview_answers(turns: pd.DataFrame) -> pd.DataFrame:
    """Each question the interviewer asked, paired with the user's answer to it (the next
    turn's words), with the answer's timings."""
    rows: list[dict[str, object]] = []
    records = turns.to_dict("records") if not turns.empty else []
    for before, turn in itertools.pairwise(records):
        answer = str(turn.get("user_text") or "").strip()
        if not answer:
            continue
        started, ended = turn.get("speech_started_at"), turn.get("speech_end_at")
        speaking = (ended - started) if pd.notna(started) and pd.notna(ended) else None
        rows.append(
            {
                "question_no": len(rows) + 1,
                "question": last_question(str(before.get("assistant_text") or "")),
                "answer": answer,
                "answered_at": pd.to_datetime(ended, unit="s", utc=True)
                if pd.notna(ended)
                else None,
                "answer_seconds": round(speaking, 2) if speaking is not None else None,
                "transcript_ms": turn.get("transcription_ms"),
                "reply_e2e_ms": turn.get("e2e_ms"),
                "status": turn.get("status"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "question_no",
            "question",
            "answer",
            "answered_at",
            "answer_seconds",
            "transcript_ms",
            "reply_e2e_ms",
            "status",
        ],
    )


def transcript(store: Store, conversation_id: str) -> pd.DataFrame:
    """The conversation as it was heard and said, one row per utterance or piece, aligned on
    one clock (seconds from the start): the user's words at their speech end, each piece of
    the answer at its send time, with when the avatar began and finished saying it."""
    conv = store.get("conversations", conversation_id)
    if conv is None:
        return pd.DataFrame()
    t0 = float(conv["requested_at"])
    turns = conversation_turns(store, conversation_id)
    chunks = conversation_chunks(store, conversation_id)
    rows: list[dict[str, object]] = []

    def rel(x: object) -> float | None:
        return round(float(x) - t0, 3) if isinstance(x, int | float) and x == x else None

    for t in turns.to_dict("records"):
        at = t.get("speech_end_at") if t.get("speech_end_at") == t.get("speech_end_at") else None
        if t.get("user_text"):
            rows.append(
                {
                    "turn": t["seq"],
                    "at_s": rel(at),
                    "who": "user",
                    "piece": None,
                    "text": t["user_text"],
                    "started_s": rel(t.get("speech_started_at")),
                    "ended_s": rel(at),
                    "status": t["status"],
                }
            )
        mine = chunks[chunks["turn_seq"] == t["seq"]]
        if mine.empty and t.get("assistant_text"):
            rows.append(
                {
                    "turn": t["seq"],
                    "at_s": rel(t.get("first_delta_at")),
                    "who": t.get("agent"),
                    "piece": None,
                    "text": t["assistant_text"],
                    "started_s": None,
                    "ended_s": rel(t.get("response_done_at")),
                    "status": t["status"],
                }
            )
        for c in mine.to_dict("records"):
            text = c["text"] if c["kind"] == "text" else f"[{c['audio_ms']:.0f} ms of audio]"
            rows.append(
                {
                    "turn": t["seq"],
                    "at_s": rel(c["sent_at"]),
                    "who": t.get("agent"),
                    "piece": c["seq"],
                    "text": text,
                    "started_s": rel(c["started_at"]),
                    "ended_s": rel(c["ended_at"]),
                    "status": c["status"],
                }
            )
    return pd.DataFrame(
        rows, columns=["turn", "at_s", "who", "piece", "text", "started_s", "ended_s", "status"]
    )

"""A conversation's recorded turns, as tables for the page, the exports and the CLI."""

from __future__ import annotations

import itertools
import re

import pandas as pd

from lib.latency import durations_frame
from lib.store import Store

__all__ = ["interview_answers", "last_question", "turn_table"]

_QUESTION = re.compile(r"[^.!?]*\?")


def turn_table(store: Store, conversation_id: str) -> pd.DataFrame:
    """One row per turn, in order, with the derived stage durations (ms) beside the stamps."""
    turns = store.frame(
        "SELECT * FROM turns WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
    )
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

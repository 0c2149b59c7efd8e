"""Stage durations and the waterfall rows, derived from stamps (the one definition)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from lib.metrics.latency import (
    ChunkTimes,
    durations_frame,
    durations_ms,
    in_order,
    origin,
    waterfall,
)
from lib.metrics.records import interview_answers, last_question
from lib.ui.export import export_bytes

T = 1_000_000.0
VOICE = {
    "speech_started_at": T - 2.0,
    "speech_end_at": T,
    "committed_at": T + 0.05,
    "transcript_at": T + 0.30,
    "response_created_at": T + 0.06,
    "first_delta_at": T + 0.10,
    "first_chunk_at": T + 0.40,
    "avatar_start_at": T + 0.45,
    "avatar_stop_at": T + 3.45,
    "response_done_at": T + 1.10,
}


def test_durations_follow_the_definitions():
    d = durations_ms(VOICE)
    assert d["e2e"] == pytest.approx(450)
    assert d["endpointing"] == pytest.approx(50)
    assert d["model_ttft"] == pytest.approx(50)  # from commit, not from speech end
    assert d["chunking"] == pytest.approx(300)
    assert d["avatar_latency"] == pytest.approx(50)
    assert d["transcription"] == pytest.approx(300)
    assert d["speaking"] == pytest.approx(3000)
    # The critical path adds up to the end-to-end latency.
    parts = ("endpointing", "model_ttft", "chunking", "avatar_latency")
    assert sum(d[p] for p in parts) == pytest.approx(d["e2e"])


def test_typed_turn_measures_ttft_from_the_response_and_skips_missing_stages():
    typed = {"speech_end_at": T, "response_created_at": T + 0.01, "first_delta_at": T + 0.2}
    d = durations_ms(typed)
    assert d["model_ttft"] == pytest.approx(190)
    assert "e2e" not in d and "endpointing" not in d


def test_nan_from_a_table_counts_as_missing():
    row = {**VOICE, "avatar_start_at": math.nan}
    assert "e2e" not in durations_ms(row)
    assert not in_order(row, ("speech_end_at", "avatar_start_at"))
    assert in_order(VOICE, ("speech_end_at", "committed_at", "first_delta_at"))
    assert not in_order(VOICE, ("first_chunk_at", "first_delta_at"))


def test_waterfall_rows_start_at_speech_end_and_open_stages_run_to_now():
    live = {k: v for k, v in VOICE.items() if k not in ("avatar_stop_at", "response_done_at")}
    chunks = [ChunkTimes(1, "Hello.", T + 0.40, T + 0.45, None, "speaking")]
    bars = waterfall(live, chunks, now=T + 1.0)
    assert origin(live) == T
    by_row = {b.row: b for b in bars}
    assert by_row["model: first token"].start_ms == pytest.approx(50)
    assert by_row["avatar speaking"].open and by_row["avatar speaking"].end_ms == pytest.approx(
        1000
    )
    spoken = [b for b in bars if b.kind == "chunk"]
    assert spoken[0].open and spoken[0].detail == "Hello."
    # Finished turn: nothing open, and no bars without `now` for missing ends.
    assert not any(b.open for b in waterfall(VOICE, []))


def test_interview_pairs_each_question_with_the_next_answer():
    turns = pd.DataFrame(
        [
            {"seq": 1, "user_text": None, "assistant_text": "Welcome! Tell me about yourself?"},
            {
                "seq": 2,
                "user_text": "I build voice apps.",
                "assistant_text": "Thanks. What drew you to this role?",
                "speech_started_at": T,
                "speech_end_at": T + 2.5,
                "status": "done",
            },
            {"seq": 3, "user_text": "The team.", "assistant_text": "Great.", "status": "done"},
        ]
    )
    answers = interview_answers(turns)
    assert list(answers["question"]) == [
        "Tell me about yourself?",  # the question, not the greeting before it
        "What drew you to this role?",
    ]
    assert list(answers["answer"]) == ["I build voice apps.", "The team."]
    assert answers["answer_seconds"].iloc[0] == 2.5
    assert last_question("No question here.") == "No question here."


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_exports_round_trip(fmt, tmp_path):
    df = pd.DataFrame({"seq": [1, 2], "text": ["a, b", "ü"]})
    data = export_bytes(df, fmt)
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(data)
    back = {"csv": pd.read_csv, "json": pd.read_json, "parquet": pd.read_parquet}[fmt](path)
    assert list(back["text"]) == ["a, b", "ü"]


def test_a_typed_turn_shows_no_open_commit_or_transcript_bars():
    typed = {"speech_end_at": T, "response_created_at": T + 0.01, "first_delta_at": T + 0.3}
    rows = {b.row for b in waterfall(typed, [], now=T + 1.0)}
    assert "end of turn → committed" not in rows and "transcription" not in rows
    assert "chunking: first piece" in rows  # the next stage is open, drawn to now
    voice = {"speech_started_at": T - 1, "speech_end_at": T, "committed_at": T + 0.01}
    rows = {b.row for b in waterfall(voice, [], now=T + 0.2)}
    assert {"transcription", "model: first token"} <= rows


def test_the_table_form_agrees_with_the_one_turn_form():
    typed = {"speech_end_at": T, "response_created_at": T + 0.01, "first_delta_at": T + 0.3}
    rows = pd.DataFrame([VOICE, typed, {**VOICE, "committed_at": math.nan}])
    table = durations_frame(rows)
    for i, stamps in enumerate([VOICE, typed, {**VOICE, "committed_at": math.nan}]):
        one = durations_ms(stamps)
        got = {k: v for k, v in table.iloc[i].items() if v == v}
        assert got.keys() == one.keys()
        assert all(got[k] == pytest.approx(one[k]) for k in one)

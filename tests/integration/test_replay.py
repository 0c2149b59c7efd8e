"""`python -m lib replay` on a real sweep (the one `test_sweep.py` runs: two chunk strategies
through the full pipeline, embedded model and local avatar), each strategy predicted from the
other's recorded answers and checked against what was measured; and bad input refused with
what to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from lib.bench.harness import ROOT
from lib.bridge.replay import first_piece_delay_ms
from lib.bridge.replay import replay as replay_answer
from lib.runtime.whatif import recorded_turns
from lib.store.database import Store

pytestmark = pytest.mark.integration


def replay(args: list[str], db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib", "replay", *args],
        cwd=ROOT,
        env={**os.environ, "AVATARLAB_DB": db},
        capture_output=True,
        text=True,
        timeout=60,
    )


def check_replay_of_the_sweep(db: str, experiment_id: str) -> None:
    """`test_sweep.py` ran whole and sentence:20 over a typed and a spoken turn (embedded
    model, local avatar): each is predicted from the other's recorded answers and checked
    against what it measured. (Called from there: a sweep costs real seconds.)"""
    # Replayed through its own strategy, each recorded answer gives back the pieces the bridge
    # cut, ready when the bridge had them (it stamps a piece a moment after its delta came).
    turns = recorded_turns(Store(db), experiment_id)
    assert len(turns) == 4 and all(t.answer is not None for t in turns)
    for t in turns:
        assert t.answer is not None and t.first_piece_ms is not None
        own = replay_answer(t.answer, t.label)
        assert len(own) == t.pieces and len(own[0].text) == t.first_chars
        assert first_piece_delay_ms(t.answer, own) == pytest.approx(t.first_piece_ms, abs=20)

    args = ["--experiment", experiment_id[:8], "--chunking", "whole,sentence:20,chars:30"]
    got = replay([*args, "--json"], db)
    assert got.returncode == 0, got.stderr
    by = {r["strategy"]: r for r in map(json.loads, got.stdout.splitlines())}
    assert list(by) == ["whole", "sentence:20", "chars:30"]
    assert by["whole"]["predicted_from"] == ["sentence:20"]  # never its own turns
    assert by["sentence:20"]["predicted_from"] == ["whole"]
    assert by["chars:30"]["measured"] is None and by["chars:30"]["predicted"]["turns"] == 4
    for name in ("whole", "sentence:20"):
        r = by[name]
        predicted, measured, error = r["predicted"], r["measured"], r["error"]
        assert predicted["turns"] == measured["turns"] == 2, r
        # The embedded model answers the same words to the same question: the same pieces.
        assert predicted["chunks_per_turn"] == measured["chunks_per_turn"], r
        # Across runs the answer's pace itself varies: the embedded model's sleeps slip on a
        # loaded 2-core machine (the same 23 deltas took 579 ms in one run, 679 ms in the
        # next). 100 ms or 25 % covers that; the strategies differ by several times more.
        tolerance = max(100.0, 0.25 * measured["first_piece_ms"])
        assert abs(error["first_piece_ms"]["abs"]) <= tolerance, r
        assert error["first_piece_ms"]["rel"] == pytest.approx(
            error["first_piece_ms"]["abs"] / measured["first_piece_ms"], abs=1e-3
        )
        # End to end also carries the model side (speech end → first delta), which no
        # strategy changes but varies from run to run (transcribing the spoken turn took 0.3 s
        # in one run and 2 s in another). Without it what is left is the first piece and the
        # avatar line fitted on the other strategy's turns. With n=2 a median is a mean, so
        # the parts add up.
        own_part = error["e2e_ms"]["abs"] - error["model_ms"]["abs"]
        assert abs(own_part) <= tolerance + 150, r
    assert by["sentence:20"]["measured"]["chunks_per_turn"] >= 2
    whole, s20 = by["whole"]["predicted"], by["sentence:20"]["predicted"]
    assert s20["first_piece_ms"] < whole["first_piece_ms"]
    table = replay(["--experiment", experiment_id], db)  # the strategies it ran, as a table
    assert table.returncode == 0, table.stderr
    assert "sentence:20  (predicted from whole)" in table.stdout and "error" in table.stdout


def test_bad_input_says_what_to_fix(tmp_path):
    db = str(tmp_path / "lab.db")
    store = Store(db)
    empty = store.insert(
        "experiments", {"name": "nothing said", "created_at": time.time(), "status": "done"}
    )
    conv = store.insert(
        "conversations",
        {
            "brain_provider": "local",
            "bridge": "text",
            "chunking": "whole",
            "experiment_id": empty,
            "requested_at": time.time(),
            "status": "stopped",
        },
    )
    store.insert("turns", {"conversation_id": conv, "seq": 1, "source": "text", "status": "done"})
    cases = [
        (["--experiment", "feedface"], 2, "no experiment 'feedface' in the store; recent ones: "),
        (["--experiment", empty, "--chunking", "sentences:5"], 2, "unknown strategy 'sentences'"),
        (["--experiment", empty, "--chunking", "chars:0"], 2, "between 1 and 2000"),
        (["--experiment", empty[:8]], 1, "has no recorded text deltas of answered turns"),
    ]
    for args, code, says in cases:
        done = replay(args, db)
        assert done.returncode == code and says in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr

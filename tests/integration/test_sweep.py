"""`python -m lib sweep` as a user runs it: a script with a typed and a spoken turn, two chunk
strategies, JSON Lines out, progress on stderr, everything in the store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lib.bench.harness import ROOT
from lib.store.database import Store
from tests.integration.test_analytics_pages import page
from tests.integration.test_replay import check_replay_of_the_sweep

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "speech"


def sweep(
    args: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lib", "sweep", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.media  # its replay check compares timings of two runs: measured alone
@pytest.mark.usefixtures("webrtc_under_apptest")
def test_sweep_runs_text_and_wav_turns_per_strategy_and_stores_everything(
    tmp_path, local_heygen, monkeypatch
):
    shutil.copy(FIXTURES / "piper_hours.wav", tmp_path / "hours.wav")
    script = tmp_path / "script.toml"
    # Two answers of two sentences each; the typed one short (about 3 s spoken).
    script.write_text(
        'persona = "concierge"\n[[turn]]\ntext = "Thank you!"\n[[turn]]\nwav = "hours.wav"\n'
    )
    db = tmp_path / "lab.db"
    env = {"AVATARLAB_DB": str(db), "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url}
    args = ["--chunking", "whole,sentence:20", "--script", str(script), "--repeat", "1"]
    done = sweep([*args, "--ttft-ms", "0", "--tokens-per-s", "60", "--json", "--name", "t"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [r["config"] for r in results] == ["whole", "sentence:20"]
    assert "4/4 turns" in done.stderr and "[####" in done.stderr  # the progress bar
    by = {r["config"]: r for r in results}
    for r in results:
        assert r["n_turns"] == 2 and r["status"] == {"done": 2}, r
        assert r["timing"] == "simulated"
        assert r["stages"]["e2e"]["n"] == 2
        assert r["stages"]["endpointing"]["n"] == 1  # only the spoken turn is committed by VAD
    assert by["whole"]["chunks_per_turn"] == 1
    assert by["sentence:20"]["chunks_per_turn"] >= 2
    assert (
        by["sentence:20"]["stages"]["chunking"]["median_ms"]
        < (by["whole"]["stages"]["chunking"]["median_ms"])
    )

    store = Store(str(db))
    exp = store.frame("SELECT * FROM experiments")
    assert list(exp["status"]) == ["done"] and list(exp["name"]) == ["t"]
    convs = store.frame("SELECT * FROM conversations WHERE experiment_id = ?", (exp["id"][0],))
    assert sorted(convs["chunking"]) == ["sentence:20", "whole"]
    assert set(convs["status"]) == {"stopped"} and convs["brain_session_id"].notna().all()
    turns = store.frame("SELECT * FROM turns")
    assert len(turns) == 4 and set(turns["source"]) == {"text", "voice"}
    spoken = turns[turns["source"] == "voice"]
    assert spoken["user_text"].str.contains("opening hours", case=False).all()
    assert spoken["speech_started_at"].notna().all() and spoken["transcript_at"].notna().all()
    chunks = store.frame("SELECT * FROM chunks")
    assert set(chunks["status"]) == {"done"} and len(chunks) >= 4
    # No avatar session left behind.
    assert set(store.frame("SELECT status FROM avatar_sessions")["status"]) == {"stopped"}
    # Each strategy predicted from the other's recorded answers agrees with what it measured.
    check_replay_of_the_sweep(str(db), str(exp["id"][0]))
    # The Experiments page shows the prediction beside the measured runs.
    monkeypatch.setenv("AVATARLAB_DB", str(db))
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url)
    whatif = page("experiments").dataframe[1].value
    assert list(dict.fromkeys(whatif["config"])) == ["sentence:20", "whole", "clause:12"]
    measured = whatif[whatif["config"] != "clause:12"]
    assert measured["predicted"].notna().all() and measured["measured"].notna().all()
    assert whatif[whatif["config"] == "clause:12"]["measured"].isna().all()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--chunking", "sentences:5"], "unknown strategy"),
        (["--bridge", "video"], "--bridge: use text, audio, listen"),
        (["--repeat", "0"], "--repeat must be between 1 and 100"),
        (["--avatar", "heygen"], "HEYGEN_API_KEY"),
        (["--avatar", "liveavatar-lite", "--bridge", "audio"], "LIVEAVATAR_API_KEY"),
        (
            ["--avatar", "local-liveavatar-lite", "--bridge", "text,audio"],
            "cannot do 'Text → avatar voice' (LITE has no voice of its own",
        ),
        (["--avatar", "local-liveavatar", "--bridge", "audio"], "it can do: Text → avatar voice"),
        (["--brain", "openai"], "OPENAI_API_KEY"),
        (["--script", "/nonexistent.toml"], "no script file"),
    ],
)
def test_bad_arguments_say_what_to_fix(tmp_path, args, says):
    done = sweep(args, {"AVATARLAB_DB": str(tmp_path / "x.db")}, timeout=60)
    assert done.returncode == 2 and says in done.stderr, done.stderr


@pytest.mark.usefixtures("webrtc_under_apptest")
def test_sweep_compares_our_audio_bridge_with_liveavatars_connector(
    tmp_path, local_heygen, monkeypatch
):
    """The same spoken questions through our bridge (the model's audio to LITE) and through
    LiveAvatar's own OpenAI Realtime connector: both recorded, speech end → avatar talking
    measured for each."""
    # A greeting (a short answer) and a question.
    shutil.copy(FIXTURES / "piper_echo.wav", tmp_path / "hello.wav")
    shutil.copy(FIXTURES / "piper_parking.wav", tmp_path / "parking.wav")
    script = tmp_path / "script.toml"
    script.write_text(
        'persona = "concierge"\n[[turn]]\nwav = "hello.wav"\n[[turn]]\nwav = "parking.wav"\n'
    )
    db = tmp_path / "lab.db"
    env = {"AVATARLAB_DB": str(db), "AVATARLAB_LOCAL_HEYGEN_URL": local_heygen.base_url}
    args = ["--avatar", "local-liveavatar-lite", "--bridge", "audio,connector"]
    args += ["--audio-first-ms", "300", "--audio-next-ms", "750", "--script", str(script)]
    done = sweep([*args, "--ttft-ms", "0", "--json"], env)
    assert done.returncode == 0, done.stderr[-3000:]
    by = {r["bridge"]: r for r in map(json.loads, filter(str.strip, done.stdout.splitlines()))}
    assert set(by) == {"audio", "connector"}
    for mode, result in by.items():
        assert result["status"] == {"done": 2}, (mode, result)
        assert result["stages"]["e2e"]["n"] == 2, (mode, result["stages"])
    store = Store(str(db))
    turns = store.frame(
        "SELECT t.*, c.bridge FROM turns t JOIN conversations c ON c.id = t.conversation_id"
    )
    # Our bridge: the model's audio over the LITE socket, a short first piece then longer
    # ones; the avatar spoke each reply about as long as the audio sent for it.
    ours = turns[(turns["bridge"] == "audio") & (turns["source"] == "voice")].set_index("id")
    chunks = store.frame("SELECT * FROM chunks")
    assert set(chunks["kind"]) == {"audio"} and set(chunks["status"]) == {"done"}
    assert set(chunks["turn_id"]) == set(ours.index)  # none for the connector's turns
    first = chunks.sort_values("seq").groupby("turn_id").first()
    assert (first["audio_ms"].round() == 300).all()
    spoken = (ours["avatar_stop_at"] - ours["avatar_start_at"]) * 1000
    ratio = (spoken / chunks.groupby("turn_id")["audio_ms"].sum()).dropna()
    assert len(ratio) == 2 and ratio.between(0.8, 1.2).all(), ratio
    # The connector: nothing of ours is spoken; the room's events make the turns.
    vendor = turns[(turns["bridge"] == "connector") & (turns["source"] == "voice")]
    assert vendor["user_text"].str.lower().str.contains("hear me|park").all()
    assert vendor["assistant_text"].str.len().gt(0).all()
    sessions = store.frame("SELECT status FROM avatar_sessions")
    assert set(sessions["status"]) == {"stopped"}
    # The Experiments page shows the two side by side, speech end → avatar talking for each.
    monkeypatch.setenv("AVATARLAB_DB", str(db))
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url)
    table = page("experiments").dataframe[0].value
    rows = [str(i) for i in table.index]
    assert (
        len(rows) == 2 and any("connector" in r for r in rows) and any("audio" in r for r in rows)
    )
    assert table["e2e"].notna().all() and all("n=2" in str(v) for v in table["e2e"]), table

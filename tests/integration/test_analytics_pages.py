"""The Latency, Costs, Sessions and Experiments pages through AppTest, against a seeded store;
and `python -m lib report`."""

from __future__ import annotations

import base64
import getpass
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lib.bench.harness import ROOT
from lib.bench.seed_store import seed
from lib.metrics.analytics import latency_page_data
from lib.metrics.pricing.versions import load_tables
from lib.store.database import Store, open_store
from tests.integration.test_pages import shutdown

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("webrtc_under_apptest")]


@pytest.fixture
def seeded(tmp_path, monkeypatch, local_heygen):
    monkeypatch.setenv(
        "AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url
    )  # the Studio opens first
    db = tmp_path / "avatarlab.db"
    monkeypatch.setenv("AVATARLAB_DB", str(db))
    monkeypatch.setenv("AVATARLAB_PRICING_DIR", str(tmp_path / "pricing"))
    counts = seed(Store(str(db)), sessions=30, turns=300)
    return db, counts


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    shutdown(at)  # the Studio's runner: not needed here
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def values(arr) -> np.ndarray:
    """A plotly array from the figure's JSON: a list, or typed base64 (`bdata`)."""
    if isinstance(arr, dict) and "bdata" in arr:
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=np.dtype(arr["dtype"]))
    return np.asarray(arr)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_latency_page_shows_the_seeded_numbers(seeded):
    at = page("latency")
    store = open_store()
    data = latency_page_data(store, load_tables(store))
    m = metrics(at)
    assert m["Sessions"] == "30" and m["Turns"] == "300"
    assert m["Interrupted"] == f"{data.kpis['interruption_rate']:.0%}"
    p50 = data.kpis["e2e_p50_ms"]
    assert m["Median end to end"] == (f"{p50 / 1000:.2f} s" if p50 >= 1000 else f"{p50:.0f} ms")
    specs = charts(at)
    assert len(specs) == 4  # e2e per turn, ECDF, strategy, session waterfall
    e2e = specs[0]
    assert sum(values(t["y"]).size for t in e2e["data"] if "y" in t) == data.kpis["e2e_n"]
    assert {s["type"] for s in e2e["layout"]["shapes"]} == {"rect"}  # the target bands
    table = at.dataframe[0].value
    assert list(table["n"]) == list(data.percentiles["n"])
    assert any("simulated" in str(c.value) for c in at.caption)


def test_latency_percentiles_are_hidden_for_small_n_and_filters_apply(seeded):
    at = page("latency")
    next(m for m in at.multiselect if m.label == "Chunk strategy").set_value(["whole"]).run()
    assert not at.exception
    n = int(metrics(at)["Turns"])
    assert 0 < n < 300
    table = at.dataframe[0].value
    e2e = table[table["stage"] == "end to end"].iloc[0]
    assert e2e["p99"] == "— (n < 100)"  # far fewer than 100 turns of `whole`
    assert e2e["p50"] != "—"


def test_experiment_in_the_url_preselects_the_filter(seeded):
    exp = open_store().frame("SELECT id FROM experiments ORDER BY created_at DESC")["id"][0]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.query_params["experiment"] = exp
    at.switch_page("pages/latency.py").run()
    assert not at.exception
    assert next(s for s in at.selectbox if s.label == "Experiment").value == exp
    convs = open_store().frame(
        "SELECT COUNT(*) AS n FROM conversations WHERE experiment_id = ?", (exp,)
    )
    assert metrics(at)["Sessions"] == str(convs["n"][0])


def test_costs_page_prices_sessions_projects_a_month_and_edits_tables(seeded):
    at = page("costs")
    m = metrics(at)
    assert m["Sessions"] == "30" and m["Estimated cost"].startswith("$")
    specs = charts(at)
    assert len(specs) == 3
    stacked = specs[0]
    assert stacked["layout"]["barmode"] == "stack"
    assert "avatar streaming" in {t["name"] for t in stacked["data"]}
    assert any("a month" in str(md.value) and "Scale" in str(md.value) for md in at.markdown)
    # A malformed edit is refused with the line and field; a good one is saved as a version.
    editor = next(t for t in at.text_area if t.label == "TOML")
    editor.set_value(editor.value.replace("credits_per_minute = 0.1", "credits_per_minute = -3"))
    at.button[-1].click().run()
    errors = [str(e.value) for e in at.error]
    assert any("Not saved" in e and "line" in e and "credits_per_minute" in e for e in errors), (
        errors
    )
    editor = next(t for t in at.text_area if t.label == "TOML")
    editor.set_value(
        editor.value.replace("credits_per_minute = -3", "credits_per_minute = 0.1").replace(
            "version = 1", "version = 2"
        )
    )
    at.button[-1].click().run()
    assert any("Saved list-2024-10 version 2" in str(s.value) for s in at.success)
    saved = open_store().frame("SELECT name, version, created_by FROM pricing_tables")
    assert saved.to_dict("records") == [
        {"name": "list-2024-10", "version": 2, "created_by": getpass.getuser()}
    ]
    # Saving the same version again is refused with who saved it; the versions list says so.
    at.button[-1].click().run()
    errors = [str(e.value) for e in at.error]
    assert any(
        f"version 2 of list-2024-10 is already saved by {getpass.getuser()}" in e for e in errors
    ), errors
    versions = next(d.value for d in at.dataframe if "saved by" in d.value.columns)
    assert list(versions["version"]) == [1, 2]
    assert list(versions["saved by"]) == ["built in", getpass.getuser()]
    assert list(versions["in use"]) == [False, True]


def test_sessions_page_searches_shows_the_transcript_and_deletes(seeded):
    at = page("sessions")
    assert len(at.dataframe[0].value) == 30
    store = open_store()
    expected = store.frame(
        "SELECT DISTINCT conversation_id FROM turns"
        " WHERE lower(assistant_text) LIKE '%parking garage%'"
    )
    at.text_input[0].input("Parking Garage").run()
    assert set(at.dataframe[0].value["id"]) == set(expected["conversation_id"])
    one = store.frame("SELECT id FROM conversations")["id"][3]
    at.text_input[0].input(one[:10]).run()
    assert list(at.dataframe[0].value["id"]) == [one]
    transcript = at.dataframe[1].value
    assert {"user", "concierge"} <= set(transcript["who"])
    assert transcript["turn"].is_monotonic_increasing
    spoken = transcript[transcript["who"] != "user"].dropna(subset=["started_s"])
    assert (spoken["started_s"] >= spoken["at_s"]).all()  # said after it was sent
    labels = [b.label for b in at.get("download_button")]
    assert {"sessions · CSV", "sessions · PARQUET"} <= set(labels)
    chosen = next(s for s in at.selectbox if s.label == "Open").value
    at.checkbox[0].check()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert store.get("conversations", chosen) is None
    assert (
        store.frame("SELECT COUNT(*) AS n FROM turns WHERE conversation_id = ?", (chosen,))["n"][0]
        == 0
    )
    assert store.frame("SELECT COUNT(*) AS n FROM conversations")["n"][0] == 29


def test_the_people_filter_narrows_sessions_latency_and_costs(seeded):
    store = open_store()
    ids = store.frame("SELECT id FROM conversations ORDER BY requested_at")["id"].tolist()
    for cid in ids[:10]:  # the rest stay as older data: no creator recorded
        store.update("conversations", cid, {"created_by": "ana@example.com"})
    people = lambda at: next(m for m in at.multiselect if m.label == "People")  # noqa: E731

    at = page("sessions")
    assert people(at).options == ["ana@example.com", "(unknown)"]
    people(at).set_value(["ana@example.com"]).run()
    shown = at.dataframe[0].value
    assert set(shown["id"]) == set(ids[:10]) and set(shown["person"]) == {"ana@example.com"}
    people(at).set_value([""]).run()  # "(unknown)": the rows with no creator
    shown = at.dataframe[0].value
    assert set(shown["id"]) == set(ids[10:]) and set(shown["person"]) == {"(unknown)"}

    at = page("latency")
    people(at).set_value(["ana@example.com"]).run()
    assert not at.exception
    assert metrics(at)["Sessions"] == "10"

    at = page("costs")
    people(at).set_value([""]).run()
    assert metrics(at)["Sessions"] == "20"
    per_session = at.dataframe[0].value
    assert set(per_session["person"]) == {"(unknown)"}


def test_experiments_page_compares_and_links_into_latency(seeded):
    from lib.metrics.analytics import turns_frame
    from lib.metrics.compare import compare_table
    from lib.store.queries import Filters

    at = page("experiments")
    table = at.dataframe[0].value
    assert "e2e" in table.columns and all("n=" in str(v) for v in table["e2e"].dropna())
    links = [p for p in at.get("page_link")]
    assert links and "experiment=" in str(links[0].proto)
    # The bars are the median's confidence interval, n on each; the table exports as such.
    exp = next(s for s in at.selectbox if s.label == "Experiment").value
    want = compare_table(turns_frame(open_store(), Filters(experiment=exp)), ("e2e",))
    bars = next(t for t in charts(at)[0]["data"] if t["name"] == "end to end")
    assert list(values(bars["y"])) == pytest.approx(list(want["median_ms"]))
    upper = values(bars["error_y"]["array"]) + values(bars["y"])
    assert list(upper) == pytest.approx(list(want["median_hi_ms"]))
    assert list(bars["text"]) == [f"n={n}" for n in want["n"]]
    assert "95 % CI of the median" in charts(at)[0]["layout"]["yaxis"]["title"]["text"]
    buttons = [b.label for b in at.get("download_button")]
    assert buttons == [f"Comparison table · {f}" for f in ("CSV", "JSON", "PARQUET")]
    said = " ".join(str(m.value) for m in at.markdown)
    assert "is faster than" in said or "no difference is significant" in said.lower(), said
    assert any("Holm" in str(c.value) for c in at.caption)
    # The seeded store has no answers' text deltas: the what-if says so.
    assert any("Nothing to replay" in str(i.value) for i in at.info)


def test_report_prints_one_summary_per_session_with_cost(seeded):
    db, counts = seeded
    done = subprocess.run(
        [sys.executable, "-m", "lib", "report", "--json"],
        cwd=ROOT,
        env={**os.environ, "AVATARLAB_DB": str(db)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == counts["conversations"]
    assert sum(r["turns"] for r in rows) == counts["turns"]
    for r in rows:
        assert r["total_usd"] == pytest.approx(sum(r["cost_usd"].values()), abs=1e-4)
        assert r["pricing"] == "list-2026-11" and r["median_ms"]


def test_a_sweep_runs_from_the_page_in_the_background_and_cancels_from_it(
    tmp_path, monkeypatch, local_heygen
):
    from lib.emulators.launcher import start_emulator

    emu = start_emulator("realtime", "--ttft-ms", "0", "--tokens-per-s", "0")
    try:
        monkeypatch.setenv("AVATARLAB_DB", str(tmp_path / "lab.db"))
        monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url)
        monkeypatch.setenv("AVATARLAB_LOCAL_REALTIME_URL", emu.base_url)
        at = page("experiments")
        assert any("No experiments yet" in str(i.value) for i in at.info)
        next(m for m in at.multiselect if m.label == "Chunk strategies").set_value(["whole"])
        next(n for n in at.number_input if n.label == "Repeats").set_value(1)
        next(t for t in at.text_input if t.label == "Name").input("from the page").run()
        assert any("1 configurations × 1 runs × 4 turns" in str(c.value) for c in at.caption)
        next(b for b in at.button if b.label == "Run sweep").click().run()
        store = open_store()

        def done_turns() -> int:
            return len(store.frame("SELECT id FROM turns WHERE status = 'done'"))

        deadline = time.monotonic() + 120
        while done_turns() < 2:  # two of the four played: then cancelled from the page
            assert time.monotonic() < deadline, "the sweep did not play two turns"
            time.sleep(0.2)
        at.run()
        next(b for b in at.button if b.label == "Cancel sweep").click().run()
        deadline = time.monotonic() + 60
        while (status := store.frame("SELECT status FROM experiments")["status"][0]) in (
            "queued",
            "running",
            "cancelling",  # until the turn being played has finished
        ):
            assert time.monotonic() < deadline, "the sweep did not stop"
            time.sleep(0.2)
        assert status == "cancelled"
        for _ in range(20):  # the job says so once its summary is read back from the store
            at.run()
            if any("cancelled" in str(w.value) for w in at.warning):
                break
            time.sleep(0.25)
        else:
            raise AssertionError([str(w.value) for w in at.warning])
        assert 2 <= done_turns() < 4  # what ran is kept; the rest never played
        n = len(
            store.frame(  # the turn cut by the cancel counts where the avatar had started it
                "SELECT id FROM turns WHERE speech_end_at IS NOT NULL "
                "AND avatar_start_at IS NOT NULL"
            )
        )
        table = at.dataframe[0].value
        assert list(table.index) == ["text · whole"] and f"n={n}" in str(table["e2e"].iloc[0])
        assert set(store.frame("SELECT status FROM avatar_sessions")["status"]) == {"stopped"}
    finally:
        emu.stop()


def test_turn_costs_add_up_to_the_session(seeded):
    from lib.metrics.analytics import COST_COMPONENTS, session_costs, turn_costs

    store = open_store()
    tables = load_tables(store)
    costs = session_costs(store, tables)
    row = costs.iloc[5]
    per_turn = turn_costs(store, tables, row["conversation_id"])
    assert len(per_turn) == row["turns"]
    model = sum(row[c] for c in COST_COMPONENTS if c.startswith("model_"))
    assert per_turn["model_usd"].sum() == pytest.approx(model)
    assert per_turn["avatar_usd"].sum() == pytest.approx(row["avatar"])
    assert (per_turn["avatar_usd"] > 0).all()

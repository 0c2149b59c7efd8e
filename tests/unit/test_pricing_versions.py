"""Saved pricing table versions in the store, on SQLite and PostgreSQL: saved and loaded with who
saved them, the highest version in use, a version that exists refused (also when instances
race for it), and the tables an older app saved as files imported once."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

import pytest

from lib.metrics.pricing.tables import BUILTIN_DIR, PricingError
from lib.metrics.pricing.versions import load_tables, save_table, table_versions
from lib.store.database import Store

BASE = (BUILTIN_DIR / "list-2024-10.toml").read_text()


def edited(version: int, audio_out: float = 180.0) -> str:
    """The built-in table as someone edited it: gpt-realtime's audio out price, the version."""
    raw = BASE.replace("version = 1", f"version = {version}", 1)
    return raw.replace("audio_out = 200.00", f"audio_out = {audio_out:.2f}", 1)


@pytest.fixture
def store(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("AVATARLAB_PRICING_DIR", str(tmp_path / "no-legacy-folder"))
    s = Store(db_url)
    yield s
    s.close()


def test_a_saved_version_loads_with_its_prices_and_who_saved_it(store):
    assert "audio_out = 200.00" in BASE  # the edit below changes a real price
    before = load_tables(store)["list-2024-10"]
    saved = save_table(store, edited(2, audio_out=70.0), created_by="alice")
    assert saved.version == 2 and saved.saved_by == "alice"
    table = load_tables(store)["list-2024-10"]
    assert table.version == 2 and table.saved_by == "alice"
    assert table.realtime["gpt-realtime"].audio_out == 70.0
    assert before.realtime["gpt-realtime"].audio_out == 200.0
    assert table.raw == edited(2, audio_out=70.0)
    listed = table_versions(store, "list-2024-10")
    assert [(v.version, v.saved_by) for v in listed] == [(1, None), (2, "alice")]


def test_the_highest_version_of_a_name_is_the_one_in_use(store):
    for version in (5, 2, 3):
        save_table(store, edited(version, audio_out=60.0 + version), created_by="bob")
    table = load_tables(store)["list-2024-10"]
    assert table.version == 5 and table.realtime["gpt-realtime"].audio_out == 65.0
    assert [v.version for v in table_versions(store, "list-2024-10")] == [1, 2, 3, 5]
    assert load_tables(store)["list-2026-11"].saved_by is None  # untouched: built in


def test_a_version_that_exists_is_refused_saying_by_whom_and_when(store):
    save_table(store, edited(2, audio_out=70.0), created_by="alice")
    with pytest.raises(PricingError) as info:
        save_table(store, edited(2, audio_out=50.0), created_by="bob")
    day = datetime.now().strftime("%Y-%m-%d")
    message = str(info.value)
    assert message.startswith(f"version 2 of list-2024-10 is already saved by alice on {day}")
    assert message.endswith(": raise `version`")
    assert store.count("pricing_tables") == 1
    assert load_tables(store)["list-2024-10"].realtime["gpt-realtime"].audio_out == 70.0
    with pytest.raises(PricingError, match=r"version 1 of list-2024-10 is built in: raise"):
        save_table(store, edited(1), created_by="bob")
    with pytest.raises(PricingError, match="edited table"):
        save_table(store, "name = 3", created_by="bob")
    assert store.count("pricing_tables") == 1


def test_instances_saving_the_same_version_at_once_write_one_row(db_url):
    """Eight instances (a Store each: their own connections) save version 2 together."""
    stores = [Store(db_url) for _ in range(8)]
    start = threading.Barrier(len(stores))
    won: list[str] = []
    refused: list[str] = []

    def save(n: int) -> None:
        start.wait()
        try:
            save_table(stores[n], edited(2, audio_out=60.0 + n), created_by=f"instance {n}")
            won.append(f"instance {n}")
        except PricingError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=save, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert len(won) == 1 and len(refused) == len(stores) - 1, (won, refused)
        assert all(f"already saved by {won[0]} on" in r for r in refused), refused
        assert stores[0].count("pricing_tables") == 1
        assert load_tables(stores[0])["list-2024-10"].saved_by == won[0]
    finally:
        for s in stores:
            s.close()


def test_tables_an_older_app_saved_as_files_are_imported_once(store, tmp_path, caplog):
    folder = tmp_path / "pricing"
    folder.mkdir()
    (folder / "list-2024-10.v2.toml").write_text(edited(2, audio_out=75.0))
    (folder / "list-2024-10.v1.toml").write_text(BASE)  # the built-in's version: never used
    (folder / "broken.toml").write_text("name = 3\n")
    caplog.set_level(logging.INFO, logger="lib.metrics.pricing.versions")

    table = load_tables(store, legacy=folder)["list-2024-10"]
    assert table.version == 2 and table.realtime["gpt-realtime"].audio_out == 75.0
    assert table.saved_by == f"imported from {folder}"
    assert store.count("pricing_tables") == 1
    said = [r.getMessage() for r in caplog.records]
    assert sum("imported 1 pricing table" in m for m in said) == 1, said
    assert any("broken.toml not imported" in m for m in said), said

    caplog.clear()
    again = Store(store.path)  # another instance on the same database, the same folder
    try:
        assert load_tables(again, legacy=folder)["list-2024-10"].version == 2
    finally:
        again.close()
    assert store.count("pricing_tables") == 1
    assert not any("imported" in r.getMessage() for r in caplog.records)
    # A file whose version is saved already (here, differently) leaves the saved one alone.
    (folder / "list-2024-10.v2.toml").write_text(edited(2, audio_out=10.0))
    kept = load_tables(store, legacy=folder)["list-2024-10"]
    assert kept.realtime["gpt-realtime"].audio_out == 75.0

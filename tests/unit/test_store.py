import sqlite3
import time

import pytest

from lib.store.database import Store, StoreError


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def test_roundtrip_and_update(store):
    t0 = time.time()
    sid = store.insert(
        "avatar_sessions", {"provider": "local", "requested_at": t0, "status": "starting"}
    )
    store.update("avatar_sessions", sid, {"status": "live", "started_at": t0 + 0.4})
    row = store.get("avatar_sessions", sid)
    assert row["status"] == "live" and row["started_at"] - row["requested_at"] == pytest.approx(0.4)
    store.add_event(sid, "avatar_start_talking", t0 + 1, payload={"task_id": "t1"})
    store.add_event(sid, "avatar_stop_talking", t0 + 2, payload={"task_id": "t1"})
    events = store.events(sid)
    assert list(events["kind"]) == ["avatar_start_talking", "avatar_stop_talking"]
    assert store.sessions().shape[0] == 1


def test_unknown_columns_are_refused(store):
    with pytest.raises(ValueError, match="unknown columns"):
        store.insert(
            "avatar_sessions",
            {"provider": "x", "requested_at": 0, "status": "s", "api_key": "nope"},
        )


def test_wal_mode_and_persistence(tmp_path):
    path = str(tmp_path / "lab.db")
    s = Store(path)
    sid = s.insert("avatar_sessions", {"provider": "local", "requested_at": 1.0, "status": "x"})
    s.close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert Store(path).get("avatar_sessions", sid)["provider"] == "local"


def test_corrupt_file_gives_a_message_that_says_what_to_do(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="AVATARLAB_DB"):
        Store(str(path))


def test_a_corrupt_file_says_what_to_do(tmp_path):
    bad = tmp_path / "avatarlab.db"
    bad.write_bytes(b"this is not a database " * 100)
    with pytest.raises(StoreError, match="Move the file aside or set AVATARLAB_DB"):
        Store(str(bad))


def test_a_locked_database_says_so_and_loses_nothing_already_written(tmp_path):
    import sqlite3

    path = str(tmp_path / "lab.db")
    store = Store(path, timeout=0.2)
    kept = store.insert("experiments", {"name": "before", "created_at": 1.0, "status": "done"})
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        with pytest.raises(StoreError, match="locked by another program"):
            store.insert("experiments", {"name": "during", "created_at": 2.0, "status": "done"})
    finally:
        holder.rollback()
        holder.close()
    store.insert("experiments", {"name": "after", "created_at": 3.0, "status": "done"})
    names = list(store.frame("SELECT name FROM experiments ORDER BY created_at")["name"])
    assert names == ["before", "after"] and store.get("experiments", kept) is not None

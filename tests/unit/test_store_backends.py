"""The store on both backends: one schema from the migrations, every query runnable on each,
an older app's file migrated without losing a row, and a lab moved from SQLite to PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from lib.store import queries
from lib.store.copy import CopyError, copy_lab
from lib.store.database import Store
from lib.store.migrate import HEAD, SCRIPTS


def _seed(store: Store) -> dict[str, str]:
    """A conversation of two turns (pieces, notes, sessions), an experiment and a Studio session."""
    t0 = time.time()
    exp = store.insert("experiments", {"name": "e", "created_at": t0, "status": "done"})
    brain = store.insert(
        "brain_sessions", {"provider": "local", "started_at": t0, "status": "stopped"}
    )
    conv = store.insert(
        "conversations",
        {
            "brain_provider": "local",
            "brain_session_id": brain,
            "avatar_provider": "local",
            "bridge": "text",
            "chunking": "sentence:20",
            "timing": "measured",
            "experiment_id": exp,
            "requested_at": t0,
            "status": "stopped",
        },
    )
    avatar = store.insert(
        "avatar_sessions",
        {
            "provider": "local",
            "remote_session_id": "r1",
            "requested_at": t0,
            "first_frame_at": t0 + 0.25,
            "started_at": t0 + 0.2,
            "status": "stopped",
            "conversation_id": conv,
        },
    )
    for seq, (said, answer) in enumerate(
        [("What are the PRICES?", "Ten dollars, 50% off."), ("Where do I park?", "Level two.")], 1
    ):
        turn = store.insert(
            "turns",
            {
                "conversation_id": conv,
                "seq": seq,
                "source": "text",
                "user_text": said,
                "assistant_text": answer,
                "first_delta_at": t0 + seq,
                "avatar_start_at": t0 + seq + 0.5,
                "chunks": 1,
                "status": "done",
            },
        )
        store.insert(
            "chunks",
            {
                "turn_id": turn,
                "seq": 1,
                "kind": "text",
                "text": answer,
                "chars": len(answer),
                "ready_at": t0 + seq + 0.1,
                "sent_at": t0 + seq + 0.2,
                "status": "done",
            },
        )
    store.insert("conversation_events", {"conversation_id": conv, "kind": "x", "at": t0})
    store.insert("avatar_sessions", {"provider": "heygen", "requested_at": t0, "status": "live"})
    return {"experiment": exp, "conversation": conv, "avatar": avatar, "brain": brain}


def test_the_migrations_head_is_the_stores_and_both_backends_get_one_schema(pg, tmp_path):
    scripts = ScriptDirectory.from_config(_config())
    assert scripts.get_heads() == [HEAD]
    lite, post = Store(str(tmp_path / "lab.db")), Store(pg.new_database())
    assert {t: lite.table_columns(t) for t in lite.tables()} == {
        t: post.table_columns(t) for t in post.tables()
    }
    assert {"instances", "sweep_jobs", "pricing_tables"} <= set(post.tables())


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    return cfg


def test_every_query_gives_the_same_answer_on_both_backends(pg, tmp_path):
    answers = []
    for target in (str(tmp_path / "lab.db"), pg.new_database()):
        store = Store(target)
        ids = _seed(store)
        conv, exp = ids["conversation"], ids["experiment"]
        summary = queries.conversation_summaries(store)
        answers.append(
            {
                "summary": summary[["turns", "first_words"]].to_dict("records"),
                "saying": list(queries.conversations_saying(store, "50% off")) == [conv],
                "nothing_said": list(queries.conversations_saying(store, "zebra")),
                "turns": len(queries.turns_with_config(store, queries.Filters(bridges=("text",)))),
                "startup": [round(x) for x in queries.avatar_startup_ms(store)],
                "chunks": list(queries.conversation_chunks(store, conv)["turn_seq"]),
                "first_sent": len(queries.first_piece_sent(store, [conv])),
                "no_ids": len(queries.user_turns(store, [])),
                "runs": queries.experiment_runs(store, exp) == {"sentence:20": [conv]},
                "completed": queries.completed_runs(store, exp),
                "replay": len(queries.replay_turns(store, exp)),
                "studio": list(queries.studio_sessions(store)["tasks"]),
                "open": queries.open_avatar_session_count(store),
                "empty": queries.recorded_nothing(store),
                "span": queries.conversation_span(store)[0] is not None,
            }
        )
        store.close()
    lite, post = answers
    assert lite == post
    assert lite["saying"] and lite["nothing_said"] == []
    assert lite["summary"] == [{"turns": 2, "first_words": "What are the PRICES?"}]
    assert lite["startup"] == [250] and lite["no_ids"] == 0 and lite["open"] == 1


def test_an_older_apps_file_is_migrated_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # what version 2 of the app left: no owner columns
        old.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        old.execute("INSERT INTO schema_version VALUES (2)")
        old.execute(
            "CREATE TABLE experiments (id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT, "
            "created_at DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION, "
            "status TEXT NOT NULL, error TEXT)"
        )
        old.execute("INSERT INTO experiments VALUES ('e1', 'kept', NULL, 1.0, 2.0, 'done', NULL)")
    store = Store(str(path))
    row = store.get("experiments", "e1")
    assert row is not None and row["name"] == "kept" and row["owner"] is None
    assert "created_by" in store.table_columns("experiments")
    with store.transaction() as tx:
        assert tx.rows("SELECT version_num FROM alembic_version") == [(HEAD,)]
    assert "schema_version" not in store.tables()


def test_a_lab_moves_to_postgresql_counted_and_verified(pg, tmp_path):
    source = str(tmp_path / "lab.db")
    ids = _seed(Store(source))
    target = pg.new_database()
    out = subprocess.run(
        [sys.executable, "-m", "lib", "db", "copy", "--from", source, "--to", target, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    copied = json.loads(out.stdout)
    assert copied["turns"]["rows"] == 2 and copied["chunks"]["rows"] == 2
    assert copied["avatar_sessions"]["rows"] == 2
    moved = Store(target)
    assert moved.get("conversations", ids["conversation"])["chunking"] == "sentence:20"
    assert queries.conversation_summaries(moved)["turns"].tolist() == [2]
    with pytest.raises(CopyError, match="already holds rows"):  # never onto a lab in use
        copy_lab(Store(source), moved)
    again = subprocess.run(
        [sys.executable, "-m", "lib", "db", "copy", "--from", source, "--to", target],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "already holds rows" in again.stderr


def test_migrate_says_where_it_took_the_database_and_an_unreachable_one_what_to_check(tmp_path):
    path = str(tmp_path / "lab.db")
    first = subprocess.run(
        [sys.executable, "-m", "lib", "db", "migrate", "--db", path],
        capture_output=True,
        text=True,
        check=True,
    )
    assert first.stdout.strip().endswith(f"empty → {HEAD}")
    again = subprocess.run(
        [sys.executable, "-m", "lib", "db", "migrate", "--db", path],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"already at {HEAD}" in again.stdout
    nowhere = subprocess.run(
        [
            sys.executable,
            "-m",
            "lib",
            "db",
            "migrate",
            "--db",
            "postgresql://lab:secret@127.0.0.1:1/x",
        ],
        capture_output=True,
        text=True,
    )
    assert nowhere.returncode == 1 and "is PostgreSQL running there?" in nowhere.stderr
    assert "secret" not in nowhere.stderr  # the password is never printed

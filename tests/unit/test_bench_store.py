"""`bench store`, run tiny on both backends so it cannot rot: every write of its turns reaches
the database (counted there by the test), its figures come from them, and the Latency page's
store work runs on each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from lib.bench.store import CONCURRENCY, RECORDED, bench_backend, run, voice_turn
from lib.cli.bench import main
from lib.store.database import Store

PIECES = 3  # the answer at sentence:20
# A spoken turn: the turn's row, its pieces, every server event of the model (none of them
# audio), a task per piece, and its start and stop talking.
INSERTS = {
    "turns": 1,
    "chunks": PIECES,
    "brain_events": len(voice_turn(1)),
    "avatar_tasks": PIECES,
    "avatar_events": 2 * PIECES,
}
# The turn: item and response ids, user and assistant text, usage, 9 stage stamps (speech
# end, committed, transcript, response created, first delta, first piece sent, avatar start,
# response done, avatar stop), the close. Each piece: sent, started, ended; its task:
# accepted, speaking, done.
UPDATES = {"turns": 15, "chunks": 3 * PIECES, "avatar_tasks": 3 * PIECES}
STEPS = {"pricing_tables", "filter_bar", "latency_page_data", "turn_costs"}


@pytest.fixture(autouse=True)
def _no_legacy_pricing(tmp_path, monkeypatch):
    monkeypatch.setenv("AVATARLAB_PRICING_DIR", str(tmp_path / "no-legacy-folder"))


def _tiny(new_database: Callable[[], str], said: list[str]) -> dict:
    return bench_backend(
        new_database,
        seconds=30,  # capped by `turns`, not by time
        repeat=1,
        progress=said.append,
        turns=2,
        page_turns=60,
        page_sessions=6,
    )


def _counts(store: Store, sql: str) -> dict[str, int]:
    frame = store.frame(sql)
    return {str(k): int(n) for k, n in zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True)}


def test_every_write_of_the_turns_is_in_the_database(db_url, tmp_path, request):
    def page_database() -> str:
        if db_url.startswith("postgresql"):
            return str(request.getfixturevalue("pg").new_database())
        return str(tmp_path / "page.db")

    makers: Iterator[Callable[[], str]] = iter((lambda: db_url, page_database))
    said: list[str] = []
    result = _tiny(lambda: next(makers)(), said)

    assert result["per_turn"] == {
        "inserts": INSERTS,
        "updates": UPDATES,
        "writes": sum(INSERTS.values()) + sum(UPDATES.values()),
    }
    rows = result["writes"]
    assert [r["conversations"] for r in rows] == list(CONCURRENCY)
    for r in rows:
        assert r["runs"] == 1 and r["turns"] == 2 * r["conversations"]
        assert r["rows"] == {t: INSERTS[t] * r["turns"] for t in RECORDED}
        assert r["writes_per_s"] > r["rows_per_s"] > r["turns_per_s"] > 0
        assert 0 < r["write_p50_ms"] <= r["write_p99_ms"]
        assert 0 < r["in_store_share"] < 1
    turns = sum(r["turns"] for r in rows)
    conversations = sum(CONCURRENCY)

    store = Store(db_url)  # what the database holds, read on its own connection
    try:
        assert _counts(store, "SELECT status, COUNT(*) FROM turns GROUP BY status") == {
            "done": turns
        }
        assert _counts(store, "SELECT status, COUNT(*) FROM chunks GROUP BY status") == {
            "done": PIECES * turns
        }
        assert _counts(store, "SELECT status, COUNT(*) FROM avatar_tasks GROUP BY status") == {
            "done": PIECES * turns
        }
        assert _counts(store, "SELECT kind, COUNT(*) FROM avatar_events GROUP BY kind") == {
            "avatar_start_talking": PIECES * turns,
            "avatar_stop_talking": PIECES * turns,
            "session_started": conversations,  # each conversation's start, not timed
        }
        assert store.count("brain_events") == len(voice_turn(1)) * turns
        assert store.count("conversations") == conversations
        done = store.frame("SELECT COUNT(*) AS n FROM turns WHERE avatar_stop_at IS NOT NULL")
        assert int(done["n"].iloc[0]) == turns
    finally:
        store.close()

    page = result["latency_page"]
    assert page["rows"]["turns"] == 60 and page["turns_prepared"] == 60
    assert page["sessions_costed"] == 6 and page["runs"] == 3
    assert set(page["page_steps_s_median"]) == STEPS
    assert 0 < page["prepare_s_median"] <= page["page_s_median"]
    label = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    assert any(line.startswith(f"{label}, 8 conversation(s), run 1:") for line in said), said


def test_the_bench_on_both_backends_drops_the_databases_it_made(pg):
    def databases() -> int:
        with psycopg.connect(pg.url(), autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_database").fetchone()
            assert row is not None
            return int(row[0])

    before = databases()
    result = run(
        seconds=30,
        repeat=1,
        progress=lambda _: None,
        db_url=pg.url(),
        turns=1,
        page_turns=20,
        page_sessions=2,
    )
    assert set(result) == {"turn", "seconds_per_run", "per_turn", "sqlite", "postgresql"}
    assert result["per_turn"]["inserts"] == INSERTS
    for backend in ("sqlite", "postgresql"):
        assert set(result[backend]) == {"writes", "latency_page", "database"}
        assert [r["turns"] for r in result[backend]["writes"]] == list(CONCURRENCY)
        assert result[backend]["latency_page"]["turns_prepared"] == 20
    assert result["postgresql"]["database"] == pg.url()
    assert databases() == before


def test_the_command_refuses_a_db_url_it_cannot_use(tmp_path, capsys):
    assert main(["store", "--db-url", str(tmp_path / "lab.db")]) == 1  # before any bench runs
    assert "give a postgresql://" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["analytics", "--db-url", "postgresql://lab@127.0.0.1/lab"])
    assert "analytics takes no --db-url" in capsys.readouterr().err

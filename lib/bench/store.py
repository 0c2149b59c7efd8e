"""`python -m lib bench store --json [--db-url URL]`: the store under the app's recording load,
on SQLite (a temp file) and on PostgreSQL (a throwaway local server, or throwaway databases
created on the server `--db-url` names and dropped after).

Writes: 1 and 8 conversations at once (a thread each, sharing one Store as a process's
conversations do), each holding spoken turns back to back through the app's own recording
code: the Realtime events parsed and recorded (`brain_events`), fed to the real Bridge (the
turn's stamps, its pieces and their updates), and the avatar's side of each piece as the
runner records it (`avatar_tasks`, `avatar_events`). Writes per second (each write one
statement in its own transaction, as the app commits them), rows per second, one write's
p50 / p99 (lock waits included) and the share of the conversations' time spent in the store;
medians of `--repeat` runs of `--seconds`. Every run's rows are counted in the
database. Then the Latency page's store work for 10,000 seeded turns on each backend
(lib.bench.analytics).
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal

from lib.avatar.base import (
    AvatarEvent,
    Emotion,
    SessionOptions,
    SpeakResult,
    StartTalking,
    StopTalking,
)
from lib.bench.analytics import SESSIONS, TURNS, measure_page_data
from lib.bench.pg_server import pg_server
from lib.brain.events import parse
from lib.brain.record import record_event
from lib.bridge.agents import agents_for
from lib.bridge.bridge import Bridge
from lib.bridge.config import BridgeConfig
from lib.bridge.ports import TaskNote
from lib.bridge.timeline import Timeline
from lib.runtime.avatar_record import AvatarRecord
from lib.store.database import Store
from lib.store.engine import StoreError, dialect_of, shown

CONCURRENCY: Final = (1, 8)
STRATEGY: Final = "sentence:20"
# The tables a turn writes rows to (a typical turn: no tool call, handoff or barge-in).
RECORDED: Final = ("turns", "chunks", "brain_events", "avatar_tasks", "avatar_events")
QUESTION: Final = "How much does the premium plan cost?"
ANSWER: Final = (  # three pieces at sentence:20
    "The Basic plan is free. Premium is 19 dollars a month, and Team is 49 dollars a month "
    "for up to five people. Every paid plan starts with a 14-day free trial."
)
RESPONSE_USAGE: Final = {
    "total_tokens": 1260,
    "input_tokens": 1180,
    "output_tokens": 80,
    "input_token_details": {"text_tokens": 980, "audio_tokens": 200, "cached_tokens": 640},
    "output_token_details": {"text_tokens": 80, "audio_tokens": 0},
}
TRANSCRIPT_USAGE: Final = {"type": "tokens", "total_tokens": 62, "input_tokens": 52}


class TimedStore(Store):
    """The app's Store, each write timed and tallied (list.append is atomic: threads share it)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.writes: list[tuple[Literal["insert", "update"], str, float]] = []

    def insert(self, table: str, row: Mapping[str, Any]) -> str:
        t0 = time.perf_counter()
        try:
            return super().insert(table, row)
        finally:
            self.writes.append(("insert", table, time.perf_counter() - t0))

    def update(self, table: str, row_id: str, fields: Mapping[str, Any]) -> None:
        t0 = time.perf_counter()
        try:
            super().update(table, row_id, fields)
        finally:
            self.writes.append(("update", table, time.perf_counter() - t0))


def voice_turn(n: int) -> list[dict[str, Any]]:
    """One spoken question and its text answer, as the Realtime API's server events (server
    VAD, streamed transcription, the answer word by word)."""
    user, answer, rid = f"item_user_{n}", f"item_answer_{n}", f"resp_{n}"
    words = [w + " " for w in ANSWER.split(" ")]
    heard = [w + " " for w in QUESTION.split(" ")]
    return [
        {"type": "input_audio_buffer.speech_started", "audio_start_ms": 100, "item_id": user},
        {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2300, "item_id": user},
        {"type": "input_audio_buffer.committed", "item_id": user},
        {"type": "conversation.item.added", "item": {"id": user}},
        {"type": "conversation.item.done", "item": {"id": user}},
        *(
            {
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": user,
                "delta": w,
            }
            for w in heard
        ),
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": user,
            "transcript": QUESTION,
            "usage": TRANSCRIPT_USAGE,
        },
        {"type": "response.created", "response": {"id": rid, "status": "in_progress"}},
        {"type": "rate_limits.updated", "rate_limits": []},
        {"type": "response.output_item.added", "response_id": rid, "item": {"id": answer}},
        {"type": "conversation.item.added", "item": {"id": answer}},
        {"type": "response.content_part.added", "response_id": rid, "item_id": answer},
        *(
            {
                "type": "response.output_text.delta",
                "response_id": rid,
                "item_id": answer,
                "delta": w,
            }
            for w in words
        ),
        {
            "type": "response.output_text.done",
            "response_id": rid,
            "item_id": answer,
            "text": ANSWER,
        },
        {"type": "response.content_part.done", "response_id": rid, "item_id": answer},
        {"type": "response.output_item.done", "response_id": rid, "item": {"id": answer}},
        {"type": "conversation.item.done", "item": {"id": answer}},
        {
            "type": "response.done",
            "response": {"id": rid, "status": "completed", "usage": RESPONSE_USAGE, "output": []},
        },
    ]


class _Avatar:
    """The bridge's avatar port: the pieces it hands over, played by `Conversation`."""

    def __init__(self) -> None:
        self.pieces: list[tuple[str, str]] = []

    def speak_soon(self, text: str, token: str, emotion: Emotion | None = None) -> None:
        self.pieces.append((text, token))

    def speak_audio_soon(self, pcm24k: bytes, token: str, *, event_id: str, end: bool) -> None:
        raise AssertionError("a text-bridge turn hands over no audio")

    def interrupt_soon(self) -> None:
        pass

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        pass  # sentence:20 needs no deadline


class _Brain:
    def cancel(self) -> None:
        pass

    def send_function_output(self, call_id: str, output: str) -> None:
        pass


class Conversation:
    """One conversation's rows as a Start records them (untimed), then turn after turn through
    the app's recording code: the model session's events (lib.brain.record), the bridge and
    its timeline, the avatar runner's record of each piece (lib.runtime.avatar_record)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        config = BridgeConfig(chunking=STRATEGY)
        now = time.time()
        self.id = store.insert(
            "conversations",
            {
                "brain_provider": "local",
                "avatar_provider": "local",
                "bridge": config.mode,
                "chunking": config.label,
                "timing": "simulated",
                "requested_at": now,
                "status": "live",
            },
        )
        self.brain_id = store.insert(
            "brain_sessions",
            {
                "provider": "local",
                "model": "gpt-realtime",
                "started_at": now,
                "status": "connected",
            },
        )
        store.update("conversations", self.id, {"brain_session_id": self.brain_id})
        self.record = AvatarRecord(store)
        self.avatar_id = self.record.requested(
            "local", SessionOptions(avatar_id="ava"), now, self.id, "bench"
        )
        self.record.started(self.avatar_id, f"local_{uuid.uuid4().hex[:8]}", now)
        self.avatar = _Avatar()
        self.timeline = Timeline(store, self.id)
        self.bridge = Bridge(self.timeline, self.avatar, _Brain(), config, agents_for("concierge"))
        self.turns = 0

    def turn(self) -> None:
        """A spoken turn: each server event recorded, then handed to the bridge (as the
        Realtime client does); each piece the bridge hands over, spoken at once."""
        self.turns += 1
        for raw in voice_turn(self.turns):
            ev = parse(raw)
            record_event(self.store, self.brain_id, ev)
            self.bridge.on_brain_event(ev)
            while self.avatar.pieces:
                self._speak(*self.avatar.pieces.pop(0))

    def _speak(self, text: str, token: str) -> None:
        """A piece through the avatar runner's records: the task requested and accepted, the
        bridge told; the session's start and stop talking recorded, the task updated, the
        bridge told."""
        requested = time.time()
        row = self.record.task_requested(self.avatar_id, text, "async", requested)
        task_id = f"task_{uuid.uuid4().hex[:12]}"
        answered = time.time()
        self.record.task_accepted(row, SpeakResult(task_id, 1800.0, requested, answered))
        self.bridge.on_avatar(TaskNote(token, "sent", answered, sent_at=requested, task_id=task_id))
        talking: tuple[tuple[AvatarEvent, Literal["started", "ended"]], ...] = (
            (StartTalking(task_id), "started"),
            (StopTalking(task_id, duration_ms=1800.0), "ended"),
        )
        for event, what in talking:
            self.record.event(self.avatar_id, event, row)
            self.bridge.on_avatar(event)
            self.record.task_talking(row, event, False)
            self.bridge.on_avatar(TaskNote(token, what, event.at, task_id=task_id))

    def all_done(self) -> bool:
        return all(t.status == "done" for t in self.timeline.snapshot_refs())


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def measure_writes(
    store: TimedStore, conversations: int, *, seconds: float, turns: int | None = None
) -> dict[str, Any]:
    """One run: `conversations` new conversations, a thread each, recording turns for
    `seconds` (or `turns` each, if sooner). Raises if the rows in the database are not the
    rows written."""
    talks = [Conversation(store) for _ in range(conversations)]
    before = {table: store.count(table) for table in RECORDED}
    store.writes.clear()
    start = threading.Barrier(conversations + 1)
    spans: list[tuple[float, float]] = []
    failed: list[Exception] = []

    def talk(conversation: Conversation) -> None:
        try:
            start.wait()
            t0 = time.perf_counter()
            while time.perf_counter() < t0 + seconds and (
                turns is None or conversation.turns < turns
            ):
                conversation.turn()
            spans.append((t0, time.perf_counter()))
        except Exception as exc:  # noqa: BLE001 - re-raised below, in the caller's thread
            failed.append(exc)

    threads = [threading.Thread(target=talk, args=(c,)) for c in talks]
    for t in threads:
        t.start()
    start.wait()  # all begin together
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    elapsed = max(end for _, end in spans) - min(begin for begin, _ in spans)
    written = sum(c.turns for c in talks)
    writes = list(store.writes)
    inserts = Counter(table for kind, table, _ in writes if kind == "insert")
    updates = Counter(table for kind, table, _ in writes if kind == "update")
    rows = {table: store.count(table) - before[table] for table in RECORDED}
    if rows != {table: inserts[table] for table in RECORDED}:
        raise RuntimeError(f"rows in the database {rows} are not the rows written {inserts}")
    if not all(c.all_done() for c in talks):
        raise RuntimeError("a turn was left open: the bench did not play a whole turn")
    seconds_each = [s for _, _, s in writes]
    return {
        "turns": written,
        "seconds": elapsed,
        "writes": len(writes),
        "rows": rows,
        "inserts": dict(inserts),
        "updates": dict(updates),
        "write_p50_ms": _ms(seconds_each, 0.50),
        "write_p99_ms": _ms(seconds_each, 0.99),
        # how much of the conversations' time went on the store (the rest: parsing, bridge)
        "in_store_share": sum(seconds_each) / (elapsed * conversations),
    }


def per_turn(run: dict[str, Any]) -> dict[str, Any]:
    """A run's writes divided by its turns (every turn writes the same: checked)."""
    out: dict[str, Any] = {}
    for kind in ("inserts", "updates"):
        each = {}
        for table, n in sorted(run[kind].items()):
            q, r = divmod(n, run["turns"])
            if r:
                raise RuntimeError(f"{n} {kind} into {table} for {run['turns']} turns")
            each[table] = q
        out[kind] = each
    out["writes"] = sum(out["inserts"].values()) + sum(out["updates"].values())
    return out


def _median(runs: list[dict[str, Any]], key: Callable[[dict[str, Any]], float]) -> float:
    return round(statistics.median(key(r) for r in runs), 1)


def write_load(
    store: TimedStore,
    conversations: int,
    *,
    seconds: float,
    runs: int,
    turns: int | None,
    progress: Callable[[str], None],
    label: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`runs` runs at `conversations` at once: the medians, and the writes of one turn."""
    done = []
    for n in range(runs):
        run = measure_writes(store, conversations, seconds=seconds, turns=turns)
        done.append(run)
        progress(
            f"{label}, {conversations} conversation(s), run {n + 1}: "
            f"{run['writes'] / run['seconds']:.0f} writes/s, {run['turns']} turns, "
            f"p50 {run['write_p50_ms']} ms, p99 {run['write_p99_ms']} ms"
        )
    shape = per_turn(done[0])
    if any(per_turn(r) != shape for r in done[1:]):
        raise RuntimeError("turns wrote differently from run to run")
    return {
        "conversations": conversations,
        "runs": len(done),
        "turns": sum(r["turns"] for r in done),
        "rows": {t: sum(r["rows"][t] for r in done) for t in RECORDED},
        "writes_per_s": _median(done, lambda r: r["writes"] / r["seconds"]),
        "rows_per_s": _median(done, lambda r: sum(r["rows"].values()) / r["seconds"]),
        "turns_per_s": _median(done, lambda r: r["turns"] / r["seconds"]),
        "write_p50_ms": statistics.median(r["write_p50_ms"] for r in done),
        "write_p99_ms": statistics.median(r["write_p99_ms"] for r in done),
        "in_store_share": round(statistics.median(r["in_store_share"] for r in done), 3),
        "writes_per_s_runs": [round(r["writes"] / r["seconds"], 1) for r in done],
    }, shape


def bench_backend(
    new_database: Callable[[], str],
    *,
    seconds: float,
    repeat: int,
    progress: Callable[[str], None],
    turns: int | None = None,
    page_turns: int = TURNS,
    page_sessions: int = SESSIONS,
) -> dict[str, Any]:
    """The write loads on one database, then the page on a second, seeded one (both from
    `new_database`, each empty)."""
    store = TimedStore(new_database())
    label = store.dialect
    out: dict[str, Any] = {"writes": []}
    try:
        for conversations in CONCURRENCY:
            load, shape = write_load(
                store,
                conversations,
                seconds=seconds,
                runs=max(1, repeat),
                turns=turns,
                progress=progress,
                label=label,
            )
            if out.setdefault("per_turn", shape) != shape:
                raise RuntimeError("turns wrote differently at another concurrency")
            out["writes"].append(load)
    finally:
        store.close()
    seeded = Store(new_database())  # the page's turns and nothing else
    try:
        progress(f"{label}: the Latency page's store work")
        out["latency_page"] = measure_page_data(
            seeded, sessions=page_sessions, turns=page_turns, repeat=repeat, progress=progress
        )
    finally:
        seeded.close()
    return out


@contextlib.contextmanager
def throwaway_databases(db_url: str | None) -> Iterator[tuple[Callable[[], str], str]]:
    """A maker of fresh empty PostgreSQL databases, and what server they are on: a throwaway
    local one, or `db_url`'s server (the databases made there are dropped after)."""
    if db_url is None:
        with pg_server() as server:
            yield server.new_database, "a throwaway local server (fsync and synchronous_commit off)"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    base = db_url.replace("postgresql+psycopg://", "postgresql://", 1)
    made: list[str] = []

    def new_database() -> str:
        name = f"avatarlab_bench_{uuid.uuid4().hex[:10]}"
        try:
            with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"CREATE DATABASE {name}")
        except psycopg.Error as exc:
            raise StoreError(
                f"--db-url {shown(db_url)}: cannot create a database there ({exc}); the bench "
                "needs a server where its user may CREATE DATABASE (it drops what it made)"
            ) from exc
        made.append(name)
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    try:
        yield new_database, shown(db_url)
    finally:
        if made:
            with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
                for name in made:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(
    *,
    seconds: float = 10.0,
    repeat: int = 5,
    progress: Callable[[str], None] = print,
    db_url: str | None = None,
    turns: int | None = None,
    page_turns: int = TURNS,
    page_sessions: int = SESSIONS,
) -> dict[str, Any]:
    """`seconds` per run, `repeat` runs per backend × concurrency; `turns` caps each
    conversation's turns per run (tests); `page_turns` / `page_sessions` size the seeded
    store for the Latency page."""
    if db_url is not None and dialect_of(db_url) != "postgresql":  # before the SQLite half
        raise StoreError(f"--db-url {shown(db_url)}: give a postgresql://user:pass@host/db URL")
    common: dict[str, Any] = {
        "seconds": seconds,
        "repeat": repeat,
        "progress": progress,
        "turns": turns,
        "page_turns": page_turns,
        "page_sessions": page_sessions,
    }
    result: dict[str, Any] = {
        "turn": f"one spoken question answered in text, {STRATEGY}",
        "seconds_per_run": seconds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        files = iter(f"{tmp}/{name}.db" for name in ("writes", "page"))
        sqlite = bench_backend(lambda: next(files), **common)
        sqlite["database"] = "a temp file (WAL, synchronous=NORMAL)"
    with throwaway_databases(db_url) as (new_database, server):
        postgresql = bench_backend(new_database, **common)
        postgresql["database"] = server
    if sqlite["per_turn"] != postgresql["per_turn"]:
        raise RuntimeError("a turn wrote differently on the two backends")
    result["per_turn"] = sqlite.pop("per_turn")
    del postgresql["per_turn"]
    result["sqlite"], result["postgresql"] = sqlite, postgresql
    return result

"""The app's reads beyond the Store's own (a row by id, a Studio session's tasks and events):
one function per question, named for what it returns, its SQL portable with `?` placeholders
(see lib.store.database). Callers derive from these results; they write no SQL of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

import pandas as pd

from lib.store.database import Store


def _marks(values: Sequence[object]) -> str:
    """`?` per value; NULL for none (`IN ()` is not SQL PostgreSQL takes, and matches nothing)."""
    return ",".join("?" for _ in values) or "NULL"


def _made_by(alias: str, people: Sequence[str]) -> str:
    """The clause for rows made by one of `people` ("" among them: rows with no creator
    recorded, NULL or empty, as rows from before creators were recorded are)."""
    return f"COALESCE({alias}.created_by, '') IN ({_marks(people)})"


# ---- conversations, filtered -------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Which conversations an analytics page looks at."""

    providers: tuple[str, ...] = ()  # avatar providers
    bridges: tuple[str, ...] = ()
    chunkings: tuple[str, ...] = ()
    experiment: str | None = None
    conversation: str | None = None
    since: date | None = None
    until: date | None = None
    people: tuple[str, ...] = ()  # who made them (created_by); "": no creator recorded

    def where(self, alias: str = "c") -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (
            ("avatar_provider", self.providers),
            ("bridge", self.bridges),
            ("chunking", self.chunkings),
        ):
            if values:
                clauses.append(f"{alias}.{column} IN ({','.join('?' for _ in values)})")
                params.extend(values)
        if self.people:
            clauses.append(_made_by(alias, self.people))
            params.extend(self.people)
        if self.experiment:
            clauses.append(f"{alias}.experiment_id = ?")
            params.append(self.experiment)
        if self.conversation:
            clauses.append(f"{alias}.id = ?")
            params.append(self.conversation)
        if self.since:
            clauses.append(f"{alias}.requested_at >= ?")
            params.append(datetime.combine(self.since, dtime.min).timestamp())
        if self.until:
            clauses.append(f"{alias}.requested_at < ?")
            params.append(datetime.combine(self.until, dtime.max).timestamp())
        return (" AND ".join(clauses) or "1=1"), params


def conversations(store: Store, filters: Filters | None = None) -> pd.DataFrame:
    """The filtered conversations, oldest first."""
    where, params = (filters or Filters()).where("c")
    return store.frame(
        f"SELECT * FROM conversations c WHERE {where} ORDER BY requested_at", tuple(params)
    )


def turns_with_config(store: Store, filters: Filters | None = None) -> pd.DataFrame:
    """The filtered conversations' turns, each with its conversation's configuration."""
    where, params = (filters or Filters()).where("c")
    return store.frame(
        f"""SELECT t.*, c.avatar_provider, c.brain_provider, c.bridge, c.chunking, c.timing,
                   c.experiment_id, c.requested_at AS conversation_at
            FROM turns t JOIN conversations c ON t.conversation_id = c.id
            WHERE {where} ORDER BY t.conversation_id, t.seq""",
        tuple(params),
    )


def avatar_startup_ms(store: Store, filters: Filters | None = None) -> pd.Series:
    """Avatar start request → first frame, per avatar session of the filtered conversations."""
    where, params = (filters or Filters()).where("c")
    frame = store.frame(
        f"""SELECT (a.first_frame_at - a.requested_at) * 1000 AS ms FROM avatar_sessions a
            JOIN conversations c ON a.conversation_id = c.id
            WHERE {where} AND a.first_frame_at IS NOT NULL""",
        tuple(params),
    )
    return frame["ms"]


def avatar_spans(store: Store, conversation_ids: Sequence[str]) -> pd.DataFrame:
    """conversation_id, started_at, stopped_at of each avatar session that started."""
    ids = tuple(conversation_ids)
    return store.frame(
        f"""SELECT conversation_id, started_at, stopped_at FROM avatar_sessions
            WHERE conversation_id IN ({_marks(ids)}) AND started_at IS NOT NULL""",
        ids,
    )


def brain_event_payloads(store: Store, kind: str, session_ids: Sequence[str]) -> pd.DataFrame:
    """session_id, payload of the model sessions' events of one kind."""
    ids = tuple(session_ids)
    return store.frame(
        "SELECT session_id, payload FROM brain_events"
        f" WHERE kind = ? AND session_id IN ({_marks(ids)})",
        (kind, *ids),
    )


def conversation_choices(store: Store) -> pd.DataFrame:
    """Each recorded avatar_provider, bridge, chunking combination (the filter bar's options)."""
    return store.frame("SELECT DISTINCT avatar_provider, bridge, chunking FROM conversations")


def recorded_people(store: Store, studio: bool = True) -> list[str]:
    """Everyone who made a conversation (or, with `studio`, a Studio session), sorted; ""
    last when some have no creator recorded (the People filter's choices)."""
    sql = "SELECT COALESCE(created_by, '') AS person FROM conversations"
    if studio:
        sql += """ UNION SELECT COALESCE(created_by, '') AS person FROM avatar_sessions
                   WHERE conversation_id IS NULL"""
    rows = store.frame(sql)
    people = {str(p) for p in rows["person"]}
    return sorted(people - {""}) + ([""] if "" in people else [])


def conversation_span(store: Store) -> tuple[float | None, float | None]:
    """When the first and the last conversation were requested (None: none recorded)."""
    bounds = store.frame(
        "SELECT MIN(requested_at) AS lo, MAX(requested_at) AS hi FROM conversations"
    )
    lo, hi = bounds["lo"].iloc[0], bounds["hi"].iloc[0]
    return (None if pd.isna(lo) else float(lo)), (None if pd.isna(hi) else float(hi))


# ---- one conversation --------------------------------------------------------------------


def conversation_turns(store: Store, conversation_id: str) -> pd.DataFrame:
    """A conversation's turns, in order."""
    return store.frame(
        "SELECT * FROM turns WHERE conversation_id = ? ORDER BY seq", (conversation_id,)
    )


def conversation_chunks(store: Store, conversation_id: str) -> pd.DataFrame:
    """A conversation's pieces, in order, each with its turn's seq (`turn_seq`)."""
    return store.frame(
        """SELECT c.* , t.seq AS turn_seq FROM chunks c JOIN turns t ON c.turn_id = t.id
           WHERE t.conversation_id = ? ORDER BY t.seq, c.seq""",
        (conversation_id,),
    )


def conversation_events(store: Store, conversation_id: str) -> pd.DataFrame:
    """at, kind, payload of what the bridge noted in a conversation, in time order."""
    return store.frame(
        "SELECT at, kind, payload FROM conversation_events WHERE conversation_id = ? ORDER BY at",
        (conversation_id,),
    )


# ---- the Sessions page -------------------------------------------------------------------


def conversation_summaries(store: Store, filters: Filters | None = None) -> pd.DataFrame:
    """The filtered conversations, newest first, with who made each, its turn count and the
    user's first words."""
    where, params = (filters or Filters()).where("c")
    return store.frame(
        f"""SELECT c.id, c.requested_at, c.stopped_at, c.avatar_provider, c.brain_provider,
                  c.bridge, c.chunking, c.status, c.timing, c.experiment_id, c.created_by,
                  COUNT(t.id) AS turns,
                  (SELECT u.user_text FROM turns u WHERE u.conversation_id = c.id
                     AND u.user_text != '' ORDER BY u.seq LIMIT 1) AS first_words
           FROM conversations c LEFT JOIN turns t ON t.conversation_id = c.id
           WHERE {where} GROUP BY c.id ORDER BY c.requested_at DESC""",
        tuple(params),
    )


def conversations_saying(store: Store, words: str) -> pd.Series:
    """Ids of the conversations in which either side said `words` (lower case)."""
    return store.frame(
        """SELECT DISTINCT conversation_id FROM turns
           WHERE lower(user_text) LIKE ? OR lower(assistant_text) LIKE ?""",
        (f"%{words}%", f"%{words}%"),
    )["conversation_id"]


def studio_sessions(store: Store, people: Sequence[str] = ()) -> pd.DataFrame:
    """The Avatar Studio sessions (no conversation) made by one of `people` (none: by
    anyone), newest first, with who made each and its task count."""
    chosen = tuple(people)
    made_by = f"AND {_made_by('s', chosen)}" if chosen else ""
    return store.frame(
        f"""SELECT s.id, s.requested_at, s.provider, s.avatar_id, s.voice_id, s.quality,
                  s.status, s.stop_reason, s.created_by, COUNT(t.id) AS tasks
           FROM avatar_sessions s LEFT JOIN avatar_tasks t ON t.session_id = s.id
           WHERE s.conversation_id IS NULL {made_by}
           GROUP BY s.id ORDER BY s.requested_at DESC""",
        chosen,
    )


# ---- experiments -------------------------------------------------------------------------


def experiments(store: Store) -> pd.DataFrame:
    """Every experiment, newest first."""
    return store.frame("SELECT * FROM experiments ORDER BY created_at DESC")


def recorded_nothing(store: Store) -> bool:
    """An empty lab: no conversation and no Studio session recorded yet."""
    counts = store.frame(
        "SELECT (SELECT COUNT(*) FROM conversations) + (SELECT COUNT(*) FROM avatar_sessions) AS n"
    )
    return int(counts["n"].iloc[0]) == 0


def experiment_runs(store: Store, experiment_id: str) -> dict[str, list[str]]:
    """The experiment's conversation ids per configuration label, oldest first."""
    rows = store.frame(
        "SELECT id, chunking FROM conversations WHERE experiment_id = ? ORDER BY requested_at",
        (experiment_id,),
    )
    out: dict[str, list[str]] = {}
    for cid, label in rows.itertuples(index=False):
        out.setdefault(str(label), []).append(str(cid))
    return out


def completed_runs(store: Store, experiment_id: str) -> dict[str, int]:
    """How many runs of each configuration played to the end (not cut by a crash or a failure)."""
    rows = store.frame(
        "SELECT chunking, COUNT(*) AS n FROM conversations WHERE experiment_id = ? "
        "AND status = 'stopped' GROUP BY chunking",
        (experiment_id,),
    )
    return {str(label): int(n) for label, n in rows.itertuples(index=False)}


def unfinished_experiments(store: Store) -> pd.DataFrame:
    """(id, owner, has_jobs) of experiments stored as queued or running; has_jobs: 1 if it is
    a queued sweep (its jobs are reclaimed by any instance), else 0 (an older app's sweep)."""
    return store.frame(
        """SELECT e.id, e.owner,
                  CASE WHEN EXISTS (SELECT 1 FROM sweep_jobs j WHERE j.experiment_id = e.id)
                       THEN 1 ELSE 0 END AS has_jobs
           FROM experiments e WHERE e.status IN ('queued', 'running')"""
    )


def experiment_conversation_ids(store: Store, experiment_id: str) -> list[str]:
    ids = store.frame("SELECT id FROM conversations WHERE experiment_id = ?", (experiment_id,))
    return [str(i) for i in ids["id"]]


def user_turns(store: Store, conversation_ids: Sequence[str]) -> pd.DataFrame:
    """The conversations' turns but those an agent opened itself (greetings, questions)."""
    ids = tuple(conversation_ids)
    return store.frame(
        f"SELECT * FROM turns WHERE conversation_id IN ({_marks(ids)}) AND source != 'agent'",
        ids,
    )


def replay_turns(store: Store, experiment_id: str) -> pd.DataFrame:
    """An experiment's answered user turns, each with its conversation's bridge, chunking
    label, avatar provider and model session, and its first piece's ready_at and chars."""
    return store.frame(
        """SELECT t.id, t.response_id, t.speech_end_at, t.first_delta_at, t.avatar_start_at,
                  t.chunks, c.bridge, c.chunking, c.avatar_provider, c.brain_session_id,
                  f.ready_at AS first_ready_at, f.chars AS first_chars
           FROM turns t JOIN conversations c ON c.id = t.conversation_id
           LEFT JOIN chunks f ON f.turn_id = t.id AND f.seq = 1
           WHERE c.experiment_id = ? AND t.status = 'done' AND t.source != 'agent'
           ORDER BY c.requested_at, t.seq""",
        (experiment_id,),
    )


def response_events(store: Store, session_ids: Sequence[str], kinds: Sequence[str]) -> pd.DataFrame:
    """response_id, kind, at, payload of the model sessions' events of these kinds, in time
    order."""
    ids, wanted = tuple(session_ids), tuple(kinds)
    return store.frame(
        f"""SELECT response_id, kind, at, payload FROM brain_events
            WHERE session_id IN ({_marks(ids)}) AND kind IN ({_marks(wanted)})
            ORDER BY at""",
        (*ids, *wanted),
    )


def conversation_timings(store: Store, conversation_ids: Sequence[str]) -> pd.Series:
    """Each conversation's timing ("simulated" or "measured")."""
    ids = tuple(conversation_ids)
    return store.frame(f"SELECT timing FROM conversations WHERE id IN ({_marks(ids)})", ids)[
        "timing"
    ]


def first_piece_sent(store: Store, conversation_ids: Sequence[str]) -> pd.DataFrame:
    """Per turn: first_delta_at, and sent_at of its first piece (turns with a piece)."""
    ids = tuple(conversation_ids)
    return store.frame(
        f"""SELECT t.first_delta_at, MIN(c.sent_at) AS sent_at FROM turns t
            JOIN chunks c ON c.turn_id = t.id
            WHERE t.conversation_id IN ({_marks(ids)}) GROUP BY t.id""",
        ids,
    )


def audio_turn_timings(store: Store, conversation_ids: Sequence[str]) -> pd.DataFrame:
    """Per turn that sent the model's audio: its configuration, when its first delta came,
    when the first piece went out, how much audio was sent, and the avatar's speaking span."""
    ids = tuple(conversation_ids)
    return store.frame(
        f"""SELECT v.chunking, t.first_delta_at, t.avatar_start_at, t.avatar_stop_at,
                   MIN(c.sent_at) AS first_sent_at, SUM(c.audio_ms) AS sent_audio_ms
            FROM turns t
            JOIN conversations v ON v.id = t.conversation_id
            JOIN chunks c ON c.turn_id = t.id AND c.kind = 'audio'
            WHERE t.conversation_id IN ({_marks(ids)}) AND t.status = 'done'
            GROUP BY t.id, v.chunking, t.first_delta_at, t.avatar_start_at, t.avatar_stop_at""",
        ids,
    )


# ---- what a dead process left open (lib.runtime.reaper) -------------------------------------


def conversation_owners(store: Store, statuses: Sequence[str]) -> pd.DataFrame:
    """id, owner, status of the conversations in one of `statuses`."""
    return store.frame(
        f"SELECT id, owner, status FROM conversations WHERE status IN ({_marks(statuses)})",
        tuple(statuses),
    )


def open_turn_ids(store: Store, conversation_id: str) -> list[str]:
    turns = store.frame(
        "SELECT id FROM turns WHERE conversation_id = ? AND status = 'open'", (conversation_id,)
    )
    return [str(tid) for (tid,) in turns.itertuples(index=False)]


def unfinished_chunks(store: Store, turn_id: str) -> list[tuple[str, str]]:
    """(id, status) of a turn's pieces still ready, sent or being spoken."""
    chunks = store.frame(
        "SELECT id, status FROM chunks WHERE turn_id = ? AND status IN "
        "('ready', 'sent', 'speaking')",
        (turn_id,),
    )
    return [(str(i), str(s)) for i, s in chunks.itertuples(index=False)]


def provider_sessions(store: Store, provider: str) -> pd.DataFrame:
    """id, remote_session_id, owner, status, reaped_by of our sessions at a provider that it
    named."""
    return store.frame(
        """SELECT id, remote_session_id, owner, status, reaped_by FROM avatar_sessions
            WHERE provider = ? AND remote_session_id IS NOT NULL""",
        (provider,),
    )


# ---- the soak's check (lib.bench.soak) ---------------------------------------------------


def open_avatar_session_count(store: Store) -> int:
    """Avatar sessions still starting or live (or being stopped by a reaper)."""
    return int(
        store.frame(
            "SELECT COUNT(*) AS n FROM avatar_sessions "
            "WHERE status IN ('starting', 'live', 'reaping')"
        )["n"][0]
    )


def voice_turns(store: Store) -> pd.DataFrame:
    """Every spoken turn, with its conversation's id as `conv`."""
    return store.frame(
        """SELECT t.*, c.id AS conv FROM turns t JOIN conversations c
               ON t.conversation_id = c.id WHERE t.source = 'voice'"""
    )

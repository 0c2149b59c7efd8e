"""The baseline: the store as version 3 of the app made it (before migrations were versioned).

On an empty database it creates these tables; on a file an older app made (a `schema_version`
table, perhaps columns short) it adds what is missing and keeps every row. Types are standard
SQL, the same on SQLite and PostgreSQL.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# table → ordered columns (name, SQL type). `id` is a client-made UUID (portable, no sequences).
TABLES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "avatar_sessions": (
        ("id", "TEXT PRIMARY KEY"),
        ("provider", "TEXT NOT NULL"),
        ("remote_session_id", "TEXT"),
        ("avatar_id", "TEXT"),
        ("voice_id", "TEXT"),
        ("quality", "TEXT"),
        ("emotion", "TEXT"),
        ("rate", "DOUBLE PRECISION"),
        ("language", "TEXT"),
        ("requested_at", "DOUBLE PRECISION NOT NULL"),
        ("started_at", "DOUBLE PRECISION"),
        ("first_frame_at", "DOUBLE PRECISION"),
        ("stopped_at", "DOUBLE PRECISION"),
        ("status", "TEXT NOT NULL"),
        ("stop_reason", "TEXT"),
        ("error", "TEXT"),
        ("conversation_id", "TEXT"),  # the conversation it showed (null: the Studio)
        ("owner", "TEXT"),  # host:pid:start of the process that started it (lib.runtime.owner)
    ),
    "avatar_tasks": (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("task_id", "TEXT"),
        ("text", "TEXT NOT NULL"),
        ("mode", "TEXT"),
        ("requested_at", "DOUBLE PRECISION NOT NULL"),
        ("answered_at", "DOUBLE PRECISION"),
        ("duration_ms", "DOUBLE PRECISION"),
        ("started_at", "DOUBLE PRECISION"),
        ("stopped_at", "DOUBLE PRECISION"),
        ("status", "TEXT NOT NULL"),
        ("error", "TEXT"),
    ),
    "avatar_events": (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("task_id", "TEXT"),
        ("kind", "TEXT NOT NULL"),
        ("at", "DOUBLE PRECISION NOT NULL"),
        ("payload", "TEXT"),
    ),
    "brain_sessions": (
        ("id", "TEXT PRIMARY KEY"),
        ("provider", "TEXT NOT NULL"),
        ("model", "TEXT"),
        ("settings", "TEXT"),
        ("started_at", "DOUBLE PRECISION NOT NULL"),
        ("stopped_at", "DOUBLE PRECISION"),
        ("status", "TEXT NOT NULL"),
        ("error", "TEXT"),
    ),
    # A sweep of configurations over one script (the CLI's `sweep`, the Experiments page).
    "experiments": (
        ("id", "TEXT PRIMARY KEY"),
        ("name", "TEXT NOT NULL"),
        ("plan", "TEXT"),
        ("created_at", "DOUBLE PRECISION NOT NULL"),
        ("finished_at", "DOUBLE PRECISION"),
        ("status", "TEXT NOT NULL"),  # queued | running | done | cancelled | error | interrupted
        ("error", "TEXT"),
        ("owner", "TEXT"),  # the process running it: a dead owner's sweep is marked interrupted
    ),
    # A conversation: one brain session + one avatar session (per agent) + the bridge config.
    "conversations": (
        ("id", "TEXT PRIMARY KEY"),
        ("brain_provider", "TEXT NOT NULL"),
        ("brain_session_id", "TEXT"),
        ("avatar_provider", "TEXT"),
        ("bridge", "TEXT NOT NULL"),
        ("chunking", "TEXT"),
        ("timing", "TEXT"),  # "simulated" (embedded model timing) or "measured"
        ("experiment_id", "TEXT"),
        ("config", "TEXT"),
        ("requested_at", "DOUBLE PRECISION NOT NULL"),
        ("brain_ready_at", "DOUBLE PRECISION"),
        ("avatar_ready_at", "DOUBLE PRECISION"),
        ("stopped_at", "DOUBLE PRECISION"),
        ("status", "TEXT NOT NULL"),
        ("error", "TEXT"),
        ("owner", "TEXT"),
    ),
    # One user turn and its answer; each stage stamped when observed (epoch seconds).
    "turns": (
        ("id", "TEXT PRIMARY KEY"),
        ("conversation_id", "TEXT NOT NULL"),
        ("seq", "INTEGER NOT NULL"),
        ("agent", "TEXT"),
        ("avatar_session_id", "TEXT"),
        ("source", "TEXT"),  # voice | text | script
        ("user_text", "TEXT"),
        ("assistant_text", "TEXT"),
        ("item_id", "TEXT"),
        ("response_id", "TEXT"),
        ("speech_started_at", "DOUBLE PRECISION"),
        ("speech_end_at", "DOUBLE PRECISION"),
        ("committed_at", "DOUBLE PRECISION"),
        ("transcript_at", "DOUBLE PRECISION"),
        ("response_created_at", "DOUBLE PRECISION"),
        ("first_delta_at", "DOUBLE PRECISION"),
        ("first_chunk_at", "DOUBLE PRECISION"),
        ("avatar_start_at", "DOUBLE PRECISION"),
        ("avatar_stop_at", "DOUBLE PRECISION"),
        ("response_done_at", "DOUBLE PRECISION"),
        ("interrupted_at", "DOUBLE PRECISION"),
        ("avatar_lost_at", "DOUBLE PRECISION"),  # the avatar dropped during or after this turn
        ("avatar_back_at", "DOUBLE PRECISION"),  # ...and its replacement showed its first frame
        ("usage", "TEXT"),
        ("chunks", "INTEGER"),
        ("status", "TEXT NOT NULL"),
        ("error", "TEXT"),
    ),
    # One piece of an answer handed to the avatar (text, or the model's audio).
    "chunks": (
        ("id", "TEXT PRIMARY KEY"),
        ("turn_id", "TEXT NOT NULL"),
        ("seq", "INTEGER NOT NULL"),
        ("kind", "TEXT NOT NULL"),  # text | audio
        ("text", "TEXT"),
        ("chars", "INTEGER"),
        ("audio_ms", "DOUBLE PRECISION"),
        ("emotion", "TEXT"),
        ("ready_at", "DOUBLE PRECISION NOT NULL"),
        ("sent_at", "DOUBLE PRECISION"),
        ("accepted_at", "DOUBLE PRECISION"),
        ("task_id", "TEXT"),
        ("started_at", "DOUBLE PRECISION"),
        ("ended_at", "DOUBLE PRECISION"),
        ("status", "TEXT NOT NULL"),
        ("error", "TEXT"),
    ),
    # What the bridge did besides speaking: barge-ins, handoffs, tool calls, fallbacks.
    "conversation_events": (
        ("id", "TEXT PRIMARY KEY"),
        ("conversation_id", "TEXT NOT NULL"),
        ("turn_id", "TEXT"),
        ("kind", "TEXT NOT NULL"),
        ("at", "DOUBLE PRECISION NOT NULL"),
        ("payload", "TEXT"),
    ),
    "brain_events": (
        ("id", "TEXT PRIMARY KEY"),
        ("session_id", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"),
        ("at", "DOUBLE PRECISION NOT NULL"),
        ("item_id", "TEXT"),
        ("response_id", "TEXT"),
        ("payload", "TEXT"),
    ),
}
INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS ix_tasks_session ON avatar_tasks (session_id)",
    "CREATE INDEX IF NOT EXISTS ix_events_session ON avatar_events (session_id, at)",
    "CREATE INDEX IF NOT EXISTS ix_brain_events_session ON brain_events (session_id, at)",
    "CREATE INDEX IF NOT EXISTS ix_turns_conversation ON turns (conversation_id, seq)",
    "CREATE INDEX IF NOT EXISTS ix_chunks_turn ON chunks (turn_id, seq)",
    "CREATE INDEX IF NOT EXISTS ix_conv_events ON conversation_events (conversation_id, at)",
    "CREATE INDEX IF NOT EXISTS ix_conversations_experiment ON conversations (experiment_id)",
    "CREATE INDEX IF NOT EXISTS ix_avatar_conv ON avatar_sessions (conversation_id)",
)


def upgrade() -> None:
    bind = op.get_bind()
    have = set(sa.inspect(bind).get_table_names())
    for table, cols in TABLES.items():
        if table not in have:
            body = ", ".join(f"{name} {sqltype}" for name, sqltype in cols)
            op.execute(f"CREATE TABLE {table} ({body})")
            continue
        present = {c["name"] for c in sa.inspect(bind).get_columns(table)}
        for name, sqltype in cols:
            if name not in present:  # an older file: every later column is nullable
                op.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sqltype}")
    for ddl in INDEXES:
        op.execute(ddl)
    if "schema_version" in have:  # the old version marker; alembic_version replaces it
        op.execute("DROP TABLE schema_version")


def downgrade() -> None:
    for table in reversed(list(TABLES)):
        op.execute(f"DROP TABLE IF EXISTS {table}")

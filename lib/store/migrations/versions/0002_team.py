"""A team's lab: instances with leases, sweeps as a shared job queue, pricing tables in the
database, and who made what.

- `instances`: each app process (host, pid, start) renews `lease_until`; a row whose lease has
  passed is a dead owner, whatever machine it ran on.
- `sweep_jobs`: one row per configuration × repeat of an experiment, claimed by one instance
  at a time under a lease; `turns_done` lets a reclaimed job play only the turns left.
- `pricing_tables`: saved pricing table versions (TOML text), one row per name and version.
- `created_by` on sessions, conversations and experiments; `reaped_by` on avatar sessions
  (the instance that claimed a dead owner's session to stop it, so only one does).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Final

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEW_TABLES: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "instances": (
        ("id", "TEXT PRIMARY KEY"),  # host:pid:start (lib.runtime.owner)
        ("host", "TEXT NOT NULL"),
        ("pid", "INTEGER NOT NULL"),
        ("started_at", "DOUBLE PRECISION NOT NULL"),
        ("lease_until", "DOUBLE PRECISION NOT NULL"),
        ("stopped_at", "DOUBLE PRECISION"),
    ),
    "sweep_jobs": (
        ("id", "TEXT PRIMARY KEY"),
        ("experiment_id", "TEXT NOT NULL"),
        ("seq", "INTEGER NOT NULL"),  # the order jobs are claimed in, within the experiment
        ("config", "TEXT NOT NULL"),  # the bridge configuration, as JSON
        ("label", "TEXT NOT NULL"),
        ("rep", "INTEGER NOT NULL"),
        ("status", "TEXT NOT NULL"),  # queued | running | done | cancelled | error
        ("claimed_by", "TEXT"),
        ("lease_until", "DOUBLE PRECISION"),
        ("attempts", "INTEGER NOT NULL DEFAULT 0"),
        ("turns_done", "INTEGER NOT NULL DEFAULT 0"),
        ("only_host", "TEXT"),  # its script's audio is on this host's disk
        ("only_owner", "TEXT"),  # it needs a server of this process (a timed embedded model)
        ("conversation_id", "TEXT"),
        ("started_at", "DOUBLE PRECISION"),
        ("finished_at", "DOUBLE PRECISION"),
        ("error", "TEXT"),
    ),
    "pricing_tables": (
        ("id", "TEXT PRIMARY KEY"),
        ("name", "TEXT NOT NULL"),
        ("version", "INTEGER NOT NULL"),
        ("raw", "TEXT NOT NULL"),
        ("created_at", "DOUBLE PRECISION NOT NULL"),
        ("created_by", "TEXT"),
    ),
}
NEW_COLUMNS: Final = (
    ("avatar_sessions", "created_by", "TEXT"),
    ("avatar_sessions", "reaped_by", "TEXT"),
    ("conversations", "created_by", "TEXT"),
    ("experiments", "created_by", "TEXT"),
)
INDEXES: Final = (
    "CREATE INDEX ix_jobs_status ON sweep_jobs (status, experiment_id, seq)",
    "CREATE INDEX ix_jobs_experiment ON sweep_jobs (experiment_id)",
    "CREATE UNIQUE INDEX ux_pricing_name_version ON pricing_tables (name, version)",
    "CREATE INDEX ix_avatar_status ON avatar_sessions (status)",
    "CREATE INDEX ix_conversations_status ON conversations (status)",
)


def upgrade() -> None:
    for table, cols in NEW_TABLES.items():
        body = ", ".join(f"{name} {sqltype}" for name, sqltype in cols)
        op.execute(f"CREATE TABLE {table} ({body})")
    for table, name, sqltype in NEW_COLUMNS:
        op.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sqltype}")
    for ddl in INDEXES:
        op.execute(ddl)


def downgrade() -> None:
    for ddl in INDEXES:
        op.execute(f"DROP INDEX {ddl.split(' ON ')[0].split()[-1]}")
    for table, name, _ in NEW_COLUMNS:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
    for table in NEW_TABLES:
        op.execute(f"DROP TABLE {table}")

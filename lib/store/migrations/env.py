"""Alembic's entry: upgrades the connection `lib.store.migrate` hands over, or (for the
`alembic` command a developer runs to write a revision) the database AVATARLAB_DB names."""

from __future__ import annotations

from alembic import context

from lib.store.engine import make_engine


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
        return
    from lib.core.config import db_path

    with make_engine(db_path()).connect() as conn:
        context.configure(connection=conn, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()


_run()

"""`python -m lib db migrate [--db URL] [--to REVISION]` brings a database to the newest schema
(or a given revision), keeping every row; `python -m lib db copy --from URL --to URL [--json]`
moves a lab (e.g. the SQLite file to a team's PostgreSQL), then verifies every table.

A URL is a SQLite file path or `postgresql://user:password@host:port/database`; `--db`
defaults to AVATARLAB_DB."""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy.exc import DBAPIError

from lib.cli.fail import fail
from lib.core.config import db_path
from lib.store.copy import CopyError, copy_lab
from lib.store.database import Store, StoreError
from lib.store.engine import explain, make_engine, shown
from lib.store.migrate import upgrade


def _migrate(args: argparse.Namespace) -> int:
    target = args.db or db_path()
    try:
        before, after = upgrade(make_engine(target), args.to)
    except (DBAPIError, StoreError, OSError) as exc:
        return fail(f"migrate failed: {explain(target, exc)}")
    except Exception as exc:  # noqa: BLE001 - e.g. an unknown revision, said plainly
        return fail(f"migrate failed: {exc}")
    what = "already at" if before == after else f"{before or 'empty'} →"
    print(f"{shown(target)}: {what} {after}")
    return 0


def _copy(args: argparse.Namespace) -> int:
    try:
        source, target = Store(args.source), Store(args.target)
    except StoreError as exc:
        return fail(f"copy failed: {exc}")

    def progress(table: str, n: int) -> None:
        print(f"  {table}: {n} rows", file=sys.stderr)

    try:
        copied = copy_lab(source, target, None if args.json else progress)
    except (CopyError, StoreError) as exc:
        return fail(f"copy failed: {exc}")
    if args.json:
        print(json.dumps({c.table: {"rows": c.rows, "ids_sha256": c.digest} for c in copied}))
    else:
        total = sum(c.rows for c in copied)
        print(
            f"copied {total} rows in {len(copied)} tables from {source.where} to "
            f"{target.where}; every table verified (row count and ids)"
        )
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib db", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mig = sub.add_parser("migrate", help="bring a database to the newest schema")
    mig.add_argument("--db", help="a SQLite path or postgresql:// URL (default: AVATARLAB_DB)")
    mig.add_argument("--to", default="head", help="a revision (default: the newest)")
    cp = sub.add_parser("copy", help="copy every row into an empty database, then verify")
    cp.add_argument("--from", dest="source", required=True)
    cp.add_argument("--to", dest="target", required=True)
    cp.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    return _migrate(args) if args.command == "migrate" else _copy(args)

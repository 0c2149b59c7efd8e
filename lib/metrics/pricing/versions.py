"""Pricing tables in use: the built-in files plus the versions saved in the store, so every app
instance on one database prices with the same tables. For one name, the highest version wins.

Older versions of the app saved edited tables as files (`AVATARLAB_PRICING_DIR`, default
`data/pricing/`); loading imports any such file not in the database yet, so no saved table is
lost when an instance moves onto a shared database.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from lib.metrics.pricing.tables import (
    PricingError,
    PricingTable,
    builtin_versions,
    newest,
    parse_table,
)
from lib.store.database import Store
from lib.store.pricing_tables import SavedVersion, VersionTaken, insert_version, saved_versions

log = logging.getLogger(__name__)
_unreadable_warned: set[Path] = set()  # a bad legacy file is named in the log once per process


def legacy_dir() -> Path:
    """Where older versions of the app saved edited tables, one file per version."""
    return Path(os.environ.get("AVATARLAB_PRICING_DIR") or Path("data") / "pricing")


def when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def _as_table(saved: SavedVersion) -> PricingTable:
    by = saved.created_by or "an unnamed user"
    origin = f"{saved.name} v{saved.version}, saved by {by} on {when(saved.created_at)}"
    table = parse_table(saved.raw, origin)
    return replace(table, saved_by=by, saved_at=saved.created_at)


def save_table(store: Store, raw: str, created_by: str | None) -> PricingTable:
    """Validate, then save as a new version. A version that exists (built in, or saved by
    anyone on this database, even a moment ago by another instance) is refused."""
    table = parse_table(raw, "edited table")
    if any((t.name, t.version) == (table.name, table.version) for t in builtin_versions()):
        raise PricingError(f"version {table.version} of {table.name} is built in: raise `version`")
    try:
        saved = insert_version(store, table.name, table.version, raw, created_by)
    except VersionTaken as taken:
        was = taken.existing
        raise PricingError(
            f"version {was.version} of {was.name} is already saved by "
            f"{was.created_by or 'an unnamed user'} on {when(was.created_at)}: raise `version`"
        ) from None
    return _as_table(saved)


def import_legacy(store: Store, folder: Path) -> list[str]:
    """Save the folder's tables that the database lacks; the files imported. Files that do not
    parse are skipped (and named in the log): they never loaded before either."""
    if not folder.is_dir():
        return []
    known = {(t.name, t.version) for t in builtin_versions()}
    known |= {(s.name, s.version) for s in saved_versions(store)}
    imported: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            raw = path.read_text(encoding="utf-8")
            table = parse_table(raw, str(path))
        except (OSError, UnicodeDecodeError, PricingError) as exc:
            if path not in _unreadable_warned:
                _unreadable_warned.add(path)
                log.warning("pricing table %s not imported: %s", path, exc)
            continue
        if (table.name, table.version) in known:
            continue
        try:
            insert_version(store, table.name, table.version, raw, f"imported from {folder}")
        except VersionTaken:
            continue  # another instance imported it first
        known.add((table.name, table.version))
        imported.append(path.name)
    if imported:
        log.info(
            "imported %d pricing table(s) from %s into the database (%s): saved versions now "
            "live there, the folder is no longer needed",
            len(imported),
            folder,
            ", ".join(imported),
        )
    return imported


def table_versions(store: Store, name: str) -> list[PricingTable]:
    """Every version of `name`, built in and saved, lowest first."""
    tables = [t for t in builtin_versions() if t.name == name]
    tables += [_as_table(s) for s in saved_versions(store, name)]
    return sorted(tables, key=lambda t: t.version)


def load_tables(store: Store, legacy: Path | None = None) -> dict[str, PricingTable]:
    """Built-in and saved tables by name, the highest version of each; first imports the
    `legacy` folder's (default `legacy_dir()`) tables the database lacks."""
    import_legacy(store, legacy if legacy is not None else legacy_dir())
    return newest([*builtin_versions(), *(_as_table(s) for s in saved_versions(store))])

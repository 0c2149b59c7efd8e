"""Drawn avatar art kept on disk: it comes back exactly as drawn, only from a directory of
ours, and anything unreadable is drawn again."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lib.emulators.engines.face_art import stored
from lib.emulators.engines.face_art.assets import Assets, draw_assets
from lib.emulators.engines.looks import AVATARS

LOOK, W, H = AVATARS[1], 160, 90  # a small frame draws in well under a second


@pytest.fixture(scope="module")
def drawn() -> Assets:
    return draw_assets(LOOK, W, H)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    stored.build_assets.cache_clear()  # from disk, not from this process's memory
    yield tmp_path / "avatarlab" / "face-art"
    stored.build_assets.cache_clear()


def same(a: Any, b: Any) -> bool:
    """Equal all the way down, with the same types, every array read-only like a drawn one."""
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b))
            and not b.flags.writeable
        )
    if isinstance(a, dict):
        keys = [(k, tuple(map(type, k))) for k in a]
        return keys == [(k, tuple(map(type, k))) for k in b] and all(same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return type(b) is tuple and len(a) == len(b) and all(map(same, a, b))
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    return type(a) is type(b) and a == b


def test_what_was_drawn_comes_back_from_disk_as_drawn(drawn, cache_home, monkeypatch):
    cache_home.mkdir(mode=0o700, parents=True)
    stored.save(cache_home / stored.entry_name(LOOK, W, H), drawn)
    assert [p.name for p in cache_home.iterdir()] == [stored.entry_name(LOOK, W, H)]

    def no_drawing(*args: object) -> Assets:
        raise AssertionError("drawn again")

    monkeypatch.setattr(stored, "draw_assets", no_drawing)
    assert same(drawn, stored.build_assets(LOOK, W, H))


def test_a_first_build_draws_and_keeps_it_for_the_next_process(drawn, cache_home):
    built = stored.build_assets(LOOK, W, H)
    assert same(drawn, built)
    kept = stored.load(cache_home / stored.entry_name(LOOK, W, H))
    assert kept is not None and same(drawn, kept)


def test_another_look_or_size_is_another_entry_and_older_drawings_go(drawn, cache_home):
    name = stored.entry_name(LOOK, W, H)
    assert name.startswith(f"{LOOK.avatar_id}-{W}x{H}-")
    assert stored.entry_name(LOOK, W, H + 2) != name
    assert stored.entry_name(dataclasses.replace(LOOK, glasses=not LOOK.glasses), W, H) != name
    cache_home.mkdir(mode=0o700, parents=True)
    older = cache_home / f"{LOOK.avatar_id}-{W}x{H}-{'0' * 24}.npz"  # drawn by older code
    other_size = cache_home / f"{LOOK.avatar_id}-{W}x{H + 2}-{'0' * 24}.npz"
    older.write_bytes(b"old")
    other_size.write_bytes(b"old")
    stored.save(cache_home / name, drawn)
    assert sorted(p.name for p in cache_home.iterdir()) == sorted([name, other_size.name])


def test_an_unreadable_entry_is_drawn_again_and_replaced(drawn, cache_home):
    cache_home.mkdir(mode=0o700, parents=True)
    path = cache_home / stored.entry_name(LOOK, W, H)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    path.chmod(0o600)
    assert stored.load(path) is None
    assert same(drawn, stored.build_assets(LOOK, W, H))
    kept = stored.load(path)
    assert kept is not None and same(drawn, kept)


def test_a_directory_others_can_write_is_not_used(drawn, cache_home):
    cache_home.mkdir(mode=0o700, parents=True)
    cache_home.chmod(0o777)
    assert stored.art_dir() is None
    assert same(drawn, stored.build_assets(LOOK, W, H))
    assert list(cache_home.iterdir()) == []  # nothing written there
    cache_home.chmod(0o700)
    planted = cache_home / stored.entry_name(LOOK, W, H)
    stored.save(planted, drawn)
    planted.chmod(0o666)  # an entry others could have rewritten is not read
    assert stored.load(planted) is None

"""Uploaded scripts: one folder per content, written once, pruned, held while a sweep plays it,
and capped in files and bytes."""

from __future__ import annotations

import os
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from lib.runtime import script_upload as su
from lib.runtime.script import MAX_WAV_BYTES

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class File:
    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def test_the_same_upload_lands_in_the_same_folder_written_once(tmp_path):
    files = [File("s.txt", b"hello\n"), File("a.wav", b"RIFF")]
    first = su.save_uploads(files, tmp_path)
    written = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    time.sleep(0.01)
    again = su.save_uploads(list(reversed(files)), tmp_path)
    assert again == first and {p.name: p.stat().st_mtime_ns for p in again.iterdir()} == written
    other = su.save_uploads([File("s.txt", b"bye\n")], tmp_path)
    assert other != first and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.name, other.name]
    )


def test_old_folders_are_pruned_but_not_one_a_sweep_plays(tmp_path):
    now = time.time()
    olds = []
    for i in range(su.KEEP + 3):
        folder = tmp_path / f"old{i}"
        folder.mkdir()
        os.utime(folder, (now - 60 - i, now - 60 - i))  # old0 is the newest
        olds.append(folder)
    stale = tmp_path / "yesterday"
    stale.mkdir()
    os.utime(stale, (now - su.MAX_AGE_S - 1, now - su.MAX_AGE_S - 1))
    with su.hold(olds[-1]):
        removed = su.prune(tmp_path, now=now)
    assert stale in removed and olds[-1] not in removed
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f.name for f in olds[: su.KEEP]] + [olds[-1].name]
    )
    assert su.prune(tmp_path, now=now) == [olds[-1]]  # released: it goes too


def test_a_cleared_upload_is_discarded_unless_held(tmp_path):
    folder = su.save_uploads([File("s.txt", b"x\n")], tmp_path)
    with su.hold(folder):
        assert not su.discard(folder) and folder.is_dir()
    assert su.discard(folder) and not folder.exists()


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ([File("s.txt", b"")] + [File(f"{i}.wav", b"") for i in range(41)], "41 WAV files"),
        ([File("s.txt", b""), File("a.wav", b"\0" * (6 * 1024 * 1024 + 1))], "over 6 MB"),
        ([File("s.txt", b"")] + [File(f"{i}.wav", b"\0" * 5_000_000) for i in range(7)], "35 MB"),
        ([File("s.txt", b""), File("s.txt", b"x")], "s.txt is uploaded twice"),
        ([File("..", b"")], "not a plain file name"),
        ([File("a/b.txt", b"")], "not a plain file name"),
        ([File(".hidden.txt", b"")], "not a plain file name"),
    ],
)
def test_more_than_a_script_needs_is_refused_before_anything_is_written(tmp_path, files, says):
    with pytest.raises(su.UploadError, match=None) as info:
        su.save_uploads(files, tmp_path)
    assert says in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_the_servers_upload_limit_is_the_pages(tmp_path):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == su.MAX_FILE_MB
    assert MAX_WAV_BYTES <= su.MAX_FILE_BYTES  # the largest WAV a script may use fits

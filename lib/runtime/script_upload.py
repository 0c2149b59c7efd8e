"""Where an uploaded script and its WAV files are kept: one folder per upload's content under
`scripts/` beside the database, written once, reused on every rerun, and pruned.

Streamlit reruns the page on every click with the uploads still attached, so a folder per run
filled the disk; named by a hash of the names and bytes, the same upload lands in the same
folder. Old folders go (beyond the newest few, or after a day), and a page's folder goes when its
upload is cleared, except while a sweep plays it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final, Protocol

from lib.core import config
from lib.runtime.script import MAX_WAV_S

# Per file, in MB: Streamlit's `server.maxUploadSize` (.streamlit/config.toml) says the same, so
# the server refuses a bigger file before it is stored. The largest file a script can use is a
# WAV of MAX_WAV_BYTES (30 s of 48 kHz stereo); a test checks that the two agree.
MAX_FILE_MB: Final = 6
MAX_FILE_BYTES: Final = MAX_FILE_MB * 1024 * 1024
# Per upload: one script and its WAV files. The demo script has 4 turns; 40 recordings is far
# past a useful script (a text turn needs no file). 32 MB holds 40 clips of 15 s at 24 kHz mono
# (720 kB each) with room to spare, and bounds the disk at KEEP × 32 MB.
MAX_WAV_FILES: Final = 40
MAX_UPLOAD_BYTES: Final = 32 * 1024 * 1024
# Kept: the newest KEEP folders, none older than a day (a sweep playing one keeps it).
KEEP: Final = 5
MAX_AGE_S: Final = 24 * 3600

_held: Counter[Path] = Counter()  # folders a running sweep reads from
_lock = threading.Lock()


class UploadError(ValueError):
    """The upload cannot be used; the message says what to change."""


class Upload(Protocol):
    """An uploaded file (Streamlit's UploadedFile)."""

    @property
    def name(self) -> str: ...

    def getvalue(self) -> bytes: ...


def uploads_root() -> Path:
    """`scripts/` beside the database (`data/scripts` by default)."""
    return Path(config.db_path()).parent / "scripts"


def check_uploads(files: Sequence[Upload]) -> None:
    """Refuses more files or bytes than a script can need, and names that are not plain."""
    wavs = [f for f in files if f.name.lower().endswith(".wav")]
    if len(wavs) > MAX_WAV_FILES:
        raise UploadError(
            f"{len(wavs)} WAV files; a script can use up to {MAX_WAV_FILES} — upload only those "
            "it names"
        )
    names = [f.name for f in files]
    for name in names:
        if name in ("", ".", "..") or Path(name).name != name or name.startswith("."):
            raise UploadError(f"the file name {name!r} is not a plain file name; rename the file")
    twice = sorted(n for n, k in Counter(names).items() if k > 1)
    if twice:
        raise UploadError(f"{twice[0]} is uploaded twice; keep one")
    for f in files:
        size = len(f.getvalue())
        if size > MAX_FILE_BYTES:
            raise UploadError(
                f"{f.name} is over {MAX_FILE_MB} MB; a script's WAV turn can last {MAX_WAV_S:.0f} s"
            )
    total = sum(len(f.getvalue()) for f in files)
    if total > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"the upload is {total / 1e6:.0f} MB; keep a script and its WAVs under "
            f"{MAX_UPLOAD_BYTES / 1e6:.0f} MB"
        )


def content_key(files: Iterable[Upload]) -> str:
    """Names and bytes, in name order: the same upload, the same key."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f.name.encode() + b"\0" + hashlib.sha256(f.getvalue()).digest())
    return digest.hexdigest()[:16]


def save_uploads(files: Sequence[Upload], root: Path | None = None) -> Path:
    """The upload's folder: written once (atomically) for this content, then reused. Checks the
    upload first (UploadError) and prunes old folders."""
    check_uploads(files)
    root = root or uploads_root()
    folder = root / content_key(files)
    if folder.is_dir():
        os.utime(folder)  # used now: the newest are kept
    else:
        root.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
        for f in files:
            (building / f.name).write_bytes(f.getvalue())
        try:
            os.replace(building, folder)
        except OSError:  # another tab wrote the same upload first
            shutil.rmtree(building, ignore_errors=True)
    prune(root, keep=folder)
    return folder


def prune(root: Path, keep: Path | None = None, now: float | None = None) -> list[Path]:
    """Removes upload folders beyond the newest KEEP or older than MAX_AGE_S (never `keep` nor
    one a sweep plays); the folders removed. A folder still being written (its name starts with
    a dot) goes only when old: a crash left it."""
    now = time.time() if now is None else now
    ages: dict[Path, float] = {}
    with contextlib.suppress(OSError):
        for p in root.iterdir():
            with contextlib.suppress(OSError):
                if p.is_dir() and not p.is_symlink():
                    ages[p] = now - p.stat().st_mtime
    uploads = sorted((p for p in ages if not p.name.startswith(".")), key=ages.__getitem__)
    stale = {p for p, age in ages.items() if age > MAX_AGE_S} | set(uploads[KEEP:])
    removed = []
    for folder in sorted(stale):
        if folder != keep and not held(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def discard(folder: Path) -> bool:
    """Removes an upload's folder (the upload was cleared or replaced), unless a sweep plays it."""
    if held(folder) or not folder.is_dir():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def held(folder: Path) -> bool:
    with _lock:
        return _held[folder.resolve()] > 0


@contextlib.contextmanager
def hold(folder: Path | None) -> Iterator[None]:
    """While inside, `folder` is neither pruned nor discarded (a sweep reads its WAVs as each
    turn comes)."""
    if folder is None:
        yield
        return
    key = folder.resolve()
    with _lock:
        _held[key] += 1
    try:
        yield
    finally:
        with _lock:
            _held[key] -= 1
            if _held[key] <= 0:
                del _held[key]

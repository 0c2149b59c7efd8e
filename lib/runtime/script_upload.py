"""Where an uploaded script and its WAV files are kept: a new folder under data/scripts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol


class Upload(Protocol):
    """An uploaded file (Streamlit's UploadedFile)."""

    @property
    def name(self) -> str: ...

    def getvalue(self) -> bytes: ...


def save_uploads(files: Iterable[Upload]) -> Path:
    """Writes each file under its base name into a fresh folder; returns the folder."""
    folder = Path("data") / "scripts" / uuid.uuid4().hex[:12]
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / Path(f.name).name).write_bytes(f.getvalue())
    return folder

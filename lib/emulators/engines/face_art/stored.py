"""Drawn avatar art, kept on disk between processes.

Drawing one avatar at one frame size takes 3-5 s of CPU, and every local server drew it again
for its first session of that avatar (a test run starts dozens of servers: over 80 drawings,
a third of its CPU, and under load a first start took longer than a stop waits for it). The
layers and sprites are kept in this user's cache directory, one compressed .npz per (avatar,
size), named by a hash of everything that shapes them: the look, the size, the drawing code
and the numpy and Pillow versions. A changed drawing gets a new name, never a stale picture;
on writing, older entries of that (avatar, size) are removed.

Only plain arrays are read (no pickle), and only from a directory of ours that nobody else can
write; an entry that is missing, unreadable or not of this shape is drawn afresh.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import PIL

from lib.emulators.engines import looks, visemes
from lib.emulators.engines.face_art import assets as drawing
from lib.emulators.engines.face_art.assets import Assets, Blend, Sprite, draw_assets
from lib.emulators.engines.looks import AvatarLook

log = logging.getLogger(__name__)

FORMAT = 1  # of the files below: bump when `_arrays`/`_assets` change
_ART = Path(drawing.__file__).parent  # the face_art package: all of it shapes the drawing


@functools.lru_cache(maxsize=8)  # room for every avatar at the default size plus a few others
def build_assets(look: AvatarLook, width: int, height: int) -> Assets:
    """The art of `look` at `width` x `height`: from memory, else from disk, else drawn (and
    then stored for the next process)."""
    folder = art_dir()
    if folder is None:
        return draw_assets(look, width, height)
    path = folder / entry_name(look, width, height)
    found = load(path)
    if found is not None:
        return found
    made = draw_assets(look, width, height)
    save(path, made)
    return made


def entry_name(look: AvatarLook, width: int, height: int) -> str:
    digest = hashlib.sha256()
    digest.update(f"{FORMAT} {look!r} {width}x{height}".encode())
    digest.update(f" numpy {np.__version__} pillow {PIL.__version__}".encode())
    digest.update(_code_digest().encode())
    return f"{look.avatar_id}-{width}x{height}-{digest.hexdigest()[:24]}.npz"


@functools.cache
def _code_digest() -> str:
    digest = hashlib.sha256()
    sources = [*sorted(_ART.glob("*.py")), Path(looks.__file__), Path(visemes.__file__)]
    for source in sources:
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def art_dir() -> Path | None:
    """This user's directory for the entries (`$XDG_CACHE_HOME/avatarlab/face-art`, else
    under `~/.cache`), created 0700; None (draw every time) if it is not ours alone."""
    try:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(cache) / "avatarlab" / "face-art"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (OSError, RuntimeError, KeyError) as exc:  # no home, read-only, ...
        log.info("drawn avatar art is not kept on disk: %s", exc)
        return None
    why = not_ours(folder)
    if why is not None:
        log.warning("drawn avatar art is not kept in %s: %s", folder, why)
        return None
    return folder


def not_ours(path: Path) -> str | None:
    """Why `path` must not be trusted (None: ours, and only we can write it)."""
    try:
        info = path.lstat()
    except OSError as exc:
        return str(exc)
    if stat.S_ISLNK(info.st_mode):
        return "a symlink"
    if info.st_uid != os.getuid():
        return f"owned by uid {info.st_uid}"
    if info.st_mode & 0o022:
        return f"writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def load(path: Path) -> Assets | None:
    if not path.exists() or not_ours(path) is not None:
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        return _assets(arrays)
    except Exception as exc:  # noqa: BLE001 - a bad zip, a missing array, ...: draw it again
        log.warning("drawing the avatar again: %s is unreadable (%s)", path.name, exc)
        return None


def save(path: Path, art: Assets) -> None:
    """Written whole or not at all (another process may be writing the same entry)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".writing-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as out:
                named: dict[str, Any] = dict(_arrays(art))  # (numpy types **kwds as bool too)
                np.savez_compressed(out, **named)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        stem = path.name.rsplit("-", 1)[0]  # the same avatar and size, drawn by older code
        for old in path.parent.glob(f"{stem}-*.npz"):
            if old != path:
                with contextlib.suppress(OSError):
                    old.unlink()
    except OSError as exc:  # a full disk costs a drawing next time, nothing more
        log.warning("could not keep the drawn avatar in %s: %s", path.parent, exc)


# ---- Assets <-> named arrays plus a JSON index -----------------------------------------------


def _arrays(art: Assets) -> dict[str, npt.NDArray[Any]]:
    arrays: dict[str, npt.NDArray[Any]] = {}

    def blend(name: str, b: Blend) -> str:
        arrays[f"{name}.fg"], arrays[f"{name}.inv"] = b.fg, b.inv
        return name

    def sprite(s: Sprite) -> list[Any]:
        name = f"s{len(arrays)}"
        if s.rgb is not None:
            arrays[f"{name}.rgb"] = s.rgb
        elif s.blend is not None:
            blend(name, s.blend)
        return [s.x, s.y, name, s.rgb is not None]

    for i, bg in enumerate(art.backgrounds):
        arrays[f"bg{i}"] = bg
    index = {
        "backgrounds": len(art.backgrounds),
        "breath_offsets": list(art.breath_offsets),
        "head": blend("head", art.head),
        "head_xy": list(art.head_xy),
        "collar": blend("collar", art.collar),
        "collar_xy": list(art.collar_xy),
        "eyes": [[list(k), sprite(s)] for k, s in art.eyes.items()],
        "brows": [[list(k), sprite(s)] for k, s in art.brows.items()],
        "mouths": [[list(k), [sprite(s) for s in parts]] for k, parts in art.mouths.items()],
        "mouth_box": list(art.mouth_box),
        "eyes_box": list(art.eyes_box),
        "unit": art.unit,
    }
    arrays["index"] = np.frombuffer(json.dumps(index).encode(), np.uint8)
    return arrays


def _assets(arrays: dict[str, npt.NDArray[Any]]) -> Assets:
    index = json.loads(arrays["index"].tobytes())

    def ro(name: str) -> npt.NDArray[Any]:
        a = arrays[name]
        a.flags.writeable = False  # shared between renderers, as when drawn
        return a

    def blend(name: str) -> Blend:
        return Blend(ro(f"{name}.fg"), ro(f"{name}.inv"))

    def sprite(x: int, y: int, name: str, opaque: bool) -> Sprite:
        if opaque:
            return Sprite(x, y, ro(f"{name}.rgb"), None)
        return Sprite(x, y, None, blend(name))

    def pair(xs: list[int]) -> tuple[int, int]:
        return xs[0], xs[1]

    def box(xs: list[int]) -> tuple[int, int, int, int]:
        return xs[0], xs[1], xs[2], xs[3]

    return Assets(
        backgrounds=tuple(ro(f"bg{i}") for i in range(index["backgrounds"])),
        breath_offsets=tuple(index["breath_offsets"]),
        head=blend(index["head"]),
        head_xy=pair(index["head_xy"]),
        collar=blend(index["collar"]),
        collar_xy=pair(index["collar_xy"]),
        eyes={(k[0], k[1], k[2]): sprite(*s) for k, s in index["eyes"]},
        brows={(k[0], k[1]): sprite(*s) for k, s in index["brows"]},
        mouths={
            (k[0], k[1], k[2], k[3]): tuple(sprite(*s) for s in parts)
            for k, parts in index["mouths"]
        },
        mouth_box=box(index["mouth_box"]),
        eyes_box=box(index["eyes_box"]),
        unit=float(index["unit"]),
    )

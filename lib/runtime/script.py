"""Conversation scripts for sweeps and experiments: the user's turns, as text or as WAV files.

TOML (`[[turn]]` tables with `text = "…"` or `wav = "file.wav"`, optional `pause_s`), or a
plain text file with one turn per line (`wav: file.wav` for audio; `#` starts a comment).
WAV paths are relative to the script. A malformed script is refused with the line or the
turn and field at fault, and what to write instead.
"""

from __future__ import annotations

import tomllib
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from lib.bridge.agents import PERSONAS
from lib.core.text import MAX_SAY, clean
from lib.media.pcm import resample

MAX_TEXT: Final = MAX_SAY
MAX_TURNS: Final = 200
RATE: Final = 24_000


class ScriptError(ValueError):
    """The script cannot be used; the message says where and what to fix."""


@dataclass(frozen=True)
class ScriptTurn:
    text: str = ""
    wav: Path | None = None
    pause_s: float = 0.0  # quiet before this turn, after the last answer ended

    @property
    def label(self) -> str:
        return self.text if self.wav is None else f"[{self.wav.name}]"


@dataclass(frozen=True)
class Script:
    name: str
    persona: str
    turns: tuple[ScriptTurn, ...]

    @property
    def has_audio(self) -> bool:
        return any(t.wav is not None for t in self.turns)


DEMO_SCRIPT: Final = Script(
    "demo",
    "concierge",
    (
        ScriptTurn("What are your opening hours?"),
        ScriptTurn("How much does the premium plan cost?"),
        ScriptTurn("Where can I park my car?"),
        ScriptTurn("Can I get a refund if I cancel?"),
    ),
)


def _check_text(text: Any, where: str) -> str:
    if not isinstance(text, str):
        raise ScriptError(f"{where}: `text` must be a string in quotes")
    cleaned = clean(text)
    if not cleaned:
        raise ScriptError(f"{where}: the text is empty — write what the user says")
    if len(cleaned) > MAX_TEXT:
        raise ScriptError(f"{where}: the text is {len(cleaned)} characters; keep it ≤ {MAX_TEXT}")
    return cleaned


def _check_wav(value: Any, base: Path, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ScriptError(f"{where}: `wav` must be a file name in quotes")
    path = (base / value.strip()).resolve()
    if not path.is_file():
        raise ScriptError(f"{where}: no WAV file at {path}")
    try:
        with wave.open(str(path)) as w:
            if w.getsampwidth() != 2:
                raise ScriptError(f"{where}: {path.name} must be 16-bit PCM")
    except (wave.Error, EOFError) as exc:
        raise ScriptError(f"{where}: {path.name} is not a readable WAV file ({exc})") from None
    return path


def _from_toml(raw: str, base: Path, name: str) -> Script:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ScriptError(f"{name}: not valid TOML ({exc})") from None
    persona = data.get("persona", DEMO_SCRIPT.persona)
    if persona not in PERSONAS:
        raise ScriptError(f"{name}: unknown persona {persona!r}; use one of {', '.join(PERSONAS)}")
    turns_raw = data.get("turn")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise ScriptError(f'{name}: no turns — add [[turn]] tables with text = "…" or wav = "…"')
    unknown = set(data) - {"persona", "turn", "name"}
    if unknown:
        raise ScriptError(f"{name}: unknown top-level keys {sorted(unknown)}")
    turns = []
    for i, t in enumerate(turns_raw, 1):
        where = f"{name}, turn {i}"
        if not isinstance(t, dict):
            raise ScriptError(f"{where}: each turn must be a [[turn]] table")
        extra = set(t) - {"text", "wav", "pause_s"}
        if extra:
            raise ScriptError(f"{where}: unknown fields {sorted(extra)} (use text, wav, pause_s)")
        if ("text" in t) == ("wav" in t):
            raise ScriptError(f"{where}: give exactly one of `text` or `wav`")
        pause = t.get("pause_s", 0.0)
        if not isinstance(pause, int | float) or not 0 <= pause <= 60:
            raise ScriptError(f"{where}: `pause_s` must be a number of seconds from 0 to 60")
        if "text" in t:
            turns.append(ScriptTurn(_check_text(t["text"], where), pause_s=float(pause)))
        else:
            turns.append(ScriptTurn(wav=_check_wav(t["wav"], base, where), pause_s=float(pause)))
    return Script(str(data.get("name") or name), str(persona), _limit(tuple(turns), name))


def _from_lines(raw: str, base: Path, name: str) -> Script:
    turns = []
    for n, line in enumerate(raw.splitlines(), 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        where = f"{name}, line {n}"
        if body.lower().startswith("wav:"):
            turns.append(ScriptTurn(wav=_check_wav(body[4:], base, where)))
        else:
            turns.append(ScriptTurn(_check_text(body, where)))
    if not turns:
        raise ScriptError(f"{name}: no turns — write one user turn per line")
    return Script(name, DEMO_SCRIPT.persona, _limit(tuple(turns), name))


def _limit(turns: tuple[ScriptTurn, ...], name: str) -> tuple[ScriptTurn, ...]:
    if len(turns) > MAX_TURNS:
        raise ScriptError(f"{name}: {len(turns)} turns; keep a script to {MAX_TURNS}")
    return turns


def load_script(path: str | Path) -> Script:
    p = Path(path)
    if not p.is_file():
        raise ScriptError(f"no script file at {p}")
    try:
        raw = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScriptError(f"{p.name}: not UTF-8 text") from None
    if p.suffix.lower() == ".toml":
        return _from_toml(raw, p.parent, p.name)
    return _from_lines(raw, p.parent, p.name)


def read_turn_audio(path: Path) -> npt.NDArray[np.int16]:
    """A WAV turn as 24 kHz mono PCM16 (what the Realtime session takes)."""
    with wave.open(str(path)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    return resample(pcm, rate, RATE, channels=channels)

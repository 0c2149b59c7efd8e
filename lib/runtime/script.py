"""Conversation scripts for sweeps and experiments: the user's turns, as text or as WAV files.

TOML (`[[turn]]` tables with `text = "…"` or `wav = "file.wav"`, optional `pause_s`), or a
plain text file with one turn per line (`wav: file.wav` for audio; `#` starts a comment).
WAV paths are relative to the script and must stay inside its folder (a script may come from
anyone: it must not read other files of the machine). A malformed script is refused with the
line or the turn and field at fault, and what to write instead; messages name files as the
script wrote them, never by an absolute path, and say the same for any path outside the folder
whether or not it exists.
"""

from __future__ import annotations

import tomllib
import wave
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from lib.bridge.agents import PERSONAS
from lib.core.text import MAX_SAY, clean
from lib.media.pcm import resample

MAX_TEXT: Final = MAX_SAY
MAX_TURNS: Final = 200
RATE: Final = 24_000
# A script's own size: MAX_TURNS turns of MAX_TEXT characters (UTF-8, up to 4 bytes each) fit.
MAX_SCRIPT_BYTES: Final = 4 * MAX_TURNS * MAX_TEXT
# WAV turns: telephone speech (8 kHz) to studio audio (48 kHz), mono or stereo, 16-bit PCM. A
# clip outside that is not recorded speech, and resampling a 1 Hz clip to 24 kHz multiplies it.
MIN_WAV_RATE: Final = 8_000
MAX_WAV_RATE: Final = 48_000
MAX_WAV_CHANNELS: Final = 2
WAV_SAMPLE_WIDTH: Final = 2
# One spoken user turn (the test clips are 2–4 s); longer speech belongs in several turns.
MAX_WAV_S: Final = 30.0
# The largest WAV a script can use: MAX_WAV_S at the top rate and channels, plus its header.
MAX_WAV_BYTES: Final = int(MAX_WAV_S * MAX_WAV_RATE * MAX_WAV_CHANNELS * WAV_SAMPLE_WIDTH) + 4096


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
    folder: Path | None = None  # where its WAV files are (kept while a sweep plays them)

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


def _inside(value: str, base: Path, where: str) -> Path:
    """The file `value` names, resolved (symlinks followed), refused unless it is in `base`.
    The refusal reads the same whether or not the outside path exists."""
    outside = ScriptError(
        f"{where}: `wav` {value!r} is outside the script's folder — put the WAV file next to "
        "the script and give its file name"
    )
    written = PurePosixPath(value)
    if written.is_absolute() or ".." in written.parts:
        raise outside
    missing = ScriptError(f"{where}: no WAV file {value!r} in the script's folder")
    root = base.resolve()
    try:
        path = (root / written).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL in the name, a symlink loop
        raise missing from None
    if not path.is_relative_to(root):
        raise outside  # a symlink pointing out
    if not path.is_file():
        raise missing
    return path


def _wav_problem(w: wave.Wave_read) -> str | None:
    rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
    if width != WAV_SAMPLE_WIDTH:
        return "must be 16-bit PCM"
    if not MIN_WAV_RATE <= rate <= MAX_WAV_RATE:
        return f"is sampled at {rate} Hz; use {MIN_WAV_RATE} to {MAX_WAV_RATE} Hz"
    if not 1 <= channels <= MAX_WAV_CHANNELS:
        return f"has {channels} channels; use mono or stereo"
    if w.getnframes() > MAX_WAV_S * rate:
        return f"lasts {w.getnframes() / rate:.0f} s; keep a turn to {MAX_WAV_S:.0f} s"
    return None


def _check_wav(value: Any, base: Path, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ScriptError(f"{where}: `wav` must be a file name in quotes")
    written = value.strip()
    path = _inside(written, base, where)
    try:
        if path.stat().st_size > MAX_WAV_BYTES:
            raise ScriptError(
                f"{where}: {written} is over {MAX_WAV_BYTES / 1e6:.1f} MB; "
                f"keep a turn to {MAX_WAV_S:.0f} s"
            )
        with wave.open(str(path)) as w:
            problem = _wav_problem(w)
    except (wave.Error, EOFError) as exc:
        raise ScriptError(f"{where}: {written} is not a readable WAV file ({exc})") from None
    except OSError:
        raise ScriptError(f"{where}: {written} cannot be read") from None
    if problem:
        raise ScriptError(f"{where}: {written} {problem}")
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
        raise ScriptError(f"no script file {p.name!r} there: check the path")
    if p.stat().st_size > MAX_SCRIPT_BYTES:
        raise ScriptError(f"{p.name}: over {MAX_SCRIPT_BYTES // 1000} kB; is it the script?")
    try:
        raw = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScriptError(f"{p.name}: not UTF-8 text") from None
    parse = _from_toml if p.suffix.lower() == ".toml" else _from_lines
    return replace(parse(raw, p.parent, p.name), folder=p.parent.resolve())


def read_turn_audio(path: Path) -> npt.NDArray[np.int16]:
    """A WAV turn as 24 kHz mono PCM16 (what the Realtime session takes). The bounds are checked
    again: the file is read when its turn comes, and may have changed since the script loaded."""
    with wave.open(str(path)) as w:
        problem = _wav_problem(w)
        if problem:
            raise ScriptError(f"{path.name} {problem}")
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    return resample(pcm, rate, RATE, channels=channels)

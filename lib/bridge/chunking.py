"""Chunk strategies: how streamed answer text is cut into pieces for the avatar to speak.

Pure and deterministic (time is passed in). Every strategy has a stable name used in the UI,
the store and the CLI:

- `whole`            the whole answer, once it is complete
- `chars:N`          as soon as N characters are buffered, cut at the next word boundary
- `sentence:N`       at a sentence end, once the piece has at least N characters
- `clause:N`         the first piece at a clause boundary (, ; : – or sentence end) with at
                     least N characters — a fast start — then `sentence:N`
- `...+wait:MS`      any of the above, plus: text buffered for MS milliseconds is flushed up to
                     its last complete word (a slow model must not leave the avatar silent)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["whole", "chars", "sentence", "clause"]
KINDS: Final[tuple[Kind, ...]] = ("whole", "chars", "sentence", "clause")
DEFAULT_STRATEGIES: Final = ("whole", "chars:50", "sentence:20", "clause:12")
_MIN_N, _MAX_N = 1, 2000
_MIN_WAIT_MS, _MAX_WAIT_MS = 50, 60_000

# A sentence ends at . ! ? … (with closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)")
_CLAUSE_END = re.compile(r"(?:[.!?…]+[\"')\]]*|[,;:]|\s[–—-])(?=\s)")
# Abbreviations whose period does not end a sentence.
_ABBREVIATIONS: Final = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "vs", "etc", "e.g", "i.e", "approx", "no", "jr", "sr"}
)


class StrategyError(ValueError):
    """A strategy name that cannot be parsed; the message lists the valid forms."""


@dataclass(frozen=True)
class Strategy:
    kind: Kind
    n: int = 0
    wait_ms: int | None = None

    @property
    def name(self) -> str:
        base = self.kind if self.kind == "whole" else f"{self.kind}:{self.n}"
        return base if self.wait_ms is None else f"{base}+wait:{self.wait_ms}"

    def __str__(self) -> str:
        return self.name


HELP: Final = (
    "use whole, chars:N, sentence:N or clause:N, optionally followed by +wait:MS "
    "(e.g. sentence:20+wait:700)"
)


def _int(text: str, what: str, lo: int, hi: int, name: str) -> int:
    if not text.isdigit():
        raise StrategyError(f"{name!r}: {what} must be a whole number — {HELP}")
    value = int(text)
    if not lo <= value <= hi:
        raise StrategyError(f"{name!r}: {what} must be between {lo} and {hi}")
    return value


def parse_strategy(name: str) -> Strategy:
    """`sentence:20+wait:700` → Strategy('sentence', 20, 700). Raises StrategyError."""
    raw = name.strip().lower()
    if not raw:
        raise StrategyError(f"empty chunk strategy — {HELP}")
    base, _, wait_part = raw.partition("+")
    wait_ms: int | None = None
    if wait_part:
        key, _, value = wait_part.partition(":")
        if key != "wait" or not value:
            raise StrategyError(f"{name!r}: unknown modifier {wait_part!r} — {HELP}")
        wait_ms = _int(value, "the wait", _MIN_WAIT_MS, _MAX_WAIT_MS, name)
    kind, _, n_text = base.partition(":")
    if kind == "wait" and n_text and not wait_part:  # `wait:MS` alone = whole + max wait
        return Strategy("whole", 0, _int(n_text, "the wait", _MIN_WAIT_MS, _MAX_WAIT_MS, name))
    if kind not in KINDS:
        raise StrategyError(f"{name!r}: unknown strategy {kind!r} — {HELP}")
    if kind == "whole":
        if n_text:
            raise StrategyError(f"{name!r}: `whole` takes no number — {HELP}")
        return Strategy("whole", 0, wait_ms)
    if not n_text:
        raise StrategyError(f"{name!r}: {kind} needs a length, e.g. {kind}:20 — {HELP}")
    return Strategy(kind, _int(n_text, "the length", _MIN_N, _MAX_N, name), wait_ms)


def parse_strategies(names: str) -> list[Strategy]:
    """A comma-separated list (the CLI's --chunking); duplicates removed, order kept."""
    out: list[Strategy] = []
    for part in names.split(","):
        if part.strip():
            s = parse_strategy(part)
            if s not in out:
                out.append(s)
    if not out:
        raise StrategyError(f"no chunk strategy given — {HELP}")
    return out


def _is_abbreviation(text: str, end: int) -> bool:
    """Does the period just before `end` belong to an abbreviation like "Dr." or "e.g."?"""
    start = end - 1
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].rstrip(".").lower().lstrip("(\"'")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _boundaries(text: str, pattern: re.Pattern[str]) -> list[int]:
    ends = []
    for m in pattern.finditer(text):
        if m.group().endswith(".") and _is_abbreviation(text, m.end()):
            continue
        ends.append(m.end())
    return ends


class Chunker:
    """Feed deltas as they stream; get back the pieces that are ready to speak.

    `feed()` and `due()` return finished pieces (stripped, never empty). `finish()` returns
    what is left when the answer is complete. `deadline()` is when `due()` will next have
    something (for `+wait`), or None.
    """

    def __init__(self, strategy: Strategy | str) -> None:
        self.strategy = parse_strategy(strategy) if isinstance(strategy, str) else strategy
        self._buf = ""
        self._since: float | None = None  # when the oldest unsent text arrived
        self._emitted = 0

    @property
    def buffered(self) -> str:
        return self._buf

    def feed(self, delta: str, now: float) -> list[str]:
        if not delta:
            return []
        if self._since is None and delta.strip():
            self._since = now
        self._buf += delta
        return self._take(now)

    def due(self, now: float) -> list[str]:
        """Flush on max wait (call when `deadline()` has passed)."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        cut = self._last_word_end()
        if cut is None:
            return []
        return self._emit(cut, now)

    def deadline(self) -> float | None:
        wait = self.strategy.wait_ms
        if wait is None or self._since is None:
            return None
        return self._since + wait / 1000

    def finish(self) -> list[str]:
        rest, self._buf, self._since = self._buf.strip(), "", None
        if rest:
            self._emitted += 1
            return [rest]
        return []

    # ---- internals ------------------------------------------------------------------------
    def _take(self, now: float) -> list[str]:
        out: list[str] = []
        while True:
            cut = self._next_cut()
            if cut is None:
                return out
            out.extend(self._emit(cut, now))

    def _next_cut(self) -> int | None:
        s, buf = self.strategy, self._buf
        if s.kind == "whole":
            return None
        if s.kind == "chars":
            if len(buf.strip()) < s.n:
                return None
            # The first word boundary at or after N significant characters.
            lead = len(buf) - len(buf.lstrip())
            for m in re.finditer(r"\S(?=\s)", buf):
                if m.end() - lead >= s.n:
                    return m.end()
            return None
        pattern = _CLAUSE_END if (s.kind == "clause" and self._emitted == 0) else _SENTENCE_END
        for end in _boundaries(buf, pattern):
            if len(buf[:end].strip()) >= s.n:
                return end
        return None

    def _last_word_end(self) -> int | None:
        ends = [m.end() for m in re.finditer(r"\S(?=\s)", self._buf)]
        return ends[-1] if ends else None

    def _emit(self, cut: int, now: float) -> list[str]:
        piece, self._buf = self._buf[:cut].strip(), self._buf[cut:]
        self._since = now if self._buf.strip() else None
        if not piece:
            return []
        self._emitted += 1
        return [piece]


def chunk_text(text: str, strategy: Strategy | str, deltas: list[str] | None = None) -> list[str]:
    """All pieces of a complete answer (deltas as streamed, or the text in one go)."""
    chunker = Chunker(strategy)
    out: list[str] = []
    for d in deltas if deltas is not None else [text]:
        out.extend(chunker.feed(d, 0.0))
    return out + chunker.finish()

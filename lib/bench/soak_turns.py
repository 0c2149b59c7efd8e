"""Turns recorded against questions spoken, for the soak: which of the looped questions each
turn heard, the pace the tab's microphone really played them at, and the questions it played
that left no turn.

Counting from the recorded transcripts rather than from the clock: a loaded tab plays its fake
microphone file slower than real time (Chromium's file-backed capture falls behind), so a gap
of 1.5 nominal intervals is a slow tab, not a lost question. The questions alternate, so a lost
one shows as the same question twice in a row, or as a gap of about three paces.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Sequence

MATCH: float = 0.5  # word overlap (Jaccard) from which a transcript is taken as the question


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def question_of(text: str, questions: Sequence[str]) -> int | None:
    """The question a transcript heard, or None for a fragment or noise (a turn split by a
    pause, the tail of a question caught as the tab connected)."""
    said = words(text)
    if not said:
        return None
    overlap = [len(said & words(q)) / len(said | words(q)) for q in questions]
    best = max(range(len(questions)), key=overlap.__getitem__)
    return best if overlap[best] >= MATCH else None


def heard(turns: Sequence[tuple[float, str]], questions: Sequence[str]) -> list[tuple[float, int]]:
    """(time, question) of each turn that heard one of the questions, in time order."""
    out = [(at, q) for at, text in turns if (q := question_of(text, questions)) is not None]
    return sorted(out)


def pace_s(times: Sequence[float], nominal_s: float) -> float:
    """Seconds from one question to the next as the tab played them: the median step between
    heard questions (a few lost or split ones do not move it), or the file's own pace."""
    steps = [b - a for a, b in itertools.pairwise(sorted(times))]
    return statistics.median(steps) if len(steps) >= 2 else nominal_s


def gaps(seq: Sequence[tuple[float, int]], n: int, pace: float) -> list[tuple[float, int]]:
    """Where questions the microphone played left no turn, between the first and the last one
    heard (`seq`, from `heard`; `n` questions in the loop, played every `pace` seconds):
    (time of the turn before the gap, questions lost in it).

    Between two heard questions the loop moved k questions on, with k congruent to the step in
    the question order (modulo the number of questions) and k paces about equal to the time
    between them; k - 1 of them left no turn. k = 0 is one question heard as two turns."""
    out = []
    for (a, qa), (b, qb) in itertools.pairwise(seq):
        step = (qb - qa) % n
        k = step + n * max(0, round(((b - a) / pace - step) / n))
        if k > 1:
            out.append((a, k - 1))
    return out


def missed(
    turns: Sequence[tuple[float, str]], questions: Sequence[str], nominal_s: float
) -> list[tuple[float, int]]:
    """`gaps` from recorded (time, transcript) turns, at the pace the tab played them."""
    seq = heard(turns, questions)
    return gaps(seq, len(questions), pace_s([at for at, _ in seq], nominal_s))

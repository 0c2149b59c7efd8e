"""The avatar side's latency as a line: first piece ready → avatar starts talking, in ms, as
a fixed part plus a part per character of that piece (synthesis takes longer for more text).

Fitted with Theil–Sen (the median of pairwise slopes, then the median residual as the fixed
part): a cold first turn or a stalled send does not tilt the line as least squares would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

MAX_PAIRS_OF: Final = 2000  # Theil–Sen looks at n² pairs: the most recent this many points


@dataclass(frozen=True)
class AvatarModel:
    fixed_ms: float
    per_char_ms: float
    n: int

    def predict_ms(self, chars: float) -> float:
        return self.fixed_ms + self.per_char_ms * chars

    def describe(self) -> str:
        return (
            f"first piece ready → avatar talking = {self.fixed_ms:.0f} ms + "
            f"{self.per_char_ms:.2f} ms per character of the piece (Theil–Sen line over "
            f"{self.n} recorded turns)"
        )


def fit_avatar(chars: Sequence[float], delays_ms: Sequence[float]) -> AvatarModel:
    """The line through (chars of the first piece, its ready → avatar start delay). With
    fewer than 3 points, or all pieces the same length, it is flat at the median delay; a
    falling line (noise) is flattened too, as more text never starts sooner."""
    x = np.asarray(chars, dtype=float)[-MAX_PAIRS_OF:]
    y = np.asarray(delays_ms, dtype=float)[-MAX_PAIRS_OF:]
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if y.size == 0:
        raise ValueError("no recorded turns with a first piece and an avatar start to fit")
    slope = 0.0
    if y.size >= 3 and np.ptp(x) > 0:
        i, j = np.triu_indices(x.size, k=1)
        dx = x[j] - x[i]
        ok = dx != 0
        slope = max(0.0, float(np.median((y[j] - y[i])[ok] / dx[ok])))
    return AvatarModel(float(np.median(y - slope * x)), slope, int(y.size))

"""Honest comparisons of configurations: bootstrap intervals, and which differences hold.

With a handful of turns per configuration a median is a guess; these say how good a guess.

- Interval of a statistic: percentile bootstrap (resample the turns with replacement
  `RESAMPLES` times, take the 2.5th and 97.5th percentile of the resampled statistic), seeded
  so a page shows the same numbers on every rerun.
- Differences: each configuration against the fastest on a stage (lowest median): the
  bootstrap distribution of the difference of medians (each side resampled independently)
  gives a 95 % interval and a two-sided p-value; Holm's step-down correction over the
  comparisons decides which are significant (at most a 5 % chance of any false "faster").
- Turns needed: the bootstrap standard error of a median shrinks as 1/√n, so per-turn spread
  σ² = n_a·SE_a² + n_b·SE_b², and n ≈ ((z(1−α/2m) + z(0.8))·σ/Δ)² turns per configuration
  detect a difference Δ with 80 % power (α = 5 %, Bonferroni over the m comparisons).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from lib.metrics.analytics import MIN_N

RESAMPLES: Final = 10_000
LEVEL: Final = 0.95
ALPHA: Final = 0.05
POWER: Final = 0.8
SEED: Final = 20261207
BLOCK_CELLS: Final = 2_000_000  # resampled values held at once (16 MB of float64)
TABLE_COLUMNS: Final = (
    "config",
    "stage",
    "n",
    "median_ms",
    "median_lo_ms",
    "median_hi_ms",
    "p90_ms",
    "p90_lo_ms",
    "p90_hi_ms",
    "simulated",
)

Floats = npt.NDArray[np.float64]


def rng_for(*names: str, seed: int = SEED) -> np.random.Generator:
    """A generator seeded by `seed` and the names (crc32: stable across processes, unlike
    hash()), so each configuration's resamples are the same on every rerun."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def resampled(
    values: npt.ArrayLike, qs: Sequence[float], resamples: int, rng: np.random.Generator
) -> Floats:
    """Percentiles `qs` (0–100) of `resamples` bootstrap resamples: shape (len(qs), resamples).
    Vectorised in blocks so thousands of turns do not need gigabytes."""
    x = np.asarray(values, dtype=float)
    out = np.empty((len(qs), resamples))
    block = max(1, BLOCK_CELLS // max(1, x.size))
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        out[:, start:stop] = np.percentile(x[idx], qs, axis=1)
    return out


@dataclass(frozen=True)
class Estimate:
    value: float
    lo: float
    hi: float
    n: int


def interval(
    values: npt.ArrayLike,
    q: float = 50,
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    rng: np.random.Generator | None = None,
) -> Estimate:
    """The q-th percentile of `values` with its percentile-bootstrap interval."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("no values to estimate from")
    boot = resampled(x, [q], resamples, rng or rng_for())[0]
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    return Estimate(float(np.percentile(x, q)), float(lo), float(hi), int(x.size))


def compare_table(
    turns: pd.DataFrame,
    stages: Sequence[str],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> pd.DataFrame:
    """Per configuration × stage: n, median and p90 (ms) each with its 95 % bootstrap interval.
    p90 and its interval are NaN under MIN_N["p90"] turns (too few to quote one)."""
    rows = []
    tail = (1 - LEVEL) / 2 * 100
    for config, group in turns.groupby("config", sort=True) if len(turns) else ():
        for stage in stages:
            x = group[f"{stage}_ms"].dropna().to_numpy(dtype=float)
            if x.size == 0:
                continue
            boot = resampled(x, [50, 90], resamples, rng_for(str(config), stage, seed=seed))
            (m_lo, m_hi), (p_lo, p_hi) = np.percentile(boot, [tail, 100 - tail], axis=1).T
            quote_p90 = x.size >= MIN_N["p90"]
            rows.append(
                {
                    "config": str(config),
                    "stage": stage,
                    "n": int(x.size),
                    "median_ms": float(np.median(x)),
                    "median_lo_ms": float(m_lo),
                    "median_hi_ms": float(m_hi),
                    "p90_ms": float(np.percentile(x, 90)) if quote_p90 else math.nan,
                    "p90_lo_ms": float(p_lo) if quote_p90 else math.nan,
                    "p90_hi_ms": float(p_hi) if quote_p90 else math.nan,
                    "simulated": bool(group["simulated"].any()) if "simulated" in group else False,
                }
            )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


@dataclass(frozen=True)
class Difference:
    """`slower` minus `faster` in median (ms), with its interval and significance."""

    stage: str
    faster: str
    slower: str
    diff_ms: float
    lo_ms: float
    hi_ms: float
    p: float  # two-sided bootstrap p-value, uncorrected
    p_holm: float
    n_faster: int
    n_slower: int
    needed_n: int | None  # turns per configuration to detect diff_ms (None: significant)

    @property
    def significant(self) -> bool:
        return self.p_holm < ALPHA and min(self.n_faster, self.n_slower) >= MIN_N_SIGNIFICANT


# Below this many turns a configuration's bootstrap has too few distinct resamples (3 turns give
# 10) for its p-value to mean anything: no difference is called significant on them.
MIN_N_SIGNIFICANT: Final = 5


def holm(ps: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given."""
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        out[i] = running
    return out


def turns_needed(
    se_a: float, n_a: int, se_b: float, n_b: int, effect: float, comparisons: int = 1
) -> int | None:
    """Turns per configuration to detect `effect` (ms) with 80 % power at 5 % (Bonferroni
    over `comparisons`), the standard errors scaled as 1/√n from what was observed."""
    if effect == 0 or not math.isfinite(effect):
        return None
    sigma2 = n_a * se_a**2 + n_b * se_b**2
    z = NormalDist().inv_cdf(1 - ALPHA / (2 * max(1, comparisons))) + NormalDist().inv_cdf(POWER)
    return max(2, math.ceil((z / abs(effect)) ** 2 * sigma2))


def differences(
    groups: Mapping[str, npt.ArrayLike],
    stage: str,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> list[Difference]:
    """Each configuration (with at least 2 values) against the one with the lowest median."""
    data = {k: np.asarray(v, dtype=float) for k, v in groups.items()}
    data = {k: v[~np.isnan(v)] for k, v in data.items()}
    data = {k: v for k, v in sorted(data.items()) if v.size >= 2}
    if len(data) < 2:
        return []
    best = min(data, key=lambda k: float(np.median(data[k])))
    rng = rng_for(stage, *data, seed=seed)
    boot_best = resampled(data[best], [50], resamples, rng)[0]
    tail = (1 - LEVEL) / 2 * 100
    comparisons = [k for k in data if k != best]
    raw = []
    for other in comparisons:
        boot_other = resampled(data[other], [50], resamples, rng)[0]
        diff = boot_other - boot_best
        p = min(1.0, 2 * min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0))))
        lo, hi = np.percentile(diff, [tail, 100 - tail])
        ses = float(np.std(boot_best)), float(np.std(boot_other))
        raw.append((other, float(np.median(data[other]) - np.median(data[best])), lo, hi, p, ses))
    adjusted = holm([r[4] for r in raw])
    out = []
    for (other, diff_ms, lo, hi, p, (se_best, se_other)), p_holm in zip(raw, adjusted, strict=True):
        n_best, n_other = int(data[best].size), int(data[other].size)
        needed = None
        if p_holm >= ALPHA or min(n_best, n_other) < MIN_N_SIGNIFICANT:
            needed = turns_needed(se_best, n_best, se_other, n_other, diff_ms, len(raw))
            needed = None if needed is None else max(needed, MIN_N_SIGNIFICANT)
        out.append(
            Difference(
                stage,
                best,
                other,
                diff_ms,
                float(lo),
                float(hi),
                p,
                p_holm,
                n_best,
                n_other,
                needed,
            )
        )
    return out


def ms_text(value: float) -> str:
    return f"{value / 1000:.2f} s" if abs(value) >= 1000 else f"{value:.0f} ms"


def statement(diffs: Sequence[Difference]) -> list[str]:
    """Plain sentences for a product team: what is faster, by how much, and how sure."""
    if not diffs:
        return ["Too few turns to compare (at least 2 per configuration)."]
    lines = []
    for d in diffs:
        ci = f"95 % CI {ms_text(d.lo_ms)} to {ms_text(d.hi_ms)}, n={d.n_faster} vs {d.n_slower}"
        if d.significant:
            lines.append(f"{d.faster} is faster than {d.slower} by {ms_text(d.diff_ms)} ({ci}).")
        elif d.needed_n is None:
            lines.append(f"{d.faster} and {d.slower} have the same median ({ci}).")
        else:
            few = min(d.n_faster, d.n_slower) < MIN_N_SIGNIFICANT
            why = (
                f"too few turns to tell (fewer than {MIN_N_SIGNIFICANT} each)"
                if few
                else ("not significant at this sample size")
            )
            lines.append(
                f"{d.faster} vs {d.slower}: {ms_text(d.diff_ms)} apart, {why} ({ci}); about "
                f"{d.needed_n} turns per configuration would be needed to detect a "
                f"{ms_text(d.diff_ms)} difference."
            )
    if not any(d.significant for d in diffs):
        lines.insert(0, "No difference is significant at this sample size.")
    return lines


METHOD: Final = (
    f"Intervals: 95 % percentile bootstrap ({RESAMPLES:,} resamples, seeded). Each configuration "
    "is compared with the fastest on the stage; a difference is significant when its bootstrap "
    "p-value stays under 5 % after Holm's correction for the number of comparisons, with at "
    f"least {MIN_N_SIGNIFICANT} turns on each side. Turns "
    "needed: 80 % power, with the median's standard error scaled as 1/√n from the bootstrap."
)

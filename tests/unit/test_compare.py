"""Bootstrap intervals and significance (lib.metrics.compare) on distributions whose truth is
known: intervals cover the true median about as often as they claim, a clear difference is
called significant and none is when there is none, and the turns needed follow the effect."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lib.metrics.compare import (
    compare_table,
    differences,
    holm,
    interval,
    statement,
    turns_needed,
)

MU, SIGMA = 7.0, 0.35  # lognormal e2e around 1.1 s; its true median is exp(MU)


@pytest.mark.parametrize("n", [8, 30])
def test_the_median_interval_covers_the_true_median_at_about_the_nominal_rate(n):
    truth = math.exp(MU)
    trials = 400
    covered = 0
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        est = interval(rng.lognormal(MU, SIGMA, n), resamples=2000, rng=rng)
        assert est.lo <= est.value <= est.hi and est.n == n
        covered += est.lo <= truth <= est.hi
    # 95 % nominal; the percentile bootstrap of a median runs a little off at small n. A
    # p25–p75 band or a mean's interval would land far outside this.
    assert 0.88 <= covered / trials <= 0.99, covered / trials


def test_the_p90_interval_covers_the_true_p90():
    truth = math.exp(MU + SIGMA * 1.2815515655446004)
    trials = 300
    covered = sum(
        (lambda e: e.lo <= truth <= e.hi)(
            interval(
                np.random.default_rng(s).lognormal(MU, SIGMA, 60),
                90,
                resamples=2000,
                rng=np.random.default_rng(s + 10_000),
            )
        )
        for s in range(trials)
    )
    assert 0.85 <= covered / trials <= 0.99, covered / trials


def test_a_clear_difference_is_significant_and_identical_samples_are_not():
    rng = np.random.default_rng(3)
    fast = rng.normal(900, 60, 8)
    slow = fast + 400 + rng.normal(0, 30, 8)
    (d,) = differences({"sentence:20": fast, "whole": slow}, "e2e")
    assert d.faster == "sentence:20" and d.slower == "whole" and d.significant
    assert d.lo_ms > 0 and d.lo_ms <= d.diff_ms <= d.hi_ms
    assert d.diff_ms == pytest.approx(np.median(slow) - np.median(fast))
    assert d.needed_n is None
    (same,) = differences({"a": fast, "b": fast.copy()}, "e2e")
    assert not same.significant and same.p == 1.0 and same.diff_ms == 0
    assert same.lo_ms < 0 < same.hi_ms


def test_noise_is_rarely_called_significant():
    """Three configurations drawn from one distribution: Holm keeps false calls near 5 %."""
    false_calls = 0
    trials = 200
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        groups = {k: rng.lognormal(MU, SIGMA, 10) for k in ("a", "b", "c")}
        diffs = differences(groups, "e2e", resamples=1000, seed=seed)
        false_calls += any(d.significant for d in diffs)
    assert false_calls / trials <= 0.12, false_calls / trials


def test_turns_needed_shrink_as_the_effect_grows():
    rng = np.random.default_rng(5)
    base = rng.normal(1000, 150, 8)
    noise = rng.normal(0, 150, 8)
    needed = []
    for shift in (10, 20, 40):
        (d,) = differences({"a": base, "b": base + noise + shift}, "e2e")
        assert not d.significant and d.needed_n is not None
        needed.append(d.needed_n)
    assert needed[0] > needed[1] > needed[2], needed
    # n ∝ 1/Δ² for the same spread.
    assert turns_needed(100, 8, 100, 8, 50) == pytest.approx(
        4 * turns_needed(100, 8, 100, 8, 100), 0.02
    )
    assert turns_needed(20, 8, 20, 8, 0) is None


def test_turns_needed_gives_about_the_promised_power():
    """At the n it names, an effect of that size is found about 80 % of the time."""
    rng = np.random.default_rng(11)
    effect = 150.0
    pilot = {"a": rng.lognormal(MU, SIGMA, 8), "b": rng.lognormal(MU, SIGMA, 8)}
    se = [np.std([np.median(rng.choice(v, v.size)) for _ in range(2000)]) for v in pilot.values()]
    n = turns_needed(se[0], 8, se[1], 8, effect)
    assert n is not None and 5 <= n <= 200
    found = 0
    trials = 120
    for seed in range(trials):
        r = np.random.default_rng(1000 + seed)
        a = r.lognormal(MU, SIGMA, n)
        b = r.lognormal(MU, SIGMA, n) + effect
        (d,) = differences({"a": a, "b": b}, "e2e", resamples=1000, seed=seed)
        found += d.significant and d.faster == "a"
    assert 0.55 <= found / trials <= 0.97, (n, found / trials)


def test_holm_adjusts_step_down():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.9, 0.2]) == pytest.approx([0.9, 0.4])
    assert holm([0.9, 0.8]) == [1.0, 1.0]


def test_compare_table_is_seeded_and_hides_p90_under_ten_turns():
    rng = np.random.default_rng(2)
    turns = pd.DataFrame(
        {
            "config": ["text · whole"] * 8 + ["text · sentence:20"] * 12,
            "e2e_ms": rng.normal(1500, 200, 20),
            "chunking_ms": [np.nan] * 3 + list(rng.normal(300, 50, 17)),
            "simulated": [True] * 20,
        }
    )
    table = compare_table(turns, ("e2e", "chunking"), resamples=2000)
    again = compare_table(turns, ("e2e", "chunking"), resamples=2000)
    pd.testing.assert_frame_equal(table, again)
    rows = {(r.config, r.stage): r for r in table.itertuples()}
    whole, sentence = rows[("text · whole", "e2e")], rows[("text · sentence:20", "e2e")]
    assert whole.n == 8 and rows[("text · whole", "chunking")].n == 5 and sentence.n == 12
    for r in table.itertuples():
        assert r.median_lo_ms <= r.median_ms <= r.median_hi_ms
    assert math.isnan(whole.p90_ms) and math.isnan(whole.p90_lo_ms)
    assert sentence.p90_lo_ms <= sentence.p90_ms <= sentence.p90_hi_ms
    assert sentence.median_ms == pytest.approx(np.median(turns["e2e_ms"][8:]))
    assert compare_table(turns.iloc[:0], ("e2e",)).empty


def test_the_statement_says_who_is_faster_or_what_it_would_take():
    rng = np.random.default_rng(4)
    fast = rng.normal(900, 40, 8)
    clear = statement(differences({"whole": fast + 310, "sentence:20": fast}, "e2e"))
    assert clear[0].startswith("sentence:20 is faster than whole by 3")
    assert "95 % CI" in clear[0] and "n=8 vs 8" in clear[0]
    vague = statement(differences({"a": fast, "b": fast + rng.normal(0, 200, 8)}, "e2e"))
    assert vague[0] == "No difference is significant at this sample size."
    assert "turns per configuration would be needed" in vague[1]
    assert statement([]) == ["Too few turns to compare (at least 2 per configuration)."]


def test_three_turns_each_are_too_few_to_call_even_a_large_difference():
    from lib.metrics.compare import MIN_N_SIGNIFICANT, differences, statement

    small = differences({"fast": [300.0, 310.0, 320.0], "slow": [1500.0, 1510.0, 1490.0]}, "e2e")
    assert len(small) == 1 and not small[0].significant
    assert small[0].needed_n is not None and small[0].needed_n >= MIN_N_SIGNIFICANT
    text = " ".join(statement(small))
    assert "too few turns to tell" in text and "is faster than" not in text
    rng = np.random.default_rng(1)
    enough = differences({"fast": rng.normal(300, 10, 8), "slow": rng.normal(1500, 10, 8)}, "e2e")
    assert enough[0].significant and "is faster than" in " ".join(statement(enough))

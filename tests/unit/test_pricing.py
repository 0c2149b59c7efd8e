"""Pricing tables (validation with line and field) and the cost model (pure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from lib.bench.harness import ROOT
from lib.metrics.pricing.cost import (
    allocate,
    avatar_charge,
    billed_seconds,
    plan_fits,
    projection,
    session_cost,
    tokens_of,
)
from lib.metrics.pricing.tables import (
    BUILTIN_DIR,
    PricingError,
    builtin_tables,
    parse_table,
    table_in_effect,
)

TABLES = builtin_tables()
LIST = TABLES["list-2026-11"]
GOOD = (BUILTIN_DIR / "list-2026-11.toml").read_text()


def test_builtin_tables_load_with_a_source_and_date_on_every_price():
    assert {"seed-2025", "list-2024-10", "list-2026-11"} <= set(TABLES)
    for table in TABLES.values():
        entries = [*table.realtime.values(), *table.avatar.values(), *table.plans]
        entries += [*table.transcription.values(), *table.text.values()]
        assert entries or table.per_minute
        for e in entries:
            assert e.source and isinstance(e.as_of, date)


def test_history_is_priced_with_the_table_of_its_day():
    ts = lambda d: __import__("datetime").datetime(*d).timestamp()  # noqa: E731
    assert table_in_effect(TABLES, ts((2025, 6, 1))).name == "list-2024-10"
    assert table_in_effect(TABLES, ts((2026, 11, 15))).name == "list-2026-11"
    assert table_in_effect(TABLES, ts((2020, 1, 1))).name == "list-2024-10"  # before all: oldest


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (("audio_in = 32.00", "audio_in = -1"), "openai.realtime.#1.audio_in: must be between"),
        (("audio_in = 32.00", 'audio_in = "lots"'), "must be a number"),
        (('model = "gpt-realtime-2"', 'model = "gpt-realtime"'), "listed twice"),
        (("credits_per_minute = 0.2", "credits_per_minut = 0.2"), "unknown field"),
        (("increment_s = 1\n", "increment_s = 0\n"), "at least 1 second"),
        (('provider = "liveavatar"', 'provider = "tavus"'), "must be one of heygen"),
        (
            ("as_of = 2026-11-01\n\n[[openai.realtime]]", 'as_of = "soon"\n\n[[openai.realtime]]'),
            "must be a date",
        ),
        (("version = 1", "version = 0"), "version: must be a whole number"),
        (('name = "list-2026-11"', 'name = "Bad Name!"'), "use lowercase"),
    ],
)
def test_a_malformed_table_is_refused_with_the_line_and_field(edit, says):
    raw = GOOD.replace(*edit, 1)
    line = GOOD[: GOOD.index(edit[0])].count("\n") + 1  # where the edit landed
    assert raw != GOOD
    with pytest.raises(PricingError) as info:
        parse_table(raw, "edited.toml")
    message = str(info.value)
    assert says in message and "edited.toml" in message
    assert f"line {line}:" in message, message


def test_broken_toml_says_where():
    with pytest.raises(PricingError, match=r"not valid TOML.*line 2"):
        parse_table('name = "x"\nversion = = 1\n', "t.toml")


def test_seed_example_reproduces_449_and_says_where_it_does_not_hold(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lib",
            "cost",
            "--pricing",
            "seed-2025",
            "--minutes",
            "1000",
            "--json",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "AVATARLAB_DB": str(tmp_path / "lab.db"),
            "AVATARLAB_PRICING_DIR": str(tmp_path / "pricing"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["total_usd"] == pytest.approx(449, abs=1)
    assert out["avatar_usd"] == 149 and out["plan"] == "Business" and not out["plan_fits"]
    assert out["model_usd"] == {"model_audio_in": 60.0, "model_audio_out": 240.0}
    caveats = " ".join(out["caveats"])
    assert "120 minutes" in caveats and "lower bound" in caveats
    assert "two minutes of speech per minute" in caveats and "launch-era" in caveats
    assert out["at_list_prices"]["pricing"] == "list-2026-11"
    assert out["at_list_prices"]["total_usd"] < out["total_usd"]


def test_billing_rules_minimum_increments_and_escrow():
    heygen, full = LIST.avatar["heygen"], LIST.avatar["liveavatar_full"]
    assert billed_seconds(10, heygen) == 30  # 30 s minimum
    assert billed_seconds(45.2, heygen) == 46  # then 1 s increments
    assert billed_seconds(61, full) == 120  # whole minutes
    assert billed_seconds(0, full) == 0
    charge = avatar_charge(90, full)
    assert charge.credits == pytest.approx(4.0) and charge.usd == pytest.approx(0.40)
    assert charge.escrow_credits == 2.0  # one FULL minute held at start


def test_usage_is_split_into_cached_and_uncached_by_modality():
    usage = {
        "input_token_details": {
            "text_tokens": 500,
            "audio_tokens": 300,
            "cached_tokens": 600,
            "cached_tokens_details": {"text_tokens": 400, "audio_tokens": 200},
        },
        "output_token_details": {"text_tokens": 50, "audio_tokens": 120},
    }
    t = tokens_of(usage)
    assert (t.text_in, t.text_cached, t.audio_in, t.audio_cached) == (100, 400, 100, 200)
    cost = session_cost(
        LIST,
        responses=[usage, usage],
        transcriptions=[{"type": "duration", "seconds": 30}],
        avatar_seconds=[45.2],
        avatar_key="heygen",
        model="gpt-realtime",
        transcription_model="whisper-1",
        minutes=1.0,
    )
    p = LIST.realtime["gpt-realtime"]
    expected_in = 2 * (100 * p.text_in + 100 * p.audio_in) / 1e6
    assert cost.components["model_text_in"] + cost.components["model_audio_in"] == pytest.approx(
        expected_in
    )
    assert cost.components["model_audio_out"] == pytest.approx(2 * 120 * p.audio_out / 1e6)
    assert cost.components["transcription"] == pytest.approx(0.003)
    assert cost.components["avatar"] == pytest.approx(46 / 60 * 0.2 * 0.5)
    assert cost.per_minute == pytest.approx(cost.total)
    unknown = session_cost(
        LIST,
        responses=[usage],
        transcriptions=[],
        avatar_seconds=[],
        avatar_key=None,
        model="gpt-9",
        transcription_model=None,
        minutes=1,
    )
    assert "no price for model 'gpt-9'" in unknown.notes[0]


def test_plans_pick_the_cheapest_fit_and_price_overage():
    fits = {f.plan: f for f in plan_fits(LIST.plans_for("liveavatar"), 2000)}
    assert not fits["Free"].fits
    assert fits["Pro"].overage_usd == pytest.approx(990 * 0.10)
    result = projection(LIST, 1000, talk_ratio=0.5, avatar="liveavatar")
    assert result["plan_fits"] and result["avatar_credits"] == 2000
    best = min((p for p in result["plans"] if p["fits"]), key=lambda p: p["total_usd"])
    assert result["plan"] == best["plan"] and result["avatar_usd"] == best["total_usd"]
    assert result["model_usd"]["model_audio_in"] == pytest.approx(500 * 600 * 32 / 1e6, rel=0.01)
    with pytest.raises(ValueError, match="talk ratio"):
        projection(LIST, 10, talk_ratio=0)


def test_allocation_follows_turn_length():
    assert allocate(1.0, [1, 3]) == [0.25, 0.75]
    assert allocate(1.0, [0, 0]) == [0.5, 0.5]
    assert allocate(1.0, []) == []

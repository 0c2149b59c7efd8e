"""Chunk strategies: names, cut points, max wait, and streaming = whole-text equivalence."""

from __future__ import annotations

import pytest

from lib.bridge.chunking import (
    Chunker,
    Strategy,
    StrategyError,
    chunk_text,
    parse_strategies,
    parse_strategy,
)

ANSWER = (
    "We are open from 9 am to 6 pm on weekdays, and from 10 am to 4 pm on Saturday. "
    "Dr. Smith sees patients on Mondays! Is there anything else?"
)


def deltas_of(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("whole", Strategy("whole")),
        ("chars:50", Strategy("chars", 50)),
        (" Sentence:20 ", Strategy("sentence", 20)),
        ("clause:12+wait:700", Strategy("clause", 12, 700)),
        ("wait:500", Strategy("whole", 0, 500)),
    ],
)
def test_names_parse_and_round_trip(name, expected):
    parsed = parse_strategy(name)
    assert parsed == expected
    assert parse_strategy(parsed.name) == parsed


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("", "empty"),
        ("words:5", "unknown strategy"),
        ("chars", "needs a length"),
        ("chars:x", "whole number"),
        ("chars:0", "between"),
        ("whole:3", "takes no number"),
        ("sentence:20+pause:3", "unknown modifier"),
        ("sentence:20+wait:5", "between"),
    ],
)
def test_bad_names_say_what_to_fix(bad, says):
    with pytest.raises(StrategyError, match=says) as info:
        parse_strategy(bad)
    assert "sentence:20" in str(info.value) or "between" in str(info.value)


def test_strategy_lists_keep_order_and_drop_duplicates():
    got = parse_strategies("whole, sentence:20,whole,chars:50")
    assert [s.name for s in got] == ["whole", "sentence:20", "chars:50"]
    with pytest.raises(StrategyError):
        parse_strategies(" , ")


def test_whole_speaks_once_at_the_end():
    c = Chunker("whole")
    assert all(c.feed(d, 0) == [] for d in deltas_of(ANSWER))
    assert c.finish() == [ANSWER]


def test_chars_cuts_on_a_word_boundary_at_or_after_n():
    pieces = chunk_text(ANSWER, "chars:30", deltas_of(ANSWER, 4))
    assert " ".join(pieces) == ANSWER
    for p in pieces[:-1]:
        assert len(p) >= 30
        # no word was split: every piece boundary is a space in the original
        assert ANSWER[ANSWER.index(p) + len(p)] == " "


def test_sentence_respects_minimum_and_abbreviations():
    pieces = chunk_text(ANSWER, "sentence:20", deltas_of(ANSWER))
    assert pieces == [
        "We are open from 9 am to 6 pm on weekdays, and from 10 am to 4 pm on Saturday.",
        "Dr. Smith sees patients on Mondays!",
        "Is there anything else?",
    ]
    # Short sentences merge until the minimum is reached.
    assert chunk_text("Hi. Yes. I can help with that.", "sentence:10") == [
        "Hi. Yes. I can help with that."
    ]
    assert chunk_text("Hi there. Yes. I can help with that. Ok.", "sentence:8") == [
        "Hi there.",
        "Yes. I can help with that.",
        "Ok.",
    ]


def test_decimal_points_do_not_end_sentences():
    text = "The price is 3.50 dollars today. Thanks for asking."
    assert chunk_text(text, "sentence:5", deltas_of(text, 2)) == [
        "The price is 3.50 dollars today.",
        "Thanks for asking.",
    ]


def test_clause_starts_fast_then_goes_by_sentence():
    pieces = chunk_text(ANSWER, "clause:12", deltas_of(ANSWER))
    assert pieces[0] == "We are open from 9 am to 6 pm on weekdays,"
    assert pieces[1] == "and from 10 am to 4 pm on Saturday."
    assert pieces[2:] == ["Dr. Smith sees patients on Mondays!", "Is there anything else?"]


def test_the_last_sentence_waits_for_whitespace_or_finish():
    c = Chunker("sentence:5")
    assert c.feed("All done.", 0) == []  # could be "All done.5" … wait for more
    assert c.finish() == ["All done."]
    assert c.finish() == []


def test_streaming_equals_one_shot_for_every_strategy():
    for name in ("whole", "chars:20", "chars:50", "sentence:20", "clause:12"):
        streamed = chunk_text(ANSWER, name, deltas_of(ANSWER, 1))
        one_shot = chunk_text(ANSWER, name)
        assert streamed == one_shot, name
        assert " ".join(streamed) == ANSWER


def test_max_wait_flushes_complete_words_only():
    c = Chunker("sentence:20+wait:500")
    assert c.deadline() is None
    assert c.feed("Let me think about th", 10.0) == []
    assert c.deadline() == pytest.approx(10.5)
    assert c.due(10.4) == []
    assert c.due(10.5) == ["Let me think about"]
    assert c.buffered == " th"
    assert c.feed("at for a moment or two. Sure.", 10.6) == ["that for a moment or two."]
    assert c.finish() == ["Sure."]


def test_wait_alone_is_whole_with_a_deadline():
    c = Chunker("wait:200")
    assert c.feed("Hello there friend", 1.0) == []
    assert c.due(1.2) == ["Hello there"]
    assert c.finish() == ["friend"]


def test_whitespace_only_deltas_do_not_start_the_clock():
    c = Chunker("chars:5+wait:100")
    c.feed("  ", 0.0)
    assert c.deadline() is None

"""What-if replay on synthetic recorded turns, hand-computable: the chunker fed at recorded
times (lib.bridge.replay), the avatar line (lib.metrics.avatar_model), and the leave-it-out
prediction per strategy (lib.runtime.whatif)."""

from __future__ import annotations

import pytest

from lib.bridge.chunking import chunk_text, parse_strategy
from lib.bridge.replay import Piece, RecordedAnswer, first_piece_delay_ms, replay
from lib.metrics.avatar_model import fit_avatar
from lib.runtime.whatif import RecordedTurn, what_if, what_if_frame

T0 = 1_000.0
TEXT = "We open at nine. We close at six on weekdays. Saturdays we close at four."


def streamed(text: str, every_s: float = 0.05, t0: float = T0, done_after_s: float = 0.02):
    words = text.split(" ")
    deltas = tuple(
        (t0 + i * every_s, w + ("" if i == len(words) - 1 else " ")) for i, w in enumerate(words)
    )
    return RecordedAnswer(deltas, deltas[-1][0] + done_after_s)


def cut(answer: RecordedAnswer, name: str) -> list[tuple[float, str]]:
    """(ms after T0, text) of each piece, to the microsecond (float sums drift)."""
    return [(round((p.ready_at - T0) * 1000, 3), p.text) for p in replay(answer, name)]


def test_whole_is_one_piece_when_the_text_is_done():
    answer = streamed(TEXT)
    (piece,) = replay(answer, "whole")
    assert piece == Piece(answer.done_at, TEXT)
    # Without a done event, the last delta ends the answer.
    bare = RecordedAnswer(answer.deltas)
    assert replay(bare, "whole") == [Piece(answer.deltas[-1][0], TEXT)]
    assert first_piece_delay_ms(bare, replay(bare, "whole")) == pytest.approx(
        (len(TEXT.split(" ")) - 1) * 50
    )


def test_chars_cuts_when_a_word_passes_n_characters():
    answer = RecordedAnswer(
        ((T0, "Hello "), (T0 + 0.1, "there "), (T0 + 0.2, "my "), (T0 + 0.3, "friend. ")),
        T0 + 0.4,
    )
    # "Hello" is 5 < 10 characters; "there" ends at 11 and has a space after it at T0+0.1.
    assert cut(answer, "chars:10") == [
        (100, "Hello there"),
        (300, "my friend."),  # 10 characters again once "friend. " is in
    ]
    assert first_piece_delay_ms(answer, replay(answer, "chars:10")) == pytest.approx(100)


def test_wait_flushes_complete_words_at_the_deadline_between_deltas():
    # The model stalls after "Hello there": +wait:300 speaks it 300 ms after it began.
    answer = RecordedAnswer(((T0, "Hello "), (T0 + 0.1, "there "), (T0 + 1.0, "friend.")), T0 + 1.1)
    assert cut(answer, "whole+wait:300") == [(300, "Hello there"), (1100, "friend.")]
    # A half-received word stays; the next deadline runs from the flush.
    split = RecordedAnswer(((T0, "Hello "), (T0 + 0.1, "wor"), (T0 + 0.5, "ld again ")), T0 + 0.6)
    assert cut(split, "sentence:100+wait:300") == [(300, "Hello"), (600, "world again")]
    # A fast model never reaches the deadline: +wait changes nothing.
    fast = streamed(TEXT, every_s=0.01)
    assert replay(fast, "sentence:20+wait:700") == replay(fast, "sentence:20")


@pytest.mark.parametrize("name", ["sentence:20", "chars:30", "clause:12", "whole"])
def test_pieces_are_those_of_the_chunker_whatever_the_timing(name):
    answer = streamed(TEXT)
    assert [p.text for p in replay(answer, name)] == chunk_text(
        TEXT, name, [d for _, d in answer.deltas]
    )
    times = [p.ready_at for p in replay(answer, name)]
    assert times == sorted(times) and times[-1] <= answer.end_at


def test_the_avatar_line_is_recovered_and_robust_to_a_cold_turn():
    chars = [10, 20, 40, 80, 120, 160]
    delays = [300 + 2.5 * c for c in chars]
    exact = fit_avatar(chars, delays)
    assert exact.fixed_ms == pytest.approx(300) and exact.per_char_ms == pytest.approx(2.5)
    cold = fit_avatar([*chars, 30], [*delays, 5000])  # one stalled turn
    assert cold.per_char_ms == pytest.approx(2.5, rel=0.1) and cold.fixed_ms < 400
    flat = fit_avatar([50, 50, 50], [400, 500, 450])
    assert flat.per_char_ms == 0 and flat.fixed_ms == 450
    falling = fit_avatar([10, 50, 90], [600, 500, 400])
    assert falling.per_char_ms == 0 and falling.fixed_ms == 500
    assert "ms per character" in exact.describe() and "6 recorded turns" in exact.describe()
    with pytest.raises(ValueError, match="no recorded turns"):
        fit_avatar([], [])


def recorded(
    label: str, answer: RecordedAnswer, *, model_s: float, chunk: str, avatar_ms: float
) -> RecordedTurn:
    """A turn measured under `label`: its first piece was `chunk`, ready as `label` cut it."""
    first = replay(answer, label)[0]
    assert first.text == chunk
    return RecordedTurn(
        label=label,
        bridge="text",
        avatar="local",
        answer=answer,
        speech_end_at=answer.first_at - model_s,
        first_delta_at=answer.first_at,
        first_ready_at=first.ready_at,
        first_chars=float(len(chunk)),
        pieces=float(len(replay(answer, label))),
        avatar_start_at=first.ready_at + avatar_ms / 1000,
    )


def test_what_if_predicts_each_strategy_from_the_other_configurations_only():
    # Avatar: 200 ms + 2 ms per character. Model side: 0.5 s. Deltas every 50 ms.
    texts = [TEXT, "Parking is free. It is behind the building, next to the park.", TEXT]
    turns = []
    for label in ("whole", "sentence:20"):
        for i, text in enumerate(texts):
            answer = streamed(text, t0=T0 + 100 * i + (0 if label == "whole" else 50))
            first = replay(answer, label)[0].text
            turns.append(
                recorded(label, answer, model_s=0.5, chunk=first, avatar_ms=200 + 2 * len(first))
            )
    results = what_if(turns, [parse_strategy(s) for s in ("sentence:20", "whole", "chars:30")])
    by = {r.strategy: r for r in results}
    s20 = by["sentence:20"]
    assert s20.sources == ("whole",)  # never its own turns
    assert s20.avatar["local"].per_char_ms == pytest.approx(2) and s20.predicted is not None
    # "We open at nine." is under 20 characters: the first piece is "We open at nine. We close
    # at six on weekdays.", ready with its 10th word (450 ms) and spoken 200 + 2·45 ms later
    # (the median: two of the three answers are TEXT).
    assert s20.predicted.first_piece_ms == pytest.approx(450)
    assert s20.predicted.e2e_ms == pytest.approx(500 + 450 + 290)
    # TEXT in two pieces; the parking answer in one (its first sentence is under 20 characters).
    assert s20.predicted.chunks_per_turn == s20.measured.chunks_per_turn == 1.67
    for metric in ("e2e_ms", "first_piece_ms", "chunks_per_turn", "model_ms"):
        assert s20.error(metric)["abs"] == pytest.approx(0, abs=0.2)
    assert by["whole"].sources == ("sentence:20",)
    assert by["whole"].predicted.chunks_per_turn == 1
    assert by["whole"].predicted.first_piece_ms == pytest.approx(
        by["whole"].measured.first_piece_ms
    )
    chars = by["chars:30"]
    assert chars.measured is None and chars.sources == ("sentence:20", "whole")
    assert chars.predicted.turns == 6 and chars.error("e2e_ms") is None
    table = what_if_frame(results)
    assert len(table) == 12 and table["error"].notna().sum() == 8


def test_a_strategy_run_alone_cannot_be_predicted_from_itself():
    answer = streamed(TEXT)
    only = [recorded("whole", answer, model_s=0.4, chunk=TEXT, avatar_ms=500)]
    (r,) = what_if(only, [parse_strategy("whole")])
    assert r.predicted is None and r.measured is not None and r.error("e2e_ms") is None
    assert r.as_json()["predicted"] is None

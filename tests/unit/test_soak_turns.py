"""Turns recorded against questions spoken (lib.bench.soak_turns)."""

from lib.bench.soak_turns import heard, missed, pace_s, question_of

HOURS = "What are your opening hours on Saturday?"
PARK = "Where can I park my car?"
QUESTIONS = (HOURS, PARK)


def test_a_transcript_is_matched_to_its_question_despite_recognition_slips():
    assert question_of("What are you opening hours on Saturday.", QUESTIONS) == 0
    assert question_of("What are your opening hours on that day?", QUESTIONS) == 0
    assert question_of("What can I park my car?", QUESTIONS) == 1
    # Fragments (the tail of a question as the tab connected) and silence are no question.
    for fragment in ("Saturday.", "Work.", "", "   "):
        assert question_of(fragment, QUESTIONS) is None


def alternating(times: list[float]) -> list[tuple[float, str]]:
    return [(t, QUESTIONS[i % 2]) for i, t in enumerate(times)]


def test_a_tab_playing_its_file_slowly_loses_no_question():
    # Seen in the soak: 14.6 s per question in the file, ~18.5 s as a loaded tab played it,
    # with single steps up to 22 s (1.5 nominal intervals).
    times = [0.0, 18.0, 36.5, 58.7, 77.0, 95.5, 113.0]
    turns = alternating(times)
    assert missed(turns, QUESTIONS, 14.6) == []
    assert 18.0 <= pace_s([t for t, _ in heard(turns, QUESTIONS)], 14.6) <= 19.0


def test_a_lost_question_shows_as_the_same_question_twice_or_a_long_gap():
    times = [0.0, 18.0, 36.5, 55.0, 73.5, 92.0, 110.5, 129.0]
    turns = alternating(times)
    one_lost = turns[:3] + turns[4:]  # hours, park, hours, [park lost], hours, ...
    assert missed(one_lost, QUESTIONS, 14.6) == [(36.5, 1)]
    two_lost = turns[:3] + turns[5:]  # the order still alternates: the time tells
    assert missed(two_lost, QUESTIONS, 14.6) == [(36.5, 2)]
    # Order does not matter, and noise turns between them change nothing.
    noisy = [*reversed(one_lost), (40.0, "Work."), (41.0, "")]
    assert missed(noisy, QUESTIONS, 14.6) == [(36.5, 1)]


def test_one_question_heard_as_two_turns_is_not_a_loss():
    turns = alternating([0.0, 18.0, 36.5, 55.0])
    split = [*turns[:2], (20.5, PARK), *turns[2:]]  # a pause mid-question split it
    assert missed(split, QUESTIONS, 14.6) == []


def test_too_few_turns_to_measure_a_pace_fall_back_to_the_file():
    assert pace_s([5.0], 14.6) == 14.6 and pace_s([], 14.6) == 14.6
    assert missed([(0.0, HOURS), (29.2, HOURS)], QUESTIONS, 14.6) == [(0.0, 1)]
    assert missed([], QUESTIONS, 14.6) == []

from lib.bench.soak import memory_summary


def _sample(t: float, app: float, avatar: float) -> dict:
    return {"t_s": t, "rss_mb": app + avatar, "rss_mb_by_process": {"app": app, "avatar": avatar}}


def test_growth_compares_the_ends_medians_per_process_and_in_total():
    steady = [
        _sample(60, 400, 100),
        _sample(65, 460, 100),  # a spike right after warm-up is not the baseline
        _sample(70, 400, 100),
        _sample(75, 420, 100),
        _sample(80, 440, 150),
        _sample(85, 380, 150),  # a collection at the very end does not hide growth
        _sample(90, 440, 150),
    ]
    out = memory_summary(steady)
    assert out["by_process"]["app"] == {"after_warmup": 400, "end": 440, "growth_percent": 10.0}
    assert out["by_process"]["avatar"]["growth_percent"] == 50.0  # where the growth is
    assert out["total"] == {"after_warmup": 500, "end": 590, "growth_percent": 18.0}


def test_no_samples_give_no_figure_rather_than_zero():
    out = memory_summary([])
    assert out["total"]["growth_percent"] is None and out["by_process"] == {}


def test_turns_missed_counts_the_questions_hidden_in_gaps():
    from lib.bench.soak import turns_missed

    # Questions every ~14.5 s (13 and 16 s alternately); one gone after the third turn,
    # two after the fifth.
    ends = [0.0, 13.0, 29.0, 58.0, 71.0, 116.0]
    assert turns_missed(ends, 14.5) == 3
    assert turns_missed(sorted(ends, reverse=True), 14.5) == 3  # order does not matter
    assert turns_missed([0.0, 13.0, 29.0, 42.0], 14.5) == 0
    assert turns_missed([5.0], 14.5) == 0 and turns_missed([], 14.5) == 0


def test_turn_gaps_say_where_the_questions_went_missing():
    from lib.bench.soak import turn_gaps

    ends = [0.0, 13.0, 29.0, 58.0, 71.0, 116.0]
    assert turn_gaps(ends, 14.5) == [(29.0, 1), (71.0, 2)]
    assert turn_gaps([0.0, 13.0, 29.0, 42.0], 14.5) == []

from lib.bench.soak_results import memory_summary


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

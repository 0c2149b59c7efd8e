"""The live turn waterfall drawn as HTML (the Conversation page redraws it twice a second)."""

from __future__ import annotations

import re

from lib.metrics.latency import ChunkTimes, waterfall
from lib.ui.charts import waterfall_html

T = 1_000_000.0
LIVE = {
    "speech_end_at": T,
    "committed_at": T + 0.05,
    "response_created_at": T + 0.06,
    "first_delta_at": T + 0.10,
    "first_chunk_at": T + 0.40,
    "avatar_start_at": T + 0.45,
}


def bar_boxes(html: str) -> list[tuple[str, bool, float, float]]:
    """(kind, open, left %, width %) of every bar, in document order."""
    found = re.findall(
        r'class="wf-bar" data-kind="(\w+)" data-open="(\d)"[^>]*left:([\d.]+)%;'
        r"width:max\(2px,([\d.]+)%\)",
        html,
    )
    return [(k, o == "1", float(left), float(w)) for k, o, left, w in found]


def test_bars_sit_where_their_stages_are_in_time_and_open_ones_are_marked():
    chunks = [ChunkTimes(1, "Hello <b>there</b>", T + 0.40, T + 0.45, None, "speaking")]
    bars = waterfall(LIVE, chunks, now=T + 0.9)
    html = waterfall_html(bars, title="Turn 1 (open)", marker_ms=450)
    boxes = bar_boxes(html)
    assert len(boxes) == len(bars)
    longest = max(range(len(bars)), key=lambda i: bars[i].end_ms - bars[i].start_ms)
    scale = boxes[longest][3] / (bars[longest].end_ms - bars[longest].start_ms)  # % per ms
    for b, (kind, is_open, left, width) in zip(bars, boxes, strict=True):
        assert kind == b.kind and is_open == b.open
        assert abs(left - b.start_ms * scale) < 0.05
        assert abs(width - (b.end_ms - b.start_ms) * scale) < 0.05
    # The latest end (the open speaking lane at 900 ms) fits inside the track.
    assert max(left + width for _, _, left, width in boxes) < 100
    assert "repeating-linear-gradient" in html  # open bars are striped
    marker = re.search(r'class="wf-marker" style="[^"]*left:([\d.]+)%', html)
    assert marker and abs(float(marker.group(1)) - 450 * scale) < 0.05
    assert "avatar starts talking · 450 ms" in html


def test_text_from_the_conversation_is_escaped():
    chunks = [ChunkTimes(1, '<img src=x onerror="alert(1)">', T + 0.40, T + 0.45, T + 1, "done")]
    html = waterfall_html(waterfall(LIVE, chunks), title="<script>x</script>")
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x" in html and "&lt;script&gt;" in html


def test_an_empty_turn_draws_only_the_frame():
    html = waterfall_html([], title="Turn 2 (open)")
    assert bar_boxes(html) == [] and "Turn 2 (open)" in html

"""`plain`: outside text put into Streamlit's Markdown renders as exactly its characters."""

from __future__ import annotations

import html

import pytest

from lib.ui.plain_text import plain

markdown_it = pytest.importorskip("markdown_it")  # CommonMark, as Streamlit's renderer reads it

PAYLOADS = [
    "![x](http://evil.example/pixel.png)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    ":red[alarm] **bold** _it_ `code` ~~gone~~ $x^2$",
    "# heading\n- item\n1. one\n> quote\n\n    indented",
    "a \\![x](http://evil/) b",  # a backslash of its own
    "&lt;b&gt; &amp; http://evil.example/ www.evil.example",
]


def rendered(markdown: str) -> str:
    return markdown_it.MarkdownIt("commonmark").render(markdown)


@pytest.mark.parametrize("text", PAYLOADS)
def test_outside_text_renders_literally(text):
    out = rendered(plain(text))
    assert "<img" not in out and "<a " not in out and "<em>" not in out and "<h1>" not in out
    # Every character survives (whitespace aside: Markdown folds line breaks).
    shown = html.unescape(out.replace("<p>", "").replace("</p>", ""))
    assert shown.split() == text.split()


def test_plain_words_stay_readable():
    assert plain("Unauthorized") == "Unauthorized"
    assert plain("Concurrent limit reached") == "Concurrent limit reached"

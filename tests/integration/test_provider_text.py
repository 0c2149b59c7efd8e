"""Issue 24, finding 7 (provider text rendered as Markdown): a provider's error body and the
words an avatar said reach the page as text — an image link in them would otherwise load from
the user's browser — while the messages still read as before."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from streamlit.testing.v1 import AppTest

from lib.bench.harness import ROOT
from tests.integration.test_pages import shutdown, wait_state

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("webrtc_under_apptest")]
markdown_it = pytest.importorskip("markdown_it")  # CommonMark, as Streamlit's renderer reads it
IMAGE = "![x](http://127.0.0.1:9/pixel.png)"
LINK = "[click](javascript:alert(1))"


def studio(monkeypatch, base_url: str) -> AppTest:
    monkeypatch.setenv("AVATARLAB_LOCAL_HEYGEN_URL", base_url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    return at


def as_browser_shows(markdown: str) -> tuple[str, str]:
    """The HTML the Markdown becomes, and its text."""
    out = markdown_it.MarkdownIt("commonmark").render(markdown)
    text = re.sub(r"</?(p|strong)>", "", out)
    return out, html.unescape(text)


def test_a_providers_error_body_is_shown_as_text(monkeypatch, tmp_db, local_heygen):
    at = studio(monkeypatch, local_heygen.base_url)
    try:
        # The local HeyGen server, like HeyGen, echoes the unknown avatar id in its 400 body.
        at.text_input(key="custom_avatar").input(IMAGE).run()
        at.button[0].click().run()
        assert wait_state(at, ("error", "live")) == "error"
        at.run()
        (error,) = [str(e.value) for e in at.error]
        out, text = as_browser_shows(error)
        assert "<img" not in out and IMAGE in text and "Invalid parameter" in text
        hints = [str(c.value) for c in at.caption if "What to do" in str(c.value)]
        assert hints and all("<a " not in as_browser_shows(h)[0] for h in hints)
    finally:
        shutdown(at)


def test_what_the_avatar_said_is_shown_as_text(monkeypatch, tmp_db, local_heygen):
    # HeyGen streams what the avatar says word by word (`avatar_talking_message`); a "word" is
    # whatever the provider sends without a space, so the runner's transcript holds these.
    from lib.runtime.avatar_runner import AvatarRunner

    real = AvatarRunner.snapshot
    words = ("Look", IMAGE, "and", LINK, ":red[now]")
    monkeypatch.setattr(
        AvatarRunner, "snapshot", lambda self: dataclasses.replace(real(self), transcript=words)
    )
    at = studio(monkeypatch, local_heygen.base_url)
    shutdown(at)
    (line,) = [str(m.value) for m in at.markdown if "Said so far" in str(m.value)]
    out, text = as_browser_shows(line)
    assert "<img" not in out and "<a " not in out and "<strong>Said so far:</strong>" in out
    assert text.strip() == "Said so far: " + " ".join(words)

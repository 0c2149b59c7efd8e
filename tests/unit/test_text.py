"""User text: cleaned the same way everywhere, refused with what to do."""

import pytest

from lib.core.text import MAX_SAY, TextError, clean, to_say


def test_control_characters_go_and_every_script_stays():
    assert clean("Hello\x07 你好\tمرحبا\x00\n👋  ") == "Hello 你好 مرحبا 👋"
    assert clean("e\u0301") == "é"  # NFC


@pytest.mark.parametrize(
    ("text", "says"),
    [("", "nothing to say"), ("\x00\x1b \t", "nothing to say"), ("x" * (MAX_SAY + 1), "2,000")],
)
def test_unusable_text_says_what_to_do(text, says):
    with pytest.raises(TextError, match=says):
        to_say(text)
    assert to_say("x" * MAX_SAY) == "x" * MAX_SAY

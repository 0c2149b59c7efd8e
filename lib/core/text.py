"""User text before it is spoken or sent: one place for cleaning and the limits."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_SAY: Final = 2000  # characters per piece the avatar is asked to say (HeyGen's task limit)
_SPACE = re.compile(r"\s+")


class TextError(ValueError):
    """Text that cannot be used; the message says what to do."""


def clean(text: str) -> str:
    """NFC, control characters removed (tabs and newlines become spaces), runs of white
    space collapsed. Any script is kept: the voices read what they can."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch) != "Cc"
    )
    return _SPACE.sub(" ", kept).strip()


def to_say(text: str, limit: int = MAX_SAY) -> str:
    said = clean(text)
    if not said:
        raise TextError("there is nothing to say: type some words first")
    if len(said) > limit:
        raise TextError(
            f"the text is {len(said):,} characters; the limit is {limit:,}: split it into "
            "shorter parts"
        )
    return said

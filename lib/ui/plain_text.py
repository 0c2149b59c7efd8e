"""Text from outside the app (providers' error bodies, models' words, what a script or upload
names) shown as written: every place that puts such text into Streamlit's Markdown (st.error,
st.caption, st.markdown…) passes it through `plain` first.

Streamlit renders those elements as Markdown: a provider error carrying `![x](http://evil/)` would
load that image from the user's browser, and `[click](javascript:…)` or `:red[…]` would be
drawn as the sender chose. CommonMark shows any backslash-escaped ASCII punctuation literally, so
escaping all of it leaves no Markdown, colour, math or link syntax, whatever the text holds.
Lines lose their leading spaces (an indented line would start a code block; Markdown folds the
spaces anyway).
"""

from __future__ import annotations

import re
import string
from typing import Final

_PUNCTUATION: Final = re.compile("([" + re.escape(string.punctuation) + "])")


def plain(text: object) -> str:
    """`text` as a Markdown string that renders to exactly its characters."""
    lines = (line.lstrip() for line in str(text).splitlines())
    return _PUNCTUATION.sub(r"\\\1", "\n".join(lines))

"""Emotion per chunk from the text's sentiment: a small lexicon, fast enough for the hot path.

Maps to the avatar emotions HeyGen offers: excited, serious, friendly, soothing, broadcaster.
Deliberately simple and predictable; the product shows which emotion each chunk got.
"""

from __future__ import annotations

import re
from typing import Final

from lib.avatar.base import Emotion

_WORD = re.compile(r"[a-z']+")


def _lexicon(words: str) -> frozenset[str]:
    return frozenset(words.split())


_POSITIVE: Final = _lexicon(
    "great wonderful awesome fantastic excellent congratulations amazing glad happy love "
    "perfect delighted excited welcome good nice brilliant"
)
_NEGATIVE: Final = _lexicon(
    "sorry unfortunately unable cannot can't problem error failed failure delay delayed "
    "issue wrong refund cancelled canceled lost damaged declined"
)
_CALMING: Final = _lexicon("worry relax calm okay fine understand breathe gently")
_FACTUAL: Final = _lexicon(
    "price prices cost costs percent dollars hours open opens closes weather forecast "
    "trading degrees order status arrive"
)


def emotion_for(text: str, default: Emotion = "friendly") -> Emotion:
    words = _WORD.findall(text.lower())
    if not words:
        return default
    pos = sum(w in _POSITIVE for w in words)
    neg = sum(w in _NEGATIVE for w in words)
    calm = sum(w in _CALMING for w in words)
    facts = sum(w in _FACTUAL for w in words) + len(re.findall(r"\d", text)) // 2
    if neg and calm:
        return "soothing"
    if neg > pos:
        return "serious"
    if pos and ("!" in text or pos >= 2):
        return "excited"
    if facts >= 2 and not pos:
        return "broadcaster"
    return default

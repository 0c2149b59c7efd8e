"""What went wrong, said for the page: the message, and what the user can do about it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    message: str
    hint: str = ""

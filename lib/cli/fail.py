"""How a command says it could not do its work: one line on stderr, and its exit code."""

from __future__ import annotations

import sys


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code

"""One change to another library's behaviour, and the release it was checked against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Patch:
    name: str  # what it changes, in a few words (logged when active)
    distribution: str  # the library as pip names it
    checked: str  # the exact version whose code the patch was read against
    apply: Callable[[], None]  # idempotent: cheap after the first call

"""What went wrong with an avatar session, in words the page shows (message and hint)."""

from __future__ import annotations

from lib.avatar.base import AvatarError
from lib.core.config import ConfigError
from lib.core.problem import Problem


def problem_of(exc: BaseException) -> Problem:
    if isinstance(exc, AvatarError):
        return Problem(str(exc.message), exc.hint)
    if isinstance(exc, ConfigError):
        return Problem(str(exc), "open the Settings page to see which keys are set")
    if isinstance(exc, TimeoutError):
        return Problem("the provider did not answer in time", "try again")
    return Problem(f"{type(exc).__name__}: {exc}", "see the app log for details")

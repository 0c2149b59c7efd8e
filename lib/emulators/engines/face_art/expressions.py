"""Expressions and how finely the moving features are quantised into sprites."""

from __future__ import annotations

from dataclasses import dataclass

# Animation and sprite quantisation.
OPEN_LEVELS = 8
EYE_LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)
GAZES = ((0.0, 0.0), (-0.38, 0.0), (0.38, 0.0), (-0.28, -0.22), (0.3, 0.16))
SMILES = (0.0, 0.35, 0.7, 1.0)
EMOTIONS = ("excited", "serious", "friendly", "soothing", "broadcaster")


@dataclass(frozen=True)
class Expression:
    smile: int  # index into SMILES
    eye_open: float
    smiling_eyes: bool
    brow_raise: float
    brow_inner: float  # + lifts the inner ends (soft/concerned), - lowers them (stern)
    brow_arch: float
    brow_asym: float  # extra raise of one brow (confident)


EXPRESSIONS: dict[str | None, Expression] = {
    None: Expression(1, 1.0, False, 0.0, 0.0, 0.5, 0.0),
    "excited": Expression(3, 1.0, True, 1.1, 0.1, 0.85, 0.0),
    "serious": Expression(0, 0.75, False, -0.35, -0.5, 0.15, 0.0),
    "friendly": Expression(2, 1.0, True, 0.4, 0.15, 0.6, 0.0),
    "soothing": Expression(1, 0.5, False, 0.25, 0.45, 0.35, 0.0),
    "broadcaster": Expression(1, 1.0, False, 0.15, -0.05, 0.55, 0.35),
}

"""A form's choices for this browser session, kept apart from its widgets' own state.

Streamlit drops a widget's state at the end of a run that did not draw it (another page was
open, a branch of the form was hidden), so a form drawn again would be back at its defaults.
Every widget of a remembering form is keyed through `FormMemory.key`, which copies the widget's
value into the form's own entry of the session state and seeds the widget from it when the
widget has no state of its own.
"""

from __future__ import annotations

from collections.abc import Collection, MutableMapping
from typing import Any

_MISSING = object()


class FormMemory:
    def __init__(self, state: MutableMapping[str | int, Any], name: str) -> None:
        """`state`: the browser session's state (st.session_state); `name`: the form's entry."""
        self._state = state
        self.name = name

    @property
    def values(self) -> dict[str, Any]:
        """The remembered choices by field (what the conversation's record stores, too)."""
        values: dict[str, Any] | None = self._state.get(self.name)
        if values is None:
            values = {}
            self._state[self.name] = values
        return values

    def key(
        self,
        field: str,
        default: Any,
        *,
        options: Collection[Any] | None = None,
        bounds: tuple[float, float] | None = None,
    ) -> str:
        """The widget key for `field`. Call it just before drawing the widget, and give the
        widget no default of its own: its state is seeded here, from the remembered value or
        `default`. A value the widget can no longer show is not kept: one not among
        `options`, or a number outside `bounds` (clamped into them)."""
        widget = f"{self.name}.{field}"
        value = _fit(self._state.get(widget, _MISSING), options, bounds)
        if value is _MISSING:
            value = _fit(self.values.get(field, _MISSING), options, bounds)
        if value is _MISSING:
            value = default
        # Set on every run: a widget whose parameters changed (a slider's range) is a new
        # widget to Streamlit, which would start it at its own default.
        self._state[widget] = self.values[field] = value
        return widget


def _fit(value: Any, options: Collection[Any] | None, bounds: tuple[float, float] | None) -> Any:
    """`value` as the widget can show it, or _MISSING."""
    if value is _MISSING:
        return _MISSING
    if options is not None and value not in options:
        return _MISSING
    if bounds is not None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return _MISSING
        lo, hi = bounds
        return value if lo <= value <= hi else type(value)(min(max(value, lo), hi))
    return value

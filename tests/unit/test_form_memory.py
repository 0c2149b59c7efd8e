"""The form memory: widgets seeded from the browser session's copy of the choices."""

from __future__ import annotations

from typing import Any

from lib.ui.form_memory import FormMemory


def test_a_widget_without_state_starts_at_the_remembered_choice_or_the_default():
    state: dict[Any, Any] = {}
    memory = FormMemory(state, "form")
    key = memory.key("quality", "medium", options=("low", "medium", "high"))
    assert state[key] == "medium" and memory.values == {"quality": "medium"}
    state[key] = "high"  # the user picks, the next run reads it
    memory.key("quality", "medium", options=("low", "medium", "high"))
    del state[key]  # Streamlit dropped the widget's state (another page was drawn)
    assert state[memory.key("quality", "medium", options=("low", "medium", "high"))] == "high"


def test_a_choice_the_widget_cannot_show_falls_back_and_numbers_are_clamped():
    state: dict[Any, Any] = {"form": {"avatar": "Gone_public", "rate": 1.4}}
    memory = FormMemory(state, "form")
    assert state[memory.key("avatar", "Ava", options=["Ava", "Kenji"])] == "Ava"
    assert state[memory.key("rate", 1.0, bounds=(0.8, 1.2))] == 1.2
    assert memory.values == {"avatar": "Ava", "rate": 1.2}
    state["form.rate"] = "fast"  # not a number at all
    assert state[memory.key("rate", 1.0, bounds=(0.8, 1.2))] == 1.2


def test_forms_keep_their_choices_apart():
    state: dict[Any, Any] = {}
    FormMemory(state, "a").key("x", 1)
    FormMemory(state, "b").key("x", 2)
    assert state["a"] == {"x": 1} and state["b"] == {"x": 2}

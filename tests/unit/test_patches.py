"""The library patches: each read against the exact version requirements.txt pins, applied by
one call, and left out (with a warning) where another version is installed."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from lib import patches

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m:
            found[m.group(1).lower()] = m.group(2)
    return found


def test_every_patch_names_the_version_requirements_pin():
    pinned = pins()
    assert patches.PATCHES
    for patch in patches.PATCHES:
        assert pinned.get(patch.distribution.lower()) == patch.checked, (
            f"{patch.name}: read against {patch.distribution} {patch.checked}, "
            f"requirements.txt pins {pinned.get(patch.distribution.lower())}"
        )


def test_apply_all_applies_every_patch_at_the_pinned_versions():
    active = patches.apply_all()
    assert active == [p.name for p in patches.PATCHES]
    assert patches.apply_all() == active  # again: nothing new, nothing lost


def test_a_library_at_another_version_is_left_unpatched_and_said(monkeypatch, caplog):
    applied: list[str] = []
    fake = patches.Patch("a test patch", "aiortc", "0.0.1", lambda: applied.append("x"))
    monkeypatch.setattr(patches, "PATCHES", (fake,))
    monkeypatch.setattr(patches, "_reported", False)
    with caplog.at_level(logging.WARNING, logger="lib.patches"):
        active = patches.apply_all()
    assert active == [] and applied == []
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "a test patch" in warning and "0.0.1" in warning and "aiortc" in warning


@pytest.mark.parametrize("patch", patches.PATCHES, ids=lambda p: p.name)
def test_each_patch_lives_in_its_library_module_which_names_the_version(patch):
    module = ROOT / "lib" / "patches" / f"{patch.distribution.replace('-', '_')}.py"
    assert patch.apply.__module__ == f"lib.patches.{module.stem}"
    docstring = module.read_text().split('"""')[1]
    assert docstring.startswith(f"{patch.distribution} {patch.checked}"), docstring[:80]
    assert "Upstream bug" in docstring or "tunes" in docstring.lower() or "patched" in docstring


def test_a_patch_that_fails_is_logged_and_left_out_the_others_still_apply(monkeypatch, caplog):
    applied: list[str] = []

    def broken() -> None:
        raise RuntimeError("the library moved")

    pinned = pins()["aiortc"]
    monkeypatch.setattr(
        patches,
        "PATCHES",
        (
            patches.Patch("broken", "aiortc", pinned, broken),
            patches.Patch("fine", "aiortc", pinned, lambda: applied.append("fine")),
        ),
    )
    with caplog.at_level(logging.ERROR, logger="lib.patches"):
        active = patches.apply_all()
    assert active == ["fine"] and applied == ["fine"]
    assert any("broken" in r.getMessage() and r.exc_info for r in caplog.records)

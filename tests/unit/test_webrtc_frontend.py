"""The streamlit-webrtc frontend served with the single-start fix (lib.patches)."""

import filecmp
import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from lib.patches import streamlit_webrtc as wf


def test_the_fix_applies_to_the_pinned_bundle_once_each_and_stays_valid_javascript(tmp_path):
    fixed = wf.patched_dir(root=tmp_path)
    source = wf.original_dir()
    bundle = wf.start_bundle(source)
    text = (fixed / "assets" / bundle.name).read_text()
    for old, new in wf.EDITS:
        assert old not in text and text.count(new) == 1
    # Everything else is the original, byte for byte.
    others = [p.relative_to(source) for p in source.rglob("*") if p.is_file() and p != bundle]
    assert others and all(filecmp.cmp(source / p, fixed / p, shallow=False) for p in others)
    # Built once: a second call reuses the copy.
    assert wf.patched_dir(root=tmp_path) == fixed
    assert len(list(tmp_path.iterdir())) == 1
    node = shutil.which("node")
    if node:
        module = tmp_path / "bundle.mjs"
        module.write_text(text)
        check = subprocess.run([node, "--check", str(module)], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_a_bundle_the_fix_does_not_fit_is_refused():
    text = "".join(old for old, _ in wf.EDITS)
    assert wf.patch(text) != text
    with pytest.raises(wf.NotPatchable, match="0 times"):
        wf.patch(text.replace(wf.EDITS[1][0], ""))
    with pytest.raises(wf.NotPatchable, match="2 times"):
        wf.patch(text + wf.EDITS[2][0])


def unfixed(monkeypatch):
    """streamlit-webrtc's component as it declares itself (a page run in this process, e.g.
    by AppTest, may already have swapped it)."""
    from streamlit.components.v1.custom_component import CustomComponent
    from streamlit_webrtc import component

    name = "streamlit_webrtc.component.webrtc_streamer"
    own = CustomComponent(name=name, path=str(wf.original_dir()), module_name=component.__name__)
    monkeypatch.setattr(component, "_component_func", own)
    return component, own


def test_another_version_is_served_unfixed_with_a_warning(tmp_path, monkeypatch, caplog):
    component, before = unfixed(monkeypatch)
    other = tmp_path / "dist"
    shutil.copytree(wf.original_dir(), other)
    for js in (other / "assets").glob("index-*.js"):
        js.write_text(js.read_text().replace(wf.EDITS[0][0], "c.webRtcState===`STOPPED`?x("))
    monkeypatch.setattr(wf, "original_dir", lambda: other)
    with caplog.at_level(logging.WARNING, logger="lib.patches.streamlit_webrtc"):
        wf.serve_single_start_frontend()
    assert component._component_func is before
    assert "unfixed" in caplog.text


def test_the_component_keeps_its_name_and_is_swapped_once(monkeypatch, tmp_path: Path):
    component, original = unfixed(monkeypatch)
    monkeypatch.setattr(wf.tempfile, "gettempdir", lambda: str(tmp_path))
    wf.serve_single_start_frontend()
    swapped = component._component_func
    assert swapped is not original and swapped.name == original.name
    assert Path(swapped.path).parent == tmp_path
    wf.serve_single_start_frontend()
    assert component._component_func is swapped
    # A copy cleaned out of the temporary directory under a long-lived app is made again.
    shutil.rmtree(swapped.path)
    wf.serve_single_start_frontend()
    assert component._component_func.name == original.name
    assert (Path(component._component_func.path) / "index.html").exists()

